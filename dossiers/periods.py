"""A dossier's periods: its procedure snapshot, its due date, each workflow step's deadline,
pauses and the time windows of Decree 118/2025. Pure computations over a dossier (plus the
pause rows), built on the working-day engine (`procedures.deadlines`); the workflow's guards and
effects (dossiers/workflow.py) and the services call them.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from procedures import deadlines
from procedures.models import DEFAULT_WORKFLOW, Role

from .models import Channel, Stage

# An incomplete dossier that is not completed within this many days is closed (Art. 19.5);
# calendar days counted by the Civil Code (`supplement_wait_end`).
SUPPLEMENT_WAIT_DAYS = 15
# Supplements during processing may only be requested this many working days after intake.
PROCESSING_SUPPLEMENT_WINDOW_DAYS = 3
# Online submissions must be accepted or sent back within 8 working hours (Art. 17.2).
ONLINE_INTAKE_MINUTES = 8 * 60
# ... and the reception officers are alerted when one still waits after 2 working hours.
ONLINE_INTAKE_ALERT_MINUTES = 2 * 60
# A wrong result is corrected within this many working days of the report (Art. 23.1).
CORRECTION_WORKING_DAYS = 3
# Fees collected at the desk are remitted within 8 working hours (Art. 24.3).
FEE_REMITTANCE_MINUTES = 8 * 60

# Whose step each stage is: (role, which of the dossier's agencies). The step deadlines, the
# reminders ("who must act now") and the control slip read it. During processing and approval, and
# while a hand-over waits, it is the handling agency: a step of another agency is held by that
# agency (inter-agency routing); otherwise the handling agency is the competent one.
STAGE_OWNERS = {
    Stage.INTAKE: (Role.RECEPTION, "receiving"),
    Stage.PROCESSING: (Role.SPECIALIST, "handling"),
    Stage.APPROVAL: (Role.LEADER, "handling"),
    Stage.HANDOVER: (Role.LEADER, "handling"),
    Stage.RETURN: (Role.RECEPTION, "returning"),
}


def default_workflow():
    """The default workflow as a snapshot's list of steps."""
    return [{"name": name, "role": role.value, "share": share} for name, role, share in DEFAULT_WORKFLOW]


def workflow_steps(dossier):
    return dossier.procedure_snapshot.get("workflow") or default_workflow()


def procedure_snapshot(procedure):
    steps = [
        {
            "name": s.name,
            "role": s.role,
            "share": s.time_share,
            # Inter-agency routing: a step of another agency (None: the dossier's own, see step_agency_id).
            "agency": s.agency_id,
            "agency_code": s.agency.code if s.agency_id else None,
            "agency_name": s.agency.name if s.agency_id else None,
        }
        for s in sorted(procedure.workflow_steps.all(), key=lambda s: (s.position, s.pk))
    ]
    return {
        "code": procedure.code,
        "name": procedure.name,
        "version": procedure.version,
        "processing_days": str(procedure.processing_days),
        "same_day_cutoff": procedure.same_day_cutoff.strftime("%H:%M") if procedure.same_day_cutoff else None,
        "fee_text": procedure.fee_text,
        "fee_vnd": procedure.fee_vnd,
        "documents": [
            {"name": d.name, "originals": d.originals, "copies": d.copies, "required": d.required}
            for d in sorted(procedure.documents.all(), key=lambda d: (d.position, d.pk))
        ],
        "workflow": steps or default_workflow(),
    }


def _processing_days(dossier):
    return Decimal(dossier.procedure_snapshot.get("processing_days") or "0")


def _cutoff(dossier):
    value = dossier.procedure_snapshot.get("same_day_cutoff")
    return datetime.strptime(value, "%H:%M").time() if value else None


def compute_due(dossier, start):
    return deadlines.compute_due_at(start, _processing_days(dossier), cutoff=_cutoff(dossier))


def transfer_deadline(received_at):
    """When a paper dossier accepted at `received_at` must reach the processing agency (Art. 18.2):
    accepted on a working day up to `settings.TRANSFER_CUTOFF` (15:00) → the close of that day;
    later, or on a day off → "at the start (đầu giờ) of the next working day", read as within
    `settings.TRANSFER_NEXT_DAY_MINUTES` working minutes of its opening (docs/workflow.md)."""
    local = timezone.localtime(received_at)
    calendar = deadlines.get_calendar()
    day = local.date()
    if local.time() <= settings.TRANSFER_CUTOFF and calendar.is_working_day(day):
        return calendar.close_of_day(day)
    opening = calendar.opening_of_day(calendar.next_working_day(day))
    return deadlines.add_working_minutes(opening, settings.TRANSFER_NEXT_DAY_MINUTES, calendar)


# --- Inter-agency routing: the steps of a dossier and whose each is -------------------------------

# Which role's step each stage is.
STAGE_ROLES = {Stage.PROCESSING: Role.SPECIALIST, Stage.APPROVAL: Role.LEADER}


def step_agency_id(dossier, index, steps=None):
    """The agency whose officers hold step `index` of the dossier's workflow: the step's own agency
    when the procedure names one (a provincial department, the tax office…), else the receiving
    desk for the first reception step, the returning desk for the last, the competent agency for
    every other step (Decree 118/2025, Art. 20; docs/workflow.md)."""
    steps = workflow_steps(dossier) if steps is None else steps
    step = steps[index]
    if step.get("agency"):
        return step["agency"]
    if step["role"] == Role.RECEPTION and index == 0:
        return dossier.receiving_agency_id
    if step["role"] == Role.RECEPTION and index == len(steps) - 1:
        return dossier.returning_agency_id
    return dossier.competent_agency_id


def stage_of_step(steps, index):
    """The stage a dossier is in at step `index`: intake (the first reception step), return (the
    last), processing (a specialist's step) or approval (a leader's)."""
    role = steps[index]["role"]
    if role == Role.RECEPTION:
        return Stage.INTAKE if index == 0 else Stage.RETURN
    return Stage.APPROVAL if role == Role.LEADER else Stage.PROCESSING


def routed_steps(dossier):
    """Positions of the steps a dossier passes through: the first, every specialist's and leader's
    step, and the last (a reception step in the middle of a workflow is nobody's turn)."""
    steps = workflow_steps(dossier)
    last = len(steps) - 1
    return [i for i, s in enumerate(steps) if i in (0, last) or s["role"] != Role.RECEPTION]


def current_step_index(dossier):
    """The dossier's step position: `step_index`, or (a dossier written before inter-agency
    routing) the first step of its stage's role."""
    if dossier.step_index is not None:
        return dossier.step_index
    return locate_step(dossier, dossier.stage, None)


def next_step_index(dossier):
    """The position of the step after the current one (None at the last)."""
    current = current_step_index(dossier)
    following = [i for i in routed_steps(dossier) if current is None or i > current]
    return following[0] if following else None


def is_last_step(dossier, index):
    return index is not None and index == len(workflow_steps(dossier)) - 1


def locate_step(dossier, stage, current):
    """The step position a dossier reaches when it moves to `stage` from step `current`: intake →
    the first, return → the last; processing or approval → the next step of that role held by the
    handling agency (forward from `current`), else the nearest one before it (a leader sending
    back), else the first step of that role."""
    steps = workflow_steps(dossier)
    if not steps or stage in (Stage.CLOSED, Stage.HANDOVER):
        return current
    if stage == Stage.INTAKE:
        return 0
    if stage == Stage.RETURN:
        return len(steps) - 1
    role = STAGE_ROLES.get(stage)
    matching = [i for i in routed_steps(dossier) if steps[i]["role"] == role]
    if not matching:
        return current
    handling = dossier.handling_agency_id
    own = [i for i in matching if handling is None or step_agency_id(dossier, i, steps) == handling]
    if current is not None:
        ahead = [i for i in own if i > current]
        if ahead:
            return ahead[0]
        behind = [i for i in own if i < current]
        if behind:
            return behind[-1]
    return (own or matching)[0]


def follow_step(dossier, previous_index):
    """Place a dossier that moved to a new stage on its step: the step after `previous_index` when
    it is that stage's (a move forward), else the nearest of that stage (`locate_step`: a leader
    sending back); and the agency holding that step becomes the handling agency."""
    if dossier.stage == Stage.CLOSED:
        return
    steps = workflow_steps(dossier)
    following = None
    if previous_index is not None:
        later = [i for i in routed_steps(dossier) if i > previous_index]
        following = later[0] if later else None
    if following is not None and stage_of_step(steps, following) == dossier.stage:
        index = following
    else:
        index = locate_step(dossier, dossier.stage, previous_index)
    if index is None:
        return
    dossier.step_index = index
    dossier.handling_agency_id = step_agency_id(dossier, index, steps)


def step_deadline(dossier, stage, now):
    """The planned deadline of the workflow step for `stage`: the procedure's steps share the
    period between intake and `due_at`; a step is due when the cumulative share up to it ends.
    At intake: an online submission's 8 working hours (Art. 17.2), then for a paper dossier (in
    person or by post) the transfer of Art. 18.2; an accepted online dossier is already in the
    system (Art. 18.2 is about paper), so its intake step takes the reception step's share."""
    if stage == Stage.INTAKE:
        if dossier.channel == Channel.ONLINE and dossier.received_at is None:
            return deadlines.add_working_minutes(dossier.submitted_at, ONLINE_INTAKE_MINUTES)
        if dossier.received_at is None:
            return None
        if dossier.channel != Channel.ONLINE:
            return transfer_deadline(dossier.received_at)
    if dossier.due_at is None or stage in (Stage.CLOSED,):
        return None
    steps = workflow_steps(dossier)
    role = STAGE_OWNERS.get(stage, (Role.RECEPTION, ""))[0]
    indexes = [i for i, s in enumerate(steps) if s["role"] == role]
    if stage == Stage.HANDOVER and dossier.step_index is not None:
        # A hand-over waiting for acceptance: part of the time of the step it was handed to.
        indexes = [dossier.step_index]
    if stage == Stage.RETURN or not indexes:
        return dossier.due_at
    # The step the dossier is at (inter-agency workflows have several steps of a role); the last
    # matching step for reception means "return"; others take their first match.
    index = indexes[0]
    if dossier.step_index is not None and dossier.step_index < len(steps) and stage in STAGE_ROLES:
        index = dossier.step_index
    cumulative = sum(int(s.get("share") or 0) for s in steps[: index + 1])
    start = deadlines.counting_start(dossier.period_started_at or dossier.received_at)
    total = deadlines.working_minutes_between(start, dossier.due_at)
    return deadlines.add_working_minutes(start, total * min(cumulative, 100) / 100)


def supplement_wait_end(requested_at):
    """When a dossier asked for a supplement at `requested_at` is closed if still incomplete
    (Art. 19.5): SUPPLEMENT_WAIT_DAYS calendar days by the Civil Code (deadlines.civil_period_end:
    the request day not counted, 24:00 of day 15, moved past days off)."""
    return deadlines.civil_period_end(requested_at, SUPPLEMENT_WAIT_DAYS)


def online_intake_alert_at(dossier, calendar=None):
    """When an online submission still waiting for acceptance is brought to the desk's attention
    (2 working hours after submission; Art. 17.2 gives the desk 8). `calendar`: the one a caller
    judging many dossiers already holds (else one is read)."""
    return deadlines.add_working_minutes(dossier.submitted_at, ONLINE_INTAKE_ALERT_MINUTES, calendar)


def correction_deadline(reported_at):
    """The close of the CORRECTION_WORKING_DAYS-th working day after the day a wrong result was
    reported (Art. 23.1; the report day is not counted, as for the civil_code policy)."""
    calendar = deadlines.get_calendar()
    day = calendar.add_working_days(timezone.localdate(reported_at), CORRECTION_WORKING_DAYS)
    return calendar.close_of_day(day)


def collects_fee(dossier):
    """Whether the desk collects a fee for `dossier` when it accepts it: a procedure with a fee
    amount (as received) and a paper dossier (online fees are paid through the payment platform,
    which remits them itself)."""
    amount = dossier.procedure_snapshot.get("fee_vnd")
    return bool(amount) and dossier.channel != Channel.ONLINE


def fee_remittance_deadline(collected_at):
    """8 working hours after the fee was collected (Art. 24.3)."""
    return deadlines.add_working_minutes(collected_at, FEE_REMITTANCE_MINUTES)


def supplement_window_end(dossier):
    """Until when a supplement may be requested during processing (Art. 19.5)."""
    if dossier.received_at is None:
        return None
    calendar = deadlines.get_calendar()
    day = calendar.add_working_days(timezone.localdate(dossier.received_at), PROCESSING_SUPPLEMENT_WINDOW_DAYS)
    return calendar.close_of_day(day)


def close_pause(dossier, now):
    """End the dossier's open pause (if any) at `now`, recording its working minutes."""
    pause = dossier.pauses.filter(ended_at__isnull=True).order_by("-started_at").first()
    if pause is None:
        return None
    pause.ended_at = now
    pause.working_minutes = deadlines.working_minutes_between(pause.started_at, now)
    pause.save(update_fields=["ended_at", "working_minutes"])
    return pause


NEW_DUE_UNREADABLE, NEW_DUE_DAY_OFF, NEW_DUE_AFTER_CLOSE = "unreadable", "day_off", "after_close"


class NewDue(NamedTuple):
    moment: datetime | None
    problem: str | None
    day: date | None


def parse_new_due(value):
    """The new appointment of an extension letter (Art. 19.6, 12.5) as `(moment, problem, day)`.

    The new date must be a working day, and the appointment is at the close of a session: a date
    (dd/mm/yyyy or ISO) → the close of that working day; a datetime → the close of the session it
    falls in (or of the next session that day: 12:00 → 17:00). The engine does not move a date
    the officer wrote onto another day (the letter says that date): a day off gives the problem
    NEW_DUE_DAY_OFF, a time after the day's last session NEW_DUE_AFTER_CLOSE, an unreadable value
    NEW_DUE_UNREADABLE (and no moment); otherwise the problem is None."""
    calendar = deadlines.get_calendar()
    moment = day = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        day = value
    else:
        text = str(value or "").strip()
        parsed = parse_datetime(text) if "T" in text or " " in text else None
        if parsed:
            moment = parsed
        else:
            try:
                day = parse_date(text)
            except ValueError:
                day = None
            if day is None:
                try:
                    day = datetime.strptime(text, "%d/%m/%Y").date()
                except ValueError:
                    return NewDue(None, NEW_DUE_UNREADABLE, None)
    if moment is not None:
        moment = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        day = timezone.localdate(moment)
    if not calendar.is_working_day(day):
        return NewDue(None, NEW_DUE_DAY_OFF, day)
    if moment is None:
        return NewDue(calendar.close_of_day(day), None, day)
    close = calendar.session_close_at_or_after(moment)
    return NewDue(close, None if close is not None else NEW_DUE_AFTER_CLOSE, day)


def next_working_day(day):
    return deadlines.get_calendar().next_working_day(day)
