"""The Decision 766 progress table: definitions, filters, scope, the counters kept with every
transition, and the computations shared by the page (/thong-ke/), the API (/api/v1/stats/) and the
exports. docs/statistics.md is the long version; in short:

* A dossier enters the table when it is **accepted** (the first time it reaches status 2, "received";
  the period counts from there). Online submissions waiting for acceptance and dossiers waiting for
  the intake supplement are not in it yet; refusals or withdrawals before acceptance never are.
  Each dossier belongs to its competent agency and to its procedure's field at acceptance.
* For a period [from, to] (whole local days): **received** = carried over (accepted before `from`,
  not finished before `from`) + new (accepted in the period, by channel); **finished** in the period:
  early / on time / late (results: `dossiers.models.judge`, more than one supplement request is late),
  refused, withdrawn, stopped (each also judged: `…_late`); **in progress** / **paused** = not
  finished at the end of `to`, by the status they had then. In progress is **overdue** when the due
  date it had then is before the end of `to`, or after more than one supplement request; a paused
  dossier is judged **when the pause began** (the waiting time is not counted): overdue if the
  request (supplement or financial obligation) came after the due date or was a second supplement
  request. A dossier that ends while paused is judged the same way.
  received = finished + refused + withdrawn + stopped + in progress + paused, always.
* **On-time rate** (Decision 766) = (finished on time or early + refused, withdrawn and stopped on
  time + in progress and paused within time) / received, in percent (None when nothing was received).

The numbers never come from counting dossiers: `record()` runs in the transaction of every
transition (`dossiers.services`) and keeps `StatFact`, `StatSpan` and `StatCounter` up to date
(`dossiers.stats_models`). A period's table is then three sums over a few counter rows.
"""

import calendar
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.db import connection, connections, router, transaction
from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from dossiers.models import (
    FINISHED_STATUSES,
    OPEN_STATUSES,
    PAUSED_STATUSES,
    Dossier,
    DossierEvent,
    Outcome,
    Status,
    judge,
)
from procedures.models import Agency, Field, Membership, Role
from procedures.text import sort_key
from ratings.models import Level, Rating
from reporting.models import FinishKind, StatCounter, StatFact, StatSpan

# --- Definitions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    key: str
    group: str
    label: str
    help: str

    @property
    def full_label(self):
        return format_lazy("{}: {}", self.group, self.label)


RECEIVED, FINISHED, IN_PROGRESS, PAUSED = _("Received"), _("Finished"), _("In progress"), _("Paused")

# The table's columns in order. Keys are the API's (DESIGN.md §5), the exports' and the list links'.
METRICS = (
    Metric("received", RECEIVED, _("Total"), _("Carried over plus new in the period.")),
    Metric(
        "received_carried_over",
        RECEIVED,
        _("Carried over"),
        _("Accepted before the period and not finished before it started."),
    ),
    Metric("received_new", RECEIVED, _("New"), _("Accepted during the period.")),
    Metric("received_in_person", RECEIVED, _("In person"), _("New in the period, handed in at the desk.")),
    Metric("received_online", RECEIVED, _("Online"), _("New in the period, submitted online.")),
    Metric("received_post", RECEIVED, _("By post"), _("New in the period, received by post.")),
    Metric("finished", FINISHED, _("With a result"), _("Result ready during the period: early, on time or late.")),
    Metric("finished_early", FINISHED, _("Early"), _("Result ready on a day before the due day.")),
    Metric("finished_on_time", FINISHED, _("On time"), _("Result ready on the due day, not after the due time.")),
    Metric(
        "finished_late",
        FINISHED,
        _("Late"),
        _("Result ready after the due time, or after more than one supplement request."),
    ),
    Metric("refused", FINISHED, _("Refused"), _("Refused during the period after acceptance.")),
    Metric("refused_late", FINISHED, _("Refused late"), _("Refused after the due date (or a second supplement).")),
    Metric("withdrawn", FINISHED, _("Withdrawn"), _("Withdrawn at the applicant's request during the period.")),
    Metric(
        "withdrawn_late", FINISHED, _("Withdrawn late"), _("Withdrawn after the due date (or a second supplement).")
    ),
    Metric("stopped", FINISHED, _("Stopped"), _("Processing stopped during the period.")),
    Metric("stopped_late", FINISHED, _("Stopped late"), _("Stopped after the due date (or a second supplement).")),
    Metric("in_progress", IN_PROGRESS, _("Total"), _("Not finished and not paused at the end of the period.")),
    Metric("in_progress_on_time", IN_PROGRESS, _("On time"), _("In progress, due after the end of the period.")),
    Metric(
        "in_progress_overdue",
        IN_PROGRESS,
        _("Overdue"),
        _("In progress, due before the end of the period, or after more than one supplement request."),
    ),
    Metric("paused", PAUSED, _("Total"), _("Waiting for a supplement or a financial obligation at the period's end.")),
    Metric(
        "paused_on_time",
        PAUSED,
        _("On time"),
        _("Paused; the request came before the due date (the waiting time is not counted)."),
    ),
    Metric(
        "paused_overdue",
        PAUSED,
        _("Overdue"),
        _("Paused; the request came after the due date, or it is a second supplement request."),
    ),
)
METRIC_KEYS = tuple(m.key for m in METRICS)
METRICS_BY_KEY = {m.key: m for m in METRICS}
RATE_LABEL = _("On-time rate (%)")
OVERDUE_NOW = "overdue_now"
# Every number of the page links to the list of its dossiers: the table's metrics plus the live one.
LIST_METRICS = (*METRIC_KEYS, OVERDUE_NOW)
OVERDUE_NOW_LABEL = _("Overdue now")

# The `day` of the all-time total rows.
TOTAL_DAY = date(1, 1, 1)
# StatCounter columns.
FLOW_FIELDS = (
    "received_in_person",
    "received_online",
    "received_post",
    "finished_early",
    "finished_on_time",
    "finished_late",
    "refused",
    "withdrawn",
    "stopped",
    "refused_late",
    "withdrawn_late",
    "stopped_late",
    # Citizens' ratings of the dossiers that ended that day (see `on_rating_saved`).
    "ratings",
    "ratings_very_satisfied",
    "ratings_unsatisfied",
)
RATING_FIELDS = ("ratings", "ratings_very_satisfied", "ratings_unsatisfied")
STOCK_FIELDS = ("in_progress_on_time", "in_progress_overdue", "paused_on_time", "paused_overdue")
COUNTER_FIELDS = FLOW_FIELDS + STOCK_FIELDS
FINISH_FIELD = {
    FinishKind.EARLY: "finished_early",
    FinishKind.ON_TIME: "finished_on_time",
    FinishKind.LATE: "finished_late",
    FinishKind.REFUSED: "refused",
    FinishKind.WITHDRAWN: "withdrawn",
    FinishKind.STOPPED: "stopped",
}
RESULT_KINDS = (FinishKind.EARLY, FinishKind.ON_TIME, FinishKind.LATE)
# The other ends of processing, each judged on time or late too (counted again in `<field>_late`).
END_KINDS = (FinishKind.REFUSED, FinishKind.WITHDRAWN, FinishKind.STOPPED)
# A span's `due_on` when the dossier is overdue from the span's first day whatever the dates: a
# paused dossier judged late when the pause began, or one with more than one supplement request.
ALWAYS_OVERDUE = date(1, 1, 1)


def counts_from_sums(flows, stocks_end, stocks_start):
    """The table's numbers from the counter sums of one row (dicts of COUNTER_FIELDS → int)."""
    c = {key: flows.get(key) or 0 for key in FLOW_FIELDS}
    c.update({key: stocks_end.get(key) or 0 for key in STOCK_FIELDS})
    c["received_carried_over"] = sum(stocks_start.get(key) or 0 for key in STOCK_FIELDS)
    c["received_new"] = c["received_in_person"] + c["received_online"] + c["received_post"]
    c["received"] = c["received_carried_over"] + c["received_new"]
    c["finished"] = c["finished_early"] + c["finished_on_time"] + c["finished_late"]
    c["in_progress"] = c["in_progress_on_time"] + c["in_progress_overdue"]
    c["paused"] = c["paused_on_time"] + c["paused_overdue"]
    result = {key: c[key] for key in METRIC_KEYS}
    result["on_time_rate"] = on_time_rate(result)
    result.update({key: c[key] for key in RATING_FIELDS})
    result["satisfaction_rate"] = satisfaction_rate(result)
    return result


def satisfaction_rate(counts):
    """Ratings "very satisfied" or "satisfied" / ratings of the dossiers that ended in the period, in
    percent with one decimal; None without ratings."""
    if not counts["ratings"]:
        return None
    return round(100 * (counts["ratings"] - counts["ratings_unsatisfied"]) / counts["ratings"], 1)


def on_time_rate(counts):
    """Decision 766: (finished early or on time + refused, withdrawn and stopped on time + in
    progress and paused within time) / every dossier received and handled in the period (= received),
    in percent with one decimal; None when the period has none."""
    handled = sum(counts[key] for key in ("finished", "refused", "withdrawn", "stopped", "in_progress", "paused"))
    if not handled:
        return None
    ends_on_time = sum(counts[kind] - counts[f"{kind}_late"] for kind in ("refused", "withdrawn", "stopped"))
    on_time = (
        counts["finished_early"]
        + counts["finished_on_time"]
        + ends_on_time
        + counts["in_progress_on_time"]
        + counts["paused_on_time"]
    )
    return round(100 * on_time / handled, 1)


def add_counts(total, counts):
    for key in (*METRIC_KEYS, *RATING_FIELDS):
        total[key] = total.get(key, 0) + counts[key]
    return total


def empty_counts():
    counts = dict.fromkeys((*METRIC_KEYS, *RATING_FIELDS), 0)
    counts["on_time_rate"] = None
    counts["satisfaction_rate"] = None
    return counts


def end_is_late(kind, finished_at, due_at, supplement_requests, paused_span=None):
    """Whether a dossier that ended as `kind` ended late. Results: `judge`. Refused, withdrawn and
    stopped dossiers are judged the same way at the moment they ended, except when they ended while
    paused (`paused_span`: the due key of the paused span they left): then as that pause was judged
    when it began (the waiting time is not counted)."""
    if kind in RESULT_KINDS:
        return kind == FinishKind.LATE
    if paused_span is not None:
        return paused_span[1] is not None
    return judge(finished_at, due_at, supplement_requests) == Outcome.LATE


def finish_kind(status, finished_at, due_at, supplement_requests):
    """How a dossier that reached `status` ended, or "" while it is open."""
    if status == Status.REFUSED:
        return FinishKind.REFUSED
    if status == Status.WITHDRAWN:
        return FinishKind.WITHDRAWN
    if status == Status.STOPPED:
        return FinishKind.STOPPED
    if status in (Status.RESULT_READY, Status.RETURNED):
        return FinishKind(judge(finished_at, due_at, supplement_requests) or FinishKind.ON_TIME)
    return ""


def local_day(moment):
    return timezone.localdate(moment, timezone.get_default_timezone())


def day_start(day):
    """The aware moment a local day starts; the end of day D is day_start(D + 1 day)."""
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


# --- Periods and filters -------------------------------------------------------------------------

PERIODS = (
    ("month", _("Month")),
    ("quarter", _("Quarter")),
    ("half", _("First 6 months")),
    ("nine_months", _("First 9 months")),
    ("year", _("Year")),
    ("custom", _("From … to …")),
)
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]


def month_end(day):
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day, months):
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def preset_period(period, year, month=None, quarter=None):
    """(first day, last day) of a preset period of `year`."""
    if period == "month":
        first = date(year, month, 1)
        return first, month_end(first)
    if period == "quarter":
        first = date(year, 3 * quarter - 2, 1)
        return first, month_end(add_months(first, 2))
    last_month = {"half": 6, "nine_months": 9, "year": 12}[period]
    return date(year, 1, 1), date(year, last_month, 31 if last_month == 12 else 30)


class StatsFilterForm(forms.Form):
    """The filters every statistics view reads (page, API, exports, lists): `from` and `to` (dates),
    or a preset `period` of a `year`; `agency` (a code: that agency and every agency below it, or
    that agency alone with `exact`), `field` (a code). A period that has not ended is judged at the
    end of today: `to` is capped at today."""

    period = forms.ChoiceField(label=_("Period"), choices=[("", "—"), *PERIODS], required=False)
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100, required=False)
    month = forms.TypedChoiceField(
        label=_("Month"), coerce=int, choices=[(m, f"{m:02d}") for m in range(1, 13)], required=False
    )
    quarter = forms.TypedChoiceField(
        label=_("Quarter"), coerce=int, choices=[(q, f"{q}") for q in range(1, 5)], required=False
    )
    agency = forms.CharField(label=_("Agency"), max_length=40, required=False)
    field = forms.CharField(label=_("Field"), max_length=40, required=False)
    exact = forms.BooleanField(label=_("This agency only"), required=False)

    def __init__(self, data=None, *, today=None, **kwargs):
        super().__init__(data, **kwargs)
        self.today = today or timezone.localdate()
        # "from" is a Python keyword: these two are added by name.
        self.fields["from"] = forms.DateField(label=_("From"), input_formats=DATE_FORMATS, required=False)
        self.fields["to"] = forms.DateField(label=_("To"), input_formats=DATE_FORMATS, required=False)
        self.order_fields(["period", "year", "month", "quarter", "from", "to", "agency", "field", "exact"])

    def clean_agency(self):
        code = self.cleaned_data["agency"].strip()
        if not code:
            return None
        agency = Agency.objects.filter(code=code).first()
        if agency is None:
            raise forms.ValidationError(_("Unknown agency code “%(code)s”."), params={"code": code})
        return agency

    def clean_field(self):
        code = self.cleaned_data["field"].strip()
        if not code:
            return None
        field = Field.objects.filter(code=code).first()
        if field is None:
            raise forms.ValidationError(_("Unknown field code “%(code)s”."), params={"code": code})
        return field

    def clean(self):
        data = super().clean()
        if any(name in self.errors for name in ("period", "year", "month", "quarter", "from", "to")):
            return data
        today = self.today
        period = data.get("period") or ""
        if period and period != "custom":
            year = data.get("year") or today.year
            month = data.get("month") or today.month
            quarter = data.get("quarter") or (today.month - 1) // 3 + 1
            start, end = preset_period(period, year, month, quarter)
        else:
            end = data.get("to") or today
            start = data.get("from") or end.replace(day=1)
            if data.get("from") and data.get("to") and start > end:
                # A reversed period says so, even when it also lies in the future.
                self.add_error(
                    "to",
                    _("The period is reversed: “to” (%(end)s) is before “from” (%(start)s).")
                    % {"end": end.strftime("%d/%m/%Y"), "start": start.strftime("%d/%m/%Y")},
                )
                data["start"], data["end"] = start, start
                return data
        end = min(end, today)
        if start > today:
            self.add_error("from", _("The period starts after today: there are no numbers for it yet."))
        elif start > end:
            self.add_error("to", _("The end of the period is before its start."))
        data["start"], data["end"] = start, end
        return data


@contextmanager
def serial_plans():
    """Run the enclosed statements without parallel workers (PostgreSQL's
    `max_parallel_workers_per_gather` set to 0 for this transaction only, so it never leaks to the
    next user of a pooled connection, PgBouncer's transaction mode included; inside an outer
    transaction the previous value is put back on the way out, or by the rollback of an error).
    For reads of a few thousand rows, where starting the workers costs more than the scan they
    share. Elsewhere (SQLite) it does nothing."""
    if connection.vendor != "postgresql":
        yield
        return
    setting = "max_parallel_workers_per_gather"
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting(%s), set_config(%s, '0', true)", [setting, setting])
            previous = cursor.fetchone()[0]
        yield
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [setting, previous])


@dataclass(frozen=True)
class Filters:
    """Validated filters with the agencies the user may see among those asked for."""

    start: date
    end: date
    agency: Agency | None
    field: Field | None
    exact: bool
    # Agency ids to count, or None for every agency (a superuser without an agency filter).
    agency_ids: frozenset | None
    period: str = ""

    @property
    def period_start(self):
        return day_start(self.start)

    @property
    def period_end(self):
        return day_start(self.end + timedelta(days=1))

    def params(self, **overrides):
        """The query parameters that reproduce these filters (for links and exports)."""
        params = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        if self.agency:
            params["agency"] = self.agency.code
        if self.field:
            params["field"] = self.field.code
        if self.exact and self.agency:
            params["exact"] = "1"
        params.update(overrides)
        return {key: value for key, value in params.items() if value not in (None, "")}

    def query(self, **overrides):
        return urlencode(self.params(**overrides))

    def counter_q(self, prefix=""):
        q = Q()
        if self.agency_ids is not None:
            q &= Q(**{f"{prefix}agency_id__in": sorted(self.agency_ids)})
        if self.field is not None:
            q &= Q(**{f"{prefix}field_id": self.field.pk})
        return q


class StatsInputError(ValueError):
    """Invalid filters: `errors` maps parameter → [messages] (HTTP 400)."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


def form_errors(form):
    return {("non_field_errors" if k == "__all__" else k): [str(m) for m in v] for k, v in form.errors.items()}


def stats_scope(user):
    """Ids of the agencies whose statistics `user` may read: a supervisor's agencies and every agency
    below them, a leader's own agencies (the agencies `Dossier.objects.visible_to` shows them);
    None for a superuser (every agency). PermissionDenied for anyone else."""
    if not user or not user.is_authenticated:
        raise PermissionDenied(_("Log in to see the statistics."))
    if user.is_superuser:
        return None
    ids = set()
    memberships = Membership.objects.filter(user=user, role__in=[Role.SUPERVISOR, Role.LEADER]).select_related("agency")
    for membership in memberships:
        if membership.role == Role.SUPERVISOR:
            ids.update(membership.agency.subtree_ids())
        else:
            ids.add(membership.agency_id)
    if not ids:
        raise PermissionDenied(_("The statistics are for supervisors and leaders."))
    return frozenset(ids)


def parse_group(params, default):
    """The rows' grouping asked for by `group` (AGENCY or AGENCY_FIELD), `default` without it;
    StatsInputError (400) for another value."""
    value = (params.get("group") or "").strip()
    if not value:
        return default
    if value not in GROUPS:
        raise StatsInputError(
            {"group": [str(_("Choose “agency” (one row per agency) or “agency_field” (per agency and field)."))]}
        )
    return value


def may_see_stats(user):
    try:
        stats_scope(user)
    except PermissionDenied:
        return False
    return True


def parse_filters(params, user, *, today=None, scope=None):
    """Filters from query parameters, for `user`. Raises StatsInputError (400) for bad values and
    PermissionDenied (403) for a user without statistics or an agency outside their scope."""
    if scope is None:
        scope = stats_scope(user)
    form = StatsFilterForm(params, today=today)
    if not form.is_valid():
        raise StatsInputError(form_errors(form))
    return filters_for(form.cleaned_data, scope)


def filters_for(data, scope):
    agency, exact = data.get("agency"), bool(data.get("exact"))
    ids = scope
    if agency is not None:
        ids = {agency.pk} if exact else set(agency.subtree_ids())
        if scope is not None:
            ids &= scope
        if not ids:
            raise PermissionDenied(_("You cannot see the statistics of this agency."))
        ids = frozenset(ids)
    return Filters(
        start=data["start"],
        end=data["end"],
        agency=agency,
        field=data.get("field"),
        exact=exact and agency is not None,
        agency_ids=ids,
        period=data.get("period") or "",
    )


# --- Recording (in the transaction of every transition) ------------------------------------------


@dataclass
class Ledger:
    """What the statistics rows say about one dossier so far."""

    received_on: date | None = None
    finished_on: date | None = None
    finish_kind: str = ""
    late: bool = False
    # The open span, if any.
    span_start: date | None = None
    span_paused: bool = False
    span_due: date | None = None


def span_deltas(start, end, paused, due_on):
    """Counter deltas of a span: open at the end of every day D with start <= D < end (end None:
    still open), overdue from the end of its due day on. The switch to overdue is written on the due
    day itself, possibly in the future, so that no number changes with the passing of time."""
    deltas = Counter()
    if end is not None and end <= start:
        return deltas
    on_time, overdue = (
        ("paused_on_time", "paused_overdue") if paused else ("in_progress_on_time", "in_progress_overdue")
    )
    if due_on is not None and due_on <= start:
        deltas[(start, overdue)] += 1
        last = overdue
    else:
        deltas[(start, on_time)] += 1
        last = on_time
        if due_on is not None and (end is None or due_on < end):
            deltas[(due_on, on_time)] -= 1
            deltas[(due_on, overdue)] += 1
            last = overdue
    if end is not None:
        deltas[(end, last)] -= 1
    return deltas


def _merge(deltas, other, sign=1):
    for key, value in other.items():
        deltas[key] += sign * value


def span_key(ledger, *, at, status, from_status, due_at, supplement_requests):
    """(paused, due day) of the span a dossier in `status` belongs to right after an event at `at`,
    or None when it is not open. In progress: the due day, or ALWAYS_OVERDUE after more than one
    supplement request. Paused: judged when the pause began (`judge` at that moment: a request after
    the due date, or a second supplement request, is late → ALWAYS_OVERDUE; else None: within time
    however long the wait); an event during the pause (an extension letter) keeps that judgement."""
    if status not in OPEN_STATUSES:
        return None
    if status in PAUSED_STATUSES:
        if from_status in PAUSED_STATUSES and ledger.span_start is not None and ledger.span_paused:
            return ledger.span_paused, ledger.span_due
        late = judge(at, due_at, supplement_requests) == Outcome.LATE
        return True, ALWAYS_OVERDUE if late else None
    if supplement_requests > 1:
        return False, ALWAYS_OVERDUE
    return False, local_day(due_at) if due_at else None


def advance(ledger, *, at, status, from_status, received_at, due_at, finished_at, supplement_requests, channel):
    """Bring `ledger` to the dossier's situation right after an event at `at` (status and dates as
    they are after the event, `from_status` the status before it). Returns (deltas, closed_span,
    opened) where deltas maps (day, counter field) → change, closed_span is (start, end, paused,
    due) of the span that ended (start == end: it covered no day end) and opened tells whether a new
    open span began."""
    deltas = Counter()
    closed, opened = None, False
    if ledger.received_on is None:
        if received_at is None:
            return deltas, closed, opened  # not accepted yet: not in the table
        ledger.received_on = local_day(received_at)
        deltas[(ledger.received_on, f"received_{channel}")] += 1
    day = local_day(at)
    desired = span_key(
        ledger, at=at, status=status, from_status=from_status, due_at=due_at, supplement_requests=supplement_requests
    )
    current = (ledger.span_paused, ledger.span_due) if ledger.span_start is not None else None
    if desired != current:
        if current is not None:
            start, paused, due = ledger.span_start, ledger.span_paused, ledger.span_due
            _merge(deltas, span_deltas(start, None, paused, due), -1)
            _merge(deltas, span_deltas(start, day, paused, due))
            closed = (start, day, paused, due)
            ledger.span_start = None
        if desired is not None:
            ledger.span_start, (ledger.span_paused, ledger.span_due) = day, desired
            _merge(deltas, span_deltas(day, None, *desired))
            opened = True
    if status in FINISHED_STATUSES and ledger.finished_on is None:
        ledger.finished_on = day
        ledger.finish_kind = finish_kind(status, finished_at, due_at, supplement_requests)
        paused_span = current if current is not None and current[0] else None
        ledger.late = end_is_late(ledger.finish_kind, finished_at, due_at, supplement_requests, paused_span)
        field = FINISH_FIELD[ledger.finish_kind]
        deltas[(day, field)] += 1
        if ledger.late and ledger.finish_kind in END_KINDS:
            deltas[(day, f"{field}_late")] += 1
    return deltas, closed, opened


def record(dossier, event):
    """Keep the statistics rows of `dossier` up to date after `event` (called by
    `dossiers.services` in the transaction of the change, with the dossier row locked)."""
    if dossier.received_at is None:
        return
    # A creation (the dossier's first event) has no statistics rows yet: nothing to read.
    fact = StatFact.objects.filter(pk=dossier.pk).first() if event.from_status is not None else None
    span = StatSpan.objects.filter(dossier_id=dossier.pk, end_on__isnull=True).first() if fact else None
    ledger = Ledger()
    if fact is not None:
        ledger = Ledger(
            received_on=fact.received_on, finished_on=fact.finished_on, finish_kind=fact.finish_kind, late=fact.late
        )
    if span is not None:
        ledger.span_start, ledger.span_paused, ledger.span_due = span.start_on, span.paused, span.due_on
    deltas, closed, opened = advance(
        ledger,
        at=event.created_at,
        status=dossier.status,
        from_status=event.from_status,
        received_at=dossier.received_at,
        due_at=dossier.due_at,
        finished_at=dossier.finished_at,
        supplement_requests=dossier.supplement_requests,
        channel=fact.channel if fact else dossier.channel,
    )
    if fact is None:
        fact = StatFact.objects.create(
            dossier=dossier,
            agency_id=dossier.competent_agency_id,
            field_id=dossier.procedure.field_id,
            channel=dossier.channel,
            received_on=ledger.received_on,
            finished_on=ledger.finished_on,
            finish_kind=ledger.finish_kind,
            late=ledger.late,
        )
    elif fact.finished_on != ledger.finished_on:
        fact.finished_on, fact.finish_kind, fact.late = ledger.finished_on, ledger.finish_kind, ledger.late
        fact.save(update_fields=["finished_on", "finish_kind", "late"])
    if closed is not None and span is not None:
        if closed[0] == closed[1]:
            span.delete()
        else:
            span.end_on = closed[1]
            span.save(update_fields=["end_on"])
    if opened:
        StatSpan.objects.create(
            dossier=dossier, start_on=ledger.span_start, paused=ledger.span_paused, due_on=ledger.span_due
        )
    write_counters(fact.agency_id, fact.field_id, deltas)


def counter_rows(deltas):
    """{(grain, day): Counter(field → change)} for deltas {(day, field): change}: each change is
    written on its day, on its month and on the all-time total."""
    rows = defaultdict(Counter)
    for (day, name), value in deltas.items():
        if value:
            rows[(StatCounter.Grain.DAY.value, day)][name] += value
            rows[(StatCounter.Grain.MONTH.value, day.replace(day=1))][name] += value
            rows[(StatCounter.Grain.TOTAL.value, TOTAL_DAY)][name] += value
    return {key: values for key, values in rows.items() if any(values.values())}


_counter_rows = counter_rows  # the name dossiers/bench_data.py uses


def write_counters(agency_id, field_id, deltas):
    """Add `deltas` to the counters in one INSERT … ON CONFLICT DO UPDATE (PostgreSQL and SQLite):
    atomic under concurrency, rows taken in one fixed order so concurrent writers cannot deadlock."""
    rows = counter_rows(deltas)
    if not rows:
        return
    qn = connection.ops.quote_name
    table = qn(StatCounter._meta.db_table)
    keys = [qn(name) for name in ("grain", "day", "agency_id", "field_id")]
    columns = [qn(name) for name in COUNTER_FIELDS]
    placeholders = "(" + ", ".join(["%s"] * (len(keys) + len(columns))) + ")"
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
    # Identifiers come from the model's metadata, values are parameters.
    sql = (
        f"INSERT INTO {table} ({', '.join(keys + columns)}) VALUES {', '.join([placeholders] * len(rows))} "  # noqa: S608
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )
    params = []
    for (grain, day), values in sorted(rows.items()):
        params += [grain, connection.ops.adapt_datefield_value(day), agency_id, field_id]
        params += [values.get(name, 0) for name in COUNTER_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _event_due(data, previous):
    if not isinstance(data, dict) or "due_at" not in data:
        return previous
    return parse_datetime(data["due_at"]) if data["due_at"] else None


def replay(dossier, events):
    """The statistics of one dossier from its events (oldest first): (fact or None, spans, deltas).
    The same `advance` as the live recording, fed with the state each event left behind."""
    ledger, spans, deltas = Ledger(), [], Counter()
    received_at = due_at = finished_at = None
    supplement_requests = 0
    for event in events:
        if event.action == "request_supplement":
            supplement_requests += 1
        due_at = _event_due(event.data, due_at)
        if received_at is None and event.to_status == Status.RECEIVED:
            received_at = event.created_at
        if finished_at is None and event.to_status in FINISHED_STATUSES:
            finished_at = event.created_at
        step, closed, _opened = advance(
            ledger,
            at=event.created_at,
            status=event.to_status,
            from_status=event.from_status,
            received_at=received_at,
            due_at=due_at,
            finished_at=finished_at,
            supplement_requests=supplement_requests,
            channel=dossier.channel,
        )
        _merge(deltas, step)
        if closed is not None and closed[0] != closed[1]:
            start, end, paused, due = closed
            spans.append(StatSpan(dossier_id=dossier.pk, start_on=start, end_on=end, paused=paused, due_on=due))
    if ledger.received_on is None:
        return None, [], Counter()
    if ledger.span_start is not None:
        spans.append(
            StatSpan(
                dossier_id=dossier.pk, start_on=ledger.span_start, paused=ledger.span_paused, due_on=ledger.span_due
            )
        )
    fact = StatFact(
        dossier_id=dossier.pk,
        agency_id=dossier.competent_agency_id,
        field_id=dossier.procedure.field_id,
        channel=dossier.channel,
        received_on=ledger.received_on,
        finished_on=ledger.finished_on,
        finish_kind=ledger.finish_kind,
        late=ledger.late,
    )
    return fact, spans, deltas


def rebuild(chunk_size=2000):
    """Recompute every statistics row from the dossiers' events (after installing the statistics on
    a database that already has dossiers, or to repair). Run it while no one is changing dossiers.
    Returns the number of dossiers in the table."""
    counted = 0
    with transaction.atomic():
        StatCounter.objects.all().delete()
        StatSpan.objects.all().delete()
        StatFact.objects.all().delete()
        totals = defaultdict(Counter)
        dossiers = Dossier.objects.select_related("procedure").order_by("pk")
        last_pk = 0
        while True:
            chunk = list(dossiers.filter(pk__gt=last_pk)[:chunk_size])
            if not chunk:
                break
            last_pk = chunk[-1].pk
            events = defaultdict(list)
            for event in DossierEvent.objects.filter(dossier_id__in=[d.pk for d in chunk]).order_by(
                "dossier_id", "created_at", "id"
            ):
                events[event.dossier_id].append(event)
            facts, spans = [], []
            for dossier in chunk:
                fact, dossier_spans, deltas = replay(dossier, events[dossier.pk])
                if fact is None:
                    continue
                facts.append(fact)
                spans.extend(dossier_spans)
                for (grain, day), values in counter_rows(deltas).items():
                    totals[(grain, day, fact.agency_id, fact.field_id)].update(values)
            StatFact.objects.bulk_create(facts)
            StatSpan.objects.bulk_create(spans)
            counted += len(facts)
            ended = {fact.dossier_id: fact for fact in facts if fact.finished_on is not None}
            for dossier_id, level in Rating.objects.filter(pk__in=list(ended)).values_list("pk", "level"):
                fact = ended[dossier_id]
                for (grain, day), values in counter_rows(rating_deltas(fact.finished_on, None, level)).items():
                    totals[(grain, day, fact.agency_id, fact.field_id)].update(values)
        StatCounter.objects.bulk_create(
            (
                StatCounter(grain=grain, day=day, agency_id=agency_id, field_id=field_id, **values)
                for (grain, day, agency_id, field_id), values in totals.items()
                if any(values.values())
            ),
            batch_size=1000,
        )
        if connection.vendor == "postgresql":
            # Fresh planner statistics: the dashboard's plans depend on them, and a database whose
            # autovacuum is off or has not run yet would otherwise plan for empty tables.
            with connection.cursor() as cursor:
                cursor.execute(
                    "ANALYZE "
                    + ", ".join(connection.ops.quote_name(m._meta.db_table) for m in (StatCounter, StatFact, StatSpan))
                )
    return counted


# --- Computing ------------------------------------------------------------------------------------


# A sum of deltas over days is read from few rows: whole months from the month rows, and each partial
# month at the edges either from its day rows, or from its month row minus the day rows of the month
# outside the range — whichever reads fewer rows. Day rows after today hold only the written-ahead
# switches to overdue (few), so "this month up to today" is its month row minus almost nothing.
# A term is (sign, grain, first day, last day), both days included; every counter row belongs to at
# most one term of a decomposition, so one query sums them with a CASE.


def _days(first, last):
    return (last - first).days + 1


def _day_cost(first, last, today):
    """Rough number of day rows per (agency, field) between first and last: days up to today count one
    each, later days (only written-ahead switches) a tenth."""
    if first > last:
        return 0
    past = 0 if first > today else _days(first, min(last, today))
    return past + (_days(first, last) - past) / 10


def _partial_month(first, last, today):
    """Terms for the days first..last of one month."""
    month, end = first.replace(day=1), month_end(first)
    day, grain_m = StatCounter.Grain.DAY, StatCounter.Grain.MONTH
    if first == month and last == end:
        return [(1, grain_m, month, month)]
    by_days = _day_cost(first, last, today)
    by_month = 1 + _day_cost(month, first - timedelta(days=1), today) + _day_cost(last + timedelta(days=1), end, today)
    if by_days <= by_month:
        return [(1, day, first, last)]
    terms = [(1, grain_m, month, month)]
    if first > month:
        terms.append((-1, day, month, first - timedelta(days=1)))
    if last < end:
        terms.append((-1, day, last + timedelta(days=1), end))
    return terms


def range_terms(first, last, today=None):
    """Signed terms whose rows sum to the deltas of the days first..last (first None: from the
    beginning; last None: to the end of time)."""
    today = today or timezone.localdate()
    grain_m = StatCounter.Grain.MONTH
    terms = []
    if first is not None and last is not None and first.replace(day=1) == last.replace(day=1):
        return _partial_month(first, last, today)
    months_from = None
    if first is not None:
        months_from = first.replace(day=1)
        if first.day != 1:
            terms += _partial_month(first, month_end(first), today)
            months_from = add_months(first, 1)
    months_until = None
    if last is not None:
        months_until = last.replace(day=1)  # excluded
        if last == month_end(last):
            months_until = add_months(last, 1)
        else:
            terms += _partial_month(months_until, last, today)
    if months_until is None or months_from is None or months_from < months_until:
        # Whole months: [months_from, months_until).
        terms.append((1, grain_m, months_from, None if months_until is None else months_until - timedelta(days=1)))
    return terms


# A prefix sum (every delta up to a day) is read forwards or backwards: see `prefix_terms`.
BACKWARD_DAYS = 366


def prefix_terms(last, direction="auto", today=None):
    """Signed terms summing every delta up to the end of `last`: forwards (month rows before, day
    rows of its month) or backwards (the all-time total minus what follows) — backwards for days of
    the last year, where few rows follow, forwards for older ones, where few precede."""
    today = today or timezone.localdate()
    if direction == "auto":
        direction = "backward" if last >= today - timedelta(days=BACKWARD_DAYS) else "forward"
    if direction == "forward":
        return range_terms(None, last, today)
    after = range_terms(last + timedelta(days=1), None, today)
    return [(1, StatCounter.Grain.TOTAL, TOTAL_DAY, TOTAL_DAY)] + [(-sign, *rest) for sign, *rest in after]


def terms_q(terms):
    """(rows with sign +1, rows with sign −1) of `terms` as Q objects, None for none; each term is
    an index range on (agency, grain, day)."""
    plus = minus = None
    for sign, grain, first, last in terms:
        q = Q(grain=grain)
        if first is not None:
            q &= Q(day__gte=first)
        if last is not None:
            q &= Q(day__lte=last)
        if sign > 0:
            plus = q if plus is None else plus | q
        else:
            minus = q if minus is None else minus | q
    return plus, minus


def _sign(plus, minus):
    whens = [When(plus, then=Value(1))]
    if minus is not None:
        whens.append(When(minus, then=Value(-1)))
    return Case(*whens, default=Value(0), output_field=IntegerField())


def counter_sums(filters, direction="auto", by_field=True):
    """{(agency_id, field_id): (flows, stocks at the end, stocks at the start)} — one query: every
    delta of the period's days (flows and stock changes) and the stock prefix at the end of the day
    before it, summed with signs over the few counter rows of `range_terms` and `prefix_terms`.
    Without `by_field` the sums are per agency, keyed (agency_id, None): a row per agency instead of
    one per agency and field (30 instead of 450 in the benchmark's data) for the readers that do not
    show fields. `direction` is for tests (see `prefix_terms`).

    The inner query (built by the ORM) picks the rows and gives each its two signs once; the outer
    one multiplies and sums (17 aggregates of a CASE each would evaluate the conditions 17 times per
    row and cost the ORM milliseconds to build)."""
    today = timezone.localdate()
    period_plus, period_minus = terms_q(range_terms(filters.start, filters.end, today))
    before_plus, before_minus = terms_q(prefix_terms(filters.start - timedelta(days=1), direction, today))
    rows_q = period_plus | before_plus
    for q in (period_minus, before_minus):
        if q is not None:
            rows_q |= q
    # Read where the router sends the counters' reads (the replica in a reporting view, when one is
    # configured and fresh), as the ORM's own queries are: this statement is written by hand.
    alias = router.db_for_read(StatCounter)
    database = connections[alias]
    inner = (
        StatCounter.objects.using(alias)
        .filter(filters.counter_q())
        .filter(rows_q)
        .annotate(sign_in=_sign(period_plus, period_minus), sign_before=_sign(before_plus, before_minus))
        .values("agency_id", "field_id", "sign_in", "sign_before", *COUNTER_FIELDS)
        .order_by()
    )
    inner_sql, params = inner.query.get_compiler(using=alias).as_sql()
    # A subquery with OFFSET is never merged into the outer one, so the signs are computed once per row.
    barrier = "LIMIT -1 OFFSET 0" if database.vendor == "sqlite" else "OFFSET 0"
    qn = database.ops.quote_name
    sums = [f"SUM({qn(name)} * sign_in)" for name in COUNTER_FIELDS]
    sums += [f"SUM({qn(name)} * sign_before)" for name in STOCK_FIELDS]
    # Column names come from the model, values are the inner query's parameters.
    field, group = ("field_id", "agency_id, field_id") if by_field else ("NULL", "agency_id")
    sql = (
        f"SELECT agency_id, {field}, {', '.join(sums)} FROM ({inner_sql} {barrier}) AS counters "  # noqa: S608
        f"GROUP BY {group}"
    )
    with database.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    result = {}
    n = len(COUNTER_FIELDS)
    for agency_id, field_id, *values in fetched:
        changes = dict(zip(COUNTER_FIELDS, values[:n], strict=True))
        start = {name: value or 0 for name, value in zip(STOCK_FIELDS, values[n:], strict=True)}
        flows = {name: changes[name] or 0 for name in FLOW_FIELDS}
        end = {name: start[name] + (changes[name] or 0) for name in STOCK_FIELDS}
        result[(agency_id, field_id)] = (flows, end, start)
    return result


AGENCY, AGENCY_FIELD = "agency", "agency_field"
GROUPS = (AGENCY, AGENCY_FIELD)


@dataclass
class Table:
    filters: Filters
    rows: list
    total: dict
    # One row per (agency, field) whatever `group` (the page's per-field chart reads them).
    pairs: list = None
    group: str = AGENCY_FIELD

    def as_api(self):
        """The API's body (DESIGN.md §5)."""
        return {
            "from": self.filters.start.isoformat(),
            "to": self.filters.end.isoformat(),
            "rows": self.rows,
            "total": self.total,
        }


def names_of(model, ids, names=None):
    """{id: object with code and name} for `ids`, from `names` when it has them all (one query
    otherwise)."""
    if names is not None and all(i in names for i in ids):
        return names
    return model.objects.only("code", "name").in_bulk(ids)


def progress_table(filters, direction="auto", group=AGENCY_FIELD, agencies=None, fields=None):
    """The progress table for `filters`: one row per competent agency and field with any number
    (`group="agency"`: per agency, `field` and `field_name` None), and the total. One counter query,
    whatever the number of dossiers, plus the names (none when `agencies` and `fields` — {id: object}
    — already hold them). `direction` is for tests (see `prefix_terms`)."""
    sums = counter_sums(filters, direction)
    counted = {key: counts_from_sums(*value) for key, value in sums.items()}
    counted = {key: counts for key, counts in counted.items() if any(counts[m] for m in METRIC_KEYS)}
    agencies = names_of(Agency, {agency_id for agency_id, _field in counted}, agencies)
    fields = names_of(Field, {field_id for _agency, field_id in counted}, fields)
    pairs, total = [], empty_counts()
    for (agency_id, field_id), counts in counted.items():
        agency, field = agencies[agency_id], fields[field_id]
        pairs.append(
            {"agency": agency.code, "agency_name": agency.name, "field": field.code, "field_name": field.name, **counts}
        )
        add_counts(total, counts)
    pairs.sort(key=lambda row: (row["agency"], row["field_name"], row["field"]))
    total["on_time_rate"] = on_time_rate(total)
    total["satisfaction_rate"] = satisfaction_rate(total)
    rows = pairs
    if group == AGENCY:
        rows = [
            {key: value for key, value in row.items() if key not in ("code", "name")}
            for row in sorted(group_rows(pairs, "agency"), key=lambda row: row["agency"])
        ]
    return Table(filters=filters, rows=rows, total=total, pairs=pairs, group=group)


def group_rows(rows, key):
    """Rows (or a Table's (agency, field) rows) summed by "agency" or "field": [{agency or field,
    agency_name or field_name, the other two None, code, name, ...counts}] sorted by on-time rate
    (worst first, groups without results last)."""
    if isinstance(rows, Table):
        rows = rows.pairs if rows.pairs is not None else rows.rows
    other = "field" if key == "agency" else "agency"
    groups = {}
    for row in rows:
        group = groups.get(row[key])
        if group is None:
            group = groups[row[key]] = {
                key: row[key],
                f"{key}_name": row[f"{key}_name"],
                other: None,
                f"{other}_name": None,
                "code": row[key],
                "name": row[f"{key}_name"],
                **empty_counts(),
            }
        add_counts(group, row)
    for group in groups.values():
        group["on_time_rate"] = on_time_rate(group)
        group["satisfaction_rate"] = satisfaction_rate(group)
    return sorted(
        groups.values(), key=lambda g: (g["on_time_rate"] is None, g["on_time_rate"] or 0, sort_key(str(g["name"])))
    )


def monthly_trend(filters, months=12):
    """Received (new) and finished per calendar month for the `months` months ending with the month
    of `filters.end`: [{month, received, on_time, late, finished}] — one query over month rows."""
    last = filters.end.replace(day=1)
    first = add_months(last, 1 - months)
    sums = {name: Sum(name) for name in FLOW_FIELDS}
    rows = (
        StatCounter.objects.filter(filters.counter_q(), grain=StatCounter.Grain.MONTH, day__gte=first, day__lte=last)
        .values("day")
        .annotate(**sums)
        .order_by()
    )
    by_month = {row["day"]: row for row in rows}
    trend = []
    for i in range(months):
        month = add_months(first, i)
        row = by_month.get(month, {})
        value = {name: row.get(name) or 0 for name in FLOW_FIELDS}
        trend.append(
            {
                "month": month,
                "received": value["received_in_person"] + value["received_online"] + value["received_post"],
                "on_time": value["finished_early"] + value["finished_on_time"],
                "late": value["finished_late"],
            }
        )
    return trend


def overdue_now_dossiers(filters, now=None):
    """Accepted dossiers open, not paused and past their due date right now (a Dossier queryset).
    Read from the dossier rows through the index on (competent agency, status, due date): an
    accepted open dossier that is not paused is received or processing, and its competent agency is
    its StatFact's (both set once); the field filter reads the StatFact (the field at acceptance)."""
    now = now or timezone.now()
    queryset = Dossier.objects.filter(status__in=[Status.RECEIVED, Status.PROCESSING], due_at__lt=now)
    if filters.agency_ids is not None:
        queryset = queryset.filter(competent_agency_id__in=sorted(filters.agency_ids))
    if filters.field is not None:
        queryset = queryset.filter(stat_fact__field_id=filters.field.pk)
    return queryset


def overdue_now(filters, now=None, agencies=None):
    """Open, unpaused dossiers past their due date right now, per competent agency (an indexed query:
    this number changes with time, so it is never a counter): [{code, name, count}], most first.
    `agencies` ({id: object}) saves the names query."""
    rows = overdue_now_dossiers(filters, now).values("competent_agency_id").annotate(count=Count("pk")).order_by()
    counts = {row["competent_agency_id"]: row["count"] for row in rows}
    agencies = names_of(Agency, set(counts), agencies)
    result = [{"code": agencies[k].code, "name": agencies[k].name, "count": n} for k, n in counts.items()]
    return sorted(result, key=lambda item: (-item["count"], item["code"]))


# --- The dossiers behind each number ----------------------------------------------------------------


def metric_dossiers(metric, filters, now=None):
    """The dossiers counted in `metric` for `filters` (a Dossier queryset): the list behind a number.
    Reads StatFact and StatSpan, so it matches the table by construction. ValueError for an unknown
    metric."""
    if metric not in LIST_METRICS:
        raise ValueError(f"Unknown metric {metric!r}.")
    queryset = Dossier.objects.filter(filters.counter_q("stat_fact__"))
    start, end = filters.start, filters.end
    if metric == OVERDUE_NOW:
        return overdue_now_dossiers(filters, now)
    not_finished_before = Q(stat_fact__finished_on__isnull=True) | Q(stat_fact__finished_on__gte=start)
    if metric == "received":
        return queryset.filter(not_finished_before, stat_fact__received_on__lte=end)
    if metric == "received_carried_over":
        return queryset.filter(not_finished_before, stat_fact__received_on__lt=start)
    if metric.startswith("received_"):
        queryset = queryset.filter(stat_fact__received_on__gte=start, stat_fact__received_on__lte=end)
        channel = metric.removeprefix("received_")
        return queryset if channel == "new" else queryset.filter(stat_fact__channel=channel)
    finished = {v: k for k, v in FINISH_FIELD.items()}
    late_end = metric.endswith("_late") and metric.removesuffix("_late") in finished
    if metric == "finished" or metric in finished or late_end:
        kind = finished.get(metric.removesuffix("_late") if late_end else metric)
        kinds = RESULT_KINDS if metric == "finished" else (kind,)
        queryset = queryset.filter(
            stat_fact__finished_on__gte=start, stat_fact__finished_on__lte=end, stat_fact__finish_kind__in=kinds
        )
        return queryset.filter(stat_fact__late=True) if late_end else queryset
    # Open at the end of the period: the one span covering that day (one filter() call, so every
    # condition applies to the same span).
    paused = metric.startswith("paused")
    span = Q(stat_spans__start_on__lte=end, stat_spans__paused=paused) & (
        Q(stat_spans__end_on__isnull=True) | Q(stat_spans__end_on__gt=end)
    )
    if metric.endswith("_overdue"):
        span &= Q(stat_spans__due_on__lte=end)
    elif metric.endswith("_on_time"):
        span &= Q(stat_spans__due_on__isnull=True) | Q(stat_spans__due_on__gt=end)
    return queryset.filter(span)


def metric_label(metric):
    if metric == OVERDUE_NOW:
        return OVERDUE_NOW_LABEL
    return METRICS_BY_KEY[metric].full_label


def rating_deltas(day, previous_level, level):
    """Counter deltas {(day, field): change} of a rating of a dossier that ended on `day`, changed from
    `previous_level` (None: a new rating) to `level`."""
    deltas = Counter()
    for sign, value in ((-1, previous_level), (1, level)):
        if value is None:
            continue
        deltas[(day, "ratings")] += sign
        if value == Level.VERY_SATISFIED:
            deltas[(day, "ratings_very_satisfied")] += sign
        elif value == Level.UNSATISFIED:
            deltas[(day, "ratings_unsatisfied")] += sign
    return deltas


def on_rating_saved(sender, *, rating, previous_level, **kwargs):
    """`ratings.signals.rating_saved` receiver: count the rating on the day its dossier ended, in the
    rating's transaction. A dossier that ended before it was accepted (refused or withdrawn at
    intake) is not in the table, so neither is its rating."""
    fact = StatFact.objects.filter(pk=rating.dossier_id).only("agency_id", "field_id", "finished_on").first()
    if fact is None or fact.finished_on is None:
        return
    write_counters(fact.agency_id, fact.field_id, rating_deltas(fact.finished_on, previous_level, rating.level))


def on_dossier_event(sender, *, dossier, event, **kwargs):
    """`dossiers.signals.dossier_transition` receiver: keep the counters in the transition's
    transaction (and the steps each agency held: reporting/handling.py)."""
    from reporting.handling import record_step

    record(dossier, event)
    record_step(dossier, event)
