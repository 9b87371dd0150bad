"""The dossier services: creating a dossier at the desk and the one transition function.

`dossier_act()` is the only place a dossier's status changes. It locks the row, checks the
workflow table, the actor's role and agency scope and the rules of Decree 118/2025 (DESIGN.md §4),
applies the change, appends a `DossierEvent`, all in one transaction. Invalid or conflicting
actions raise `WorkflowConflict` (HTTP 409) and change nothing.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts import roles as permissions
from procedures import deadlines
from procedures.models import Agency, Role

from . import signals, workflow
from .models import (
    OPEN_STATUSES,
    Channel,
    Dossier,
    DossierEvent,
    DossierSequence,
    Pause,
    Stage,
    Status,
    hash_pin,
    judge,
    make_pin,
)

# An incomplete dossier that is not completed within this many days is closed (Art. 19.5).
SUPPLEMENT_WAIT_DAYS = 15
# Supplements during processing may only be requested this many working days after intake.
PROCESSING_SUPPLEMENT_WINDOW_DAYS = 3
# Online submissions must be accepted or sent back within 8 working hours (Art. 17.2).
ONLINE_INTAKE_MINUTES = 8 * 60

DEFAULT_WORKFLOW = [
    {"name": "Tiếp nhận hồ sơ", "role": Role.RECEPTION.value, "share": 10},
    {"name": "Thẩm định, xử lý", "role": Role.SPECIALIST.value, "share": 60},
    {"name": "Phê duyệt", "role": Role.LEADER.value, "share": 20},
    {"name": "Trả kết quả", "role": Role.RECEPTION.value, "share": 10},
]


class WorkflowConflict(Exception):
    """The action is not possible now (state, rule or concurrent change): HTTP 409."""


class ActionInputError(Exception):
    """Missing or malformed input for an action: HTTP 400. `errors` maps field → messages."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


# --- Codes, snapshots and deadlines ------------------------------------------------------


def next_code(agency, day):
    """`<agency code>-<YYMMDD>-<NNNN>`: a daily sequence per agency. The UPDATE takes a row lock
    that serialises concurrent callers until their transaction ends, so codes never repeat."""
    with transaction.atomic():
        DossierSequence.objects.get_or_create(agency=agency, day=day)
        DossierSequence.objects.filter(agency=agency, day=day).update(last_value=F("last_value") + 1)
        value = DossierSequence.objects.filter(agency=agency, day=day).values_list("last_value", flat=True).get()
    return f"{agency.code}-{day:%y%m%d}-{value:04d}"


def procedure_snapshot(procedure):
    steps = [
        {"name": s.name, "role": s.role, "share": s.time_share}
        for s in sorted(procedure.workflow_steps.all(), key=lambda s: (s.position, s.pk))
    ]
    return {
        "code": procedure.code,
        "name": procedure.name,
        "version": procedure.version,
        "processing_days": str(procedure.processing_days),
        "same_day_cutoff": procedure.same_day_cutoff.strftime("%H:%M") if procedure.same_day_cutoff else None,
        "fee_text": procedure.fee_text,
        "documents": [
            {"name": d.name, "originals": d.originals, "copies": d.copies}
            for d in sorted(procedure.documents.all(), key=lambda d: (d.position, d.pk))
        ],
        "workflow": steps or DEFAULT_WORKFLOW,
    }


def _processing_days(dossier):
    return Decimal(dossier.procedure_snapshot.get("processing_days") or "0")


def _cutoff(dossier):
    value = dossier.procedure_snapshot.get("same_day_cutoff")
    return datetime.strptime(value, "%H:%M").time() if value else None


def compute_due(dossier, start):
    return deadlines.compute_due_at(start, _processing_days(dossier), cutoff=_cutoff(dossier))


def _stage_role(stage):
    return {Stage.PROCESSING: Role.SPECIALIST, Stage.APPROVAL: Role.LEADER}.get(stage, Role.RECEPTION)


def step_deadline(dossier, stage, now):
    """The planned deadline of the workflow step for `stage`: the procedure's steps share the
    period between intake and `due_at`; a step is due when the cumulative share up to it ends."""
    if stage == Stage.INTAKE:
        if dossier.channel == Channel.ONLINE and dossier.received_at is None:
            return deadlines.add_working_minutes(dossier.submitted_at, ONLINE_INTAKE_MINUTES)
        if dossier.received_at is None:
            return None
        # Paper dossiers accepted before the cut-off go to the processing agency the same
        # working day, later ones at the start of the next (Art. 18.2).
        local = timezone.localtime(dossier.received_at)
        calendar = deadlines.get_calendar()
        day = local.date()
        if local.time() > settings.TRANSFER_CUTOFF or not calendar.is_working_day(day):
            day = calendar.next_working_day(day)
            session_end = calendar.sessions[0][1]
        else:
            session_end = calendar.sessions[-1][1]
        return timezone.make_aware(datetime.combine(day, session_end))
    if dossier.due_at is None or stage in (Stage.CLOSED,):
        return None
    steps = dossier.procedure_snapshot.get("workflow") or DEFAULT_WORKFLOW
    role = _stage_role(stage)
    indexes = [i for i, s in enumerate(steps) if s["role"] == role]
    if stage == Stage.RETURN or not indexes:
        return dossier.due_at
    # The last matching step for reception means "return"; others take their first match.
    index = indexes[0]
    cumulative = sum(int(s.get("share") or 0) for s in steps[: index + 1])
    start = deadlines.counting_start(dossier.period_started_at or dossier.received_at)
    total = deadlines.working_minutes_between(start, dossier.due_at)
    return deadlines.add_working_minutes(start, total * min(cumulative, 100) / 100)


# --- Creating a dossier at the desk ----------------------------------------------------------


def _resolve_agencies(actor, procedure, receiving_agency, competent_agency, returning_agency):
    if receiving_agency is None:
        desks = permissions.agencies_with_role(actor, Role.RECEPTION)
        if len(desks) != 1:
            raise ActionInputError({"receiving_agency": [_("Choose the receiving agency.")]})
        receiving_agency = Agency.objects.get(pk=desks[0])
    if not permissions.has_role(actor, Role.RECEPTION, receiving_agency.pk):
        raise PermissionDenied(_("You are not a reception officer of this agency."))
    implementing = list(procedure.agencies.all())
    if competent_agency is None:
        # Boundary-free intake: a desk may receive for another competent agency.
        local = not implementing or receiving_agency in implementing
        competent_agency = receiving_agency if local else implementing[0]
    elif implementing and competent_agency not in implementing:
        raise ActionInputError({"competent_agency": [_("This agency does not handle this procedure.")]})
    return receiving_agency, competent_agency, returning_agency or receiving_agency


def dossier_create(
    *,
    actor,
    procedure,
    applicant_name,
    applicant_id_number="",
    applicant_phone="",
    applicant_email="",
    applicant_address="",
    channel=Channel.IN_PERSON,
    documents=None,
    note="",
    receiving_agency=None,
    competent_agency=None,
    returning_agency=None,
    missing_documents=None,
    now=None,
):
    """Log a dossier at the desk. Returns `(dossier, pin)`; the PIN is never stored in clear.

    In person or by post the dossier is accepted now (status 2, the period starts). Online
    submissions wait for acceptance (status 1). `missing_documents` (a non-empty list) records an
    incomplete dossier: the one supplement request at intake (Mẫu 02) is issued instead.
    """
    now = now or timezone.now()
    if not procedure.published:
        raise ActionInputError({"procedure": [_("This procedure is not published.")]})
    if not (applicant_name or "").strip():
        raise ActionInputError({"applicant_name": [_("This field is required.")]})
    if channel not in Channel.values:
        raise ActionInputError({"channel": [_("Unknown channel.")]})
    receiving_agency, competent_agency, returning_agency = _resolve_agencies(
        actor, procedure, receiving_agency, competent_agency, returning_agency
    )
    missing = [str(m).strip() for m in (missing_documents or []) if str(m).strip()]
    snapshot = procedure_snapshot(procedure)
    pin = make_pin()
    with transaction.atomic():
        code = next_code(competent_agency, timezone.localdate(now))
        dossier = Dossier(
            code=code,
            procedure=procedure,
            procedure_version=procedure.version,
            procedure_snapshot=snapshot,
            receiving_agency=receiving_agency,
            competent_agency=competent_agency,
            returning_agency=returning_agency,
            applicant_name=applicant_name.strip(),
            applicant_id_number=(applicant_id_number or "").strip(),
            applicant_phone=(applicant_phone or "").strip(),
            applicant_email=(applicant_email or "").strip(),
            applicant_address=(applicant_address or "").strip(),
            channel=channel,
            documents=documents or [],
            note=note or "",
            submitted_at=now,
            stage=Stage.INTAKE,
            pin_hash=hash_pin(code, pin),
            created_by=actor,
        )
        if missing:
            dossier.status = Status.AWAITING_SUPPLEMENT
            dossier.supplement_requests = 1
            action, comment, data = "request_supplement", "\n".join(missing), {"missing_documents": missing}
        elif channel == Channel.ONLINE:
            dossier.status = Status.SUBMITTED_ONLINE
            action, comment, data = "submit", "", {}
        else:
            dossier.status = Status.RECEIVED
            dossier.received_at = now
            dossier.due_at = compute_due(dossier, now)
            action, comment, data = "receive", "", {}
        dossier.step_started_at = now
        dossier.step_due_at = step_deadline(dossier, Stage.INTAKE, now)
        dossier.save()
        event = DossierEvent.objects.create(
            dossier=dossier,
            actor=actor,
            action=action,
            from_status=None,
            to_status=dossier.status,
            to_stage=dossier.stage,
            comment=comment,
            data={**data, "due_at": _iso(dossier.due_at)},
            created_at=now,
        )
        # Listeners (notifications' outbox rows, the statistics counters) write in this same
        # transaction: never a broker call, and a failing listener rolls the creation back.
        signals.transition(dossier, event)
    return dossier, pin


# --- The transition service ---------------------------------------------------------------


def available_actions(user, dossier, now=None):
    """Names of the actions `user` may take on `dossier` now (table, role and time rules)."""
    now = now or timezone.now()
    names = []
    for name in workflow.allowed_from(dossier.status, dossier.stage):
        action = workflow.ACTIONS[name]
        if not permissions.may_take(user, dossier, workflow.actors_for(action, dossier.stage)):
            continue
        try:
            _check_rules(dossier, action, now)
        except WorkflowConflict:
            continue
        names.append(name)
    return names


def dossier_act(*, dossier, actor, action, comment="", now=None, system=False, **params):
    """Apply `action` to `dossier` as `actor`. Returns the updated dossier.

    Raises WorkflowConflict (409) when the table or a rule forbids it now, PermissionDenied (403)
    when the actor lacks the role in the right agency, ActionInputError (400) for bad input.
    `system=True` is for scheduled tasks acting without a user (no role check)."""
    now = now or timezone.now()
    spec = workflow.get_action(action)
    if spec is None:
        raise WorkflowConflict(_("Unknown action “%(action)s”.") % {"action": action})
    comment = (comment or "").strip()
    with transaction.atomic():
        # Lock the dossier row only (not the joined procedure, which every dossier shares).
        locked = Dossier.objects.select_for_update(of=("self",)).select_related("procedure").get(pk=dossier.pk)
        if (locked.status, locked.stage) not in spec.sources:
            raise WorkflowConflict(
                _("“%(action)s” is not possible while the dossier is “%(status)s” (%(stage)s).")
                % {"action": spec.label, "status": locked.get_status_display(), "stage": locked.get_stage_display()}
            )
        if not system and not permissions.may_take(actor, locked, workflow.actors_for(spec, locked.stage)):
            raise PermissionDenied(_("You do not have the role needed for this action on this dossier."))
        if spec.needs_comment and not comment:
            raise ActionInputError({"comment": [_("A reason is required for this action.")]})
        _check_rules(locked, spec, now)
        before = (locked.status, locked.stage)
        closing_step_due = locked.step_due_at
        data = _HANDLERS.get(action, _noop)(locked, actor, now, comment, params) or {}
        if spec.target is not None and locked.status == before[0]:
            locked.status = spec.target
        if spec.target_stage is not None:
            locked.stage = spec.target_stage
        # A step ends when the stage changes; accepting an online submission also ends one (the
        # 8 working hours of Art. 17.2) and starts the transfer step of Art. 18.2 within "intake".
        step_closed = locked.stage != before[1] or action == "receive"
        if step_closed:
            locked.step_started_at = now
            locked.step_due_at = step_deadline(locked, locked.stage, now)
        locked.save()
        event = DossierEvent.objects.create(
            dossier=locked,
            actor=None if system else actor,
            action=action,
            from_status=before[0],
            to_status=locked.status,
            from_stage=before[1],
            to_stage=locked.stage,
            comment=comment,
            data={**data, "due_at": _iso(locked.due_at)},
            step_due_at=closing_step_due if step_closed else None,
            step_outcome=judge(now, closing_step_due) if step_closed and closing_step_due else "",
            created_at=now,
        )
        signals.transition(locked, event)
    dossier.refresh_from_db()
    return locked


def _iso(value):
    return value.isoformat() if value else None


def _noop(dossier, actor, now, comment, params):
    return {}


def _fmt(dt):
    return date_format(timezone.localtime(dt), "SHORT_DATETIME_FORMAT")


def _check_rules(dossier, spec, now):
    """Time- and history-dependent rules of Decree 118 (the table handles states)."""
    name = spec.name
    if (
        name == "request_supplement"
        and dossier.stage == Stage.INTAKE
        and dossier.events.filter(action="request_supplement", to_stage=Stage.INTAKE).exists()
    ):
        raise WorkflowConflict(_("A dossier gets only one supplement request at intake, listing every item."))
    if name == "request_supplement" and dossier.stage == Stage.PROCESSING:
        limit = supplement_window_end(dossier)
        if limit is None or now > limit:
            raise WorkflowConflict(
                _("A supplement during processing may only be requested within %(days)s working days of intake.")
                % {"days": PROCESSING_SUPPLEMENT_WINDOW_DAYS}
            )
    if name == "extend":
        if dossier.original_due_at is not None:
            raise WorkflowConflict(_("A dossier can be rescheduled only once."))
        if dossier.due_at is None or timezone.localdate(now) >= timezone.localdate(dossier.due_at):
            raise WorkflowConflict(
                _("The apology and extension letter must be issued at least one day before the due date.")
            )
    if name == "refuse" and dossier.stage != Stage.INTAKE and dossier.due_at and now > dossier.due_at:
        raise WorkflowConflict(_("A refusal after appraisal must be issued before the due date."))
    if name == "mark_result_ready":
        steps = dossier.procedure_snapshot.get("workflow") or DEFAULT_WORKFLOW
        if any(s["role"] == Role.LEADER for s in steps):
            raise WorkflowConflict(_("This procedure's result must be approved by a leader."))


def supplement_window_end(dossier):
    if dossier.received_at is None:
        return None
    calendar = deadlines.get_calendar()
    day = calendar.add_working_days(timezone.localdate(dossier.received_at), PROCESSING_SUPPLEMENT_WINDOW_DAYS)
    return timezone.make_aware(datetime.combine(day, calendar.sessions[-1][1]))


def _close_pause(dossier, now):
    pause = dossier.pauses.filter(ended_at__isnull=True).order_by("-started_at").first()
    if pause is None:
        return None
    pause.ended_at = now
    pause.working_minutes = deadlines.working_minutes_between(pause.started_at, now)
    pause.save(update_fields=["ended_at", "working_minutes"])
    return pause


def _resolve_assignee(dossier, value):
    User = get_user_model()
    specialists = User.objects.filter(
        is_active=True, memberships__role=Role.SPECIALIST, memberships__agency_id=dossier.competent_agency_id
    )
    if value in (None, ""):
        # The least loaded specialist of the competent agency.
        # A correlated count per candidate over (assignee, status) in `dossier_assignee_idx`: reads
        # only each specialist's open dossiers, not every dossier they were ever assigned.
        open_load = (
            Dossier.objects.filter(assignee=OuterRef("pk"), status__in=OPEN_STATUSES)
            .order_by()
            .values("assignee")
            .annotate(n=Count("pk"))
            .values("n")
        )
        user = specialists.annotate(load=Coalesce(Subquery(open_load), 0)).order_by("load", "pk").first()
        if user is None:
            raise ActionInputError({"assignee": [_("The competent agency has no specialist to assign.")]})
        return user
    lookup = Q(username=str(value))
    if str(value).isdigit():
        lookup |= Q(pk=int(value))
    user = specialists.filter(lookup).first()
    if user is None:
        raise ActionInputError({"assignee": [_("Choose a specialist of the competent agency.")]})
    return user


def _h_receive(d, actor, now, comment, params):
    d.received_at = now
    d.due_at = compute_due(d, now)
    return {}


def _h_request_supplement(d, actor, now, comment, params):
    missing = params.get("missing_documents") or []
    if isinstance(missing, str):
        missing = [line for line in missing.splitlines() if line.strip()]
    d.supplement_requests += 1
    if d.stage == Stage.PROCESSING:
        Pause.objects.create(dossier=d, kind=Pause.Kind.SUPPLEMENT, started_at=now)
    return {"missing_documents": [str(m) for m in missing]}


def _h_supplement_received(d, actor, now, comment, params):
    previous_due = d.due_at
    if d.stage == Stage.INTAKE:
        # The complete dossier is accepted now: the period starts from this moment.
        d.status = Status.RECEIVED
        d.received_at = now
        d.step_started_at = now
        d.due_at = compute_due(d, now)
        d.step_due_at = step_deadline(d, Stage.INTAKE, now)
    else:
        _close_pause(d, now)
        # Art. 19.5: the processing period restarts from zero.
        d.status = Status.PROCESSING
        d.period_started_at = now
        d.due_at = compute_due(d, now)
        d.step_due_at = step_deadline(d, Stage.PROCESSING, now)
    return {"previous_due_at": _iso(previous_due)}


def _h_refuse(d, actor, now, comment, params):
    _close_pause(d, now)
    d.finished_at = now
    return {}


def _h_assign(d, actor, now, comment, params):
    d.assignee = _resolve_assignee(d, params.get("assignee"))
    return {"assignee": d.assignee.get_username()}


def _h_request_obligation(d, actor, now, comment, params):
    Pause.objects.create(dossier=d, kind=Pause.Kind.OBLIGATION, started_at=now)
    return {}


def _h_obligation_fulfilled(d, actor, now, comment, params):
    pause = _close_pause(d, now)
    minutes = pause.working_minutes if pause else 0
    previous_due = d.due_at
    # The waiting time is not counted: deadlines move by exactly the paused working time.
    if d.due_at:
        d.due_at = deadlines.add_working_minutes(d.due_at, minutes)
    if d.step_due_at:
        d.step_due_at = deadlines.add_working_minutes(d.step_due_at, minutes)
    return {"paused_working_minutes": minutes, "previous_due_at": _iso(previous_due)}


def _h_propose_result(d, actor, now, comment, params):
    d.result_summary = str(params.get("result") or comment or "")
    return {}


def _h_finish(d, actor, now, comment, params):
    if params.get("result"):
        d.result_summary = str(params["result"])
    d.finished_at = now
    return {}


def parse_new_due(value):
    """A date (end of that working day) or an aware/naive ISO datetime."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    if isinstance(value, date):
        day = value
    else:
        text = str(value or "").strip()
        parsed = parse_datetime(text) if "T" in text or " " in text else None
        if parsed:
            return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
        try:
            day = parse_date(text)
        except ValueError:
            day = None
        if day is None:
            try:
                day = datetime.strptime(text, "%d/%m/%Y").date()
            except ValueError:
                return None
    return timezone.make_aware(datetime.combine(day, deadlines.get_calendar().sessions[-1][1]))


def _h_extend(d, actor, now, comment, params):
    new_due = parse_new_due(params.get("new_due_at"))
    if new_due is None:
        raise ActionInputError({"new_due_at": [_("Enter the new due date (dd/mm/yyyy).")]})
    if new_due <= d.due_at:
        raise ActionInputError(
            {"new_due_at": [_("The new due date must be after the current one (%(date)s).") % {"date": _fmt(d.due_at)}]}
        )
    d.original_due_at = d.due_at
    d.due_at = new_due
    return {"original_due_at": _iso(d.original_due_at), "new_due_at": _iso(new_due)}


def _h_close(d, actor, now, comment, params):
    _close_pause(d, now)
    d.finished_at = now
    return {}


def _h_return_result(d, actor, now, comment, params):
    collected_by = str(params.get("collected_by") or "").strip()
    method = str(params.get("method") or "in_person")
    errors = {}
    if not collected_by:
        errors["collected_by"] = [_("Enter who collected the result.")]
    if method not in Channel.values:
        errors["method"] = [_("Unknown return method.")]
    if errors:
        raise ActionInputError(errors)
    d.returned_at = now
    d.returned_to = collected_by[:255]
    d.return_method = method
    return {"collected_by": d.returned_to, "method": method}


_HANDLERS = {
    "receive": _h_receive,
    "request_supplement": _h_request_supplement,
    "supplement_received": _h_supplement_received,
    "refuse": _h_refuse,
    "assign": _h_assign,
    "reassign": _h_assign,
    "request_obligation": _h_request_obligation,
    "obligation_fulfilled": _h_obligation_fulfilled,
    "propose_result": _h_propose_result,
    "approve": _h_finish,
    "mark_result_ready": _h_finish,
    "extend": _h_extend,
    "stop": _h_close,
    "withdraw": _h_close,
    "return_result": _h_return_result,
}


def close_expired_supplements(now=None):
    """Close dossiers whose supplement has not come back within SUPPLEMENT_WAIT_DAYS (Art. 19.5).
    Safe to run twice: it selects by state, and each close re-checks the state under a lock."""
    now = now or timezone.now()
    limit = now - timedelta(days=SUPPLEMENT_WAIT_DAYS)
    closed = 0
    for dossier in Dossier.objects.filter(status=Status.AWAITING_SUPPLEMENT).iterator():
        last_request = dossier.events.filter(action="request_supplement").order_by("-created_at").first()
        if last_request is None or last_request.created_at >= limit:
            continue
        try:
            dossier_act(
                dossier=dossier,
                actor=None,
                action="stop",
                comment=_("Closed: the supplement was not completed within %(days)s days.")
                % {"days": SUPPLEMENT_WAIT_DAYS},
                now=now,
                system=True,
            )
            closed += 1
        except WorkflowConflict:
            continue
    return closed
