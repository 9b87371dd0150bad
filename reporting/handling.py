"""Accountability per handling agency (inter-agency routing; Decree 118/2025 Art. 20, docs/statistics.md).

The Decision 766 progress table (reporting/stats.py) counts each dossier once, for its competent
agency. When a commune's dossier is handled in part by a provincial department, this table says
who held what:

* **steps** — every workflow step an agency held (`StatStep`, written by `record_step` in the
  transaction of each transition): ended in the period early / on time / late against the step's
  own deadline, or still open at the period's end within or past it. The department's row counts
  the steps it held on the communes' dossiers.
* **step on-time rate** = (steps ended early or on time + open within their deadline) / steps × 100.
* **late dossiers charged** — each dossier that went late (finished late in the period, or running
  past its due date at the period's end) is charged to the agency holding its step at the moment
  its due date passed.
* **consultations** — requests for an agency's opinion due in the period: answered on time, late,
  or still unanswered past the deadline at the period's end (Art. 19.4c: the delay is the consulted
  agency's).

Same filters and scope as the progress table (`stats.parse_filters`); `GET /api/v1/stats/handling/`.
"""

from collections import defaultdict

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from dossiers.models import FINISHED_STATUSES, RUNNING_STATUSES, Consultation, Dossier, Outcome, Stage, judge
from procedures.models import Agency
from reporting.models import StatStep

from .api.views import AGENCY_PARAMETERS, ERRORS, StatsAPIView, agency_table_schema

COUNTS = (
    "steps",
    "steps_early",
    "steps_on_time",
    "steps_late",
    "steps_open_on_time",
    "steps_open_overdue",
    "late_dossiers",
    "consultations",
    "consultations_on_time",
    "consultations_late",
    "consultations_overdue",
)


# --- Recording (in the transaction of every transition) ------------------------------------------


def closes_step(event):
    """Whether `event` ended the dossier's step (as `dossiers.services` judges it): the creation, a
    change of stage, or the acceptance of an online submission."""
    return event.from_status is None or event.from_stage != event.to_stage or event.action == "receive"


def record_step(dossier, event):
    """Keep the dossier's `StatStep` rows after `event`: the open step ends (judged like the
    event's `step_outcome`) and, while the dossier is open, the next begins, held by the agency
    holding it now; otherwise the open step's deadline follows the dossier's (a pause moves it)."""
    holder = dossier.handling_agency_id or dossier.competent_agency_id
    # A creation (the dossier's first event) has no step yet: nothing to read.
    current = (
        StatStep.objects.filter(dossier_id=dossier.pk, ended_at__isnull=True).first()
        if event.from_status is not None
        else None
    )
    if not closes_step(event):
        if current is not None and current.due_at != dossier.step_due_at:
            current.due_at = dossier.step_due_at
            current.save(update_fields=["due_at"])
        return
    if current is not None:
        current.ended_at = event.created_at
        current.outcome = event.step_outcome or judge(event.created_at, current.due_at)
        current.save(update_fields=["ended_at", "outcome"])
    if dossier.status not in FINISHED_STATUSES and dossier.stage != Stage.CLOSED:
        StatStep.objects.create(
            dossier_id=dossier.pk,
            agency_id=holder,
            stage=dossier.stage,
            started_at=event.created_at,
            due_at=dossier.step_due_at,
        )


# --- Reading -------------------------------------------------------------------------------------


def _scoped(queryset, field, filters):
    if filters.agency_ids is not None:
        queryset = queryset.filter(**{f"{field}__in": sorted(filters.agency_ids)})
    return queryset


def holder_at(steps, moment):
    """The agency of the step (of one dossier, oldest first) that was open at `moment`."""
    for step in steps:
        if step.started_at <= moment and (step.ended_at is None or moment < step.ended_at):
            return step.agency_id
    return steps[-1].agency_id if steps else None


def handling_table(filters):
    """{"rows": [{agency, agency_name, **COUNTS, step_on_time_rate}], "total": {...}} for the period
    and scope of `filters` (stats.Filters)."""
    start, end = filters.period_start, filters.period_end
    rows = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    steps = _scoped(StatStep.objects.filter(started_at__lt=end), "agency_id", filters).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gte=start)
    )
    for agency_id, outcome, ended_at, due_at in steps.values_list("agency_id", "outcome", "ended_at", "due_at"):
        row = rows[agency_id]
        if ended_at is not None and ended_at < end:
            row["steps"] += 1
            row[{Outcome.EARLY: "steps_early", Outcome.LATE: "steps_late"}.get(outcome, "steps_on_time")] += 1
        elif ended_at is None or ended_at >= end:
            row["steps"] += 1
            row["steps_open_overdue" if due_at is not None and due_at < end else "steps_open_on_time"] += 1
    # Late dossiers, charged to the agency holding them when their due date passed (`holder_at`, in
    # SQL: one grouped query, not every late dossier's steps loaded into Python — 6,483 dossiers
    # and a 216 ms pair of queries at 100,000 dossiers, issue 20). Only dossiers with steps can be
    # charged.
    own_steps = StatStep.objects.filter(dossier_id=OuterRef("pk"))
    holding = own_steps.filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=OuterRef("due_at")), started_at__lte=OuterRef("due_at")
    )
    late = (
        Dossier.objects.filter(
            Q(finished_at__gte=start, finished_at__lt=end, finished_at__gt=F("due_at"))
            | Q(status__in=RUNNING_STATUSES, due_at__lt=end, received_at__lt=end)
        )
        .filter(Exists(own_steps))
        .annotate(
            holder=Coalesce(
                Subquery(holding.order_by("started_at", "pk").values("agency_id")[:1]),
                Subquery(own_steps.order_by("-started_at", "-pk").values("agency_id")[:1]),
            )
        )
        .order_by()
        .values("holder")
        .annotate(dossiers=Count("pk"))
    )
    for entry in late:
        agency_id = entry["holder"]
        if agency_id is not None and (filters.agency_ids is None or agency_id in filters.agency_ids):
            rows[agency_id]["late_dossiers"] += entry["dossiers"]
    # Consultations due in the period, charged to the consulted agency.
    consultations = _scoped(Consultation.objects.filter(due_at__gte=start, due_at__lt=end), "agency_id", filters)
    for agency_id, answered_at, due_at in consultations.values_list("agency_id", "answered_at", "due_at"):
        row = rows[agency_id]
        row["consultations"] += 1
        if answered_at is not None and answered_at < end:
            row["consultations_late" if answered_at > due_at else "consultations_on_time"] += 1
        elif due_at < end:
            row["consultations_overdue"] += 1
    agencies = {a.pk: a for a in Agency.objects.filter(pk__in=list(rows))}
    total = dict.fromkeys(COUNTS, 0)
    out = []
    for agency_id, counts in sorted(
        rows.items(), key=lambda item: agencies[item[0]].name if item[0] in agencies else ""
    ):
        for key in COUNTS:
            total[key] += counts[key]
        agency = agencies.get(agency_id)
        out.append(
            {"agency": agency.code if agency else None, "agency_name": agency.name if agency else "", **_rate(counts)}
        )
    return {"rows": out, "total": _rate(total)}


def _rate(counts):
    good = counts["steps_early"] + counts["steps_on_time"] + counts["steps_open_on_time"]
    return {**counts, "step_on_time_rate": round(100 * good / counts["steps"], 1) if counts["steps"] else None}


_FIELDS = {
    "steps": serializers.IntegerField(help_text="Steps the agency held that ended in the period or were open."),
    "steps_early": serializers.IntegerField(help_text="Ended on a day before the step's deadline."),
    "steps_on_time": serializers.IntegerField(help_text="Ended on the deadline's day, not after it."),
    "steps_late": serializers.IntegerField(help_text="Ended after the step's deadline."),
    "steps_open_on_time": serializers.IntegerField(help_text="Open at the period's end, within the deadline."),
    "steps_open_overdue": serializers.IntegerField(help_text="Open at the period's end, past the deadline."),
    "step_on_time_rate": serializers.FloatField(
        allow_null=True, help_text="(early + on time + open within time) / steps × 100; null without steps."
    ),
    "late_dossiers": serializers.IntegerField(
        help_text="Dossiers late in the period, charged to the agency holding them when their due date passed."
    ),
    "consultations": serializers.IntegerField(help_text="Requests for the agency's opinion due in the period."),
    "consultations_on_time": serializers.IntegerField(help_text="Answered by the deadline."),
    "consultations_late": serializers.IntegerField(help_text="Answered after the deadline."),
    "consultations_overdue": serializers.IntegerField(help_text="Unanswered and past the deadline at the end."),
}


@extend_schema_view(
    get=extend_schema(
        operation_id="stats_handling",
        summary="Per handling agency: own steps on time, late dossiers charged, consultations (Decree 118 Art. 20)",
        parameters=AGENCY_PARAMETERS,
        responses={
            200: agency_table_schema("HandlingAgencies", "HandlingAgencyRow", "HandlingAgencyTotal", _FIELDS),
            **ERRORS,
        },
    )
)
class HandlingAgencyView(StatsAPIView):
    """The accountability table per handling agency (supervisors and leaders, in their scope)."""

    def answer(self, request, filters):
        return {"from": filters.start, "to": filters.end, **handling_table(filters)}
