"""A dossier's periods: its procedure snapshot, its due date, each workflow step's deadline,
pauses and the time windows of Decree 118/2025. Pure computations over a dossier (plus the
pause rows), built on the working-day engine (`procedures.deadlines`); the workflow's guards and
effects (dossiers/workflow.py) and the services call them.
"""

from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from procedures import deadlines
from procedures.models import DEFAULT_WORKFLOW, Role

from .models import Channel, Stage

# An incomplete dossier that is not completed within this many days is closed (Art. 19.5).
SUPPLEMENT_WAIT_DAYS = 15
# Supplements during processing may only be requested this many working days after intake.
PROCESSING_SUPPLEMENT_WINDOW_DAYS = 3
# Online submissions must be accepted or sent back within 8 working hours (Art. 17.2).
ONLINE_INTAKE_MINUTES = 8 * 60

# Whose step each stage is: (role, which of the dossier's agencies). The step deadlines, the
# reminders ("who must act now") and the control slip read it.
STAGE_OWNERS = {
    Stage.INTAKE: (Role.RECEPTION, "receiving"),
    Stage.PROCESSING: (Role.SPECIALIST, "competent"),
    Stage.APPROVAL: (Role.LEADER, "competent"),
    Stage.RETURN: (Role.RECEPTION, "returning"),
}


def default_workflow():
    """The default workflow as a snapshot's list of steps."""
    return [{"name": name, "role": role.value, "share": share} for name, role, share in DEFAULT_WORKFLOW]


def workflow_steps(dossier):
    return dossier.procedure_snapshot.get("workflow") or default_workflow()


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
        "workflow": steps or default_workflow(),
    }


def _processing_days(dossier):
    return Decimal(dossier.procedure_snapshot.get("processing_days") or "0")


def _cutoff(dossier):
    value = dossier.procedure_snapshot.get("same_day_cutoff")
    return datetime.strptime(value, "%H:%M").time() if value else None


def compute_due(dossier, start):
    return deadlines.compute_due_at(start, _processing_days(dossier), cutoff=_cutoff(dossier))


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
            return timezone.make_aware(datetime.combine(day, calendar.sessions[0][1]))
        return calendar.close_of_day(day)
    if dossier.due_at is None or stage in (Stage.CLOSED,):
        return None
    steps = workflow_steps(dossier)
    role = STAGE_OWNERS.get(stage, (Role.RECEPTION, ""))[0]
    indexes = [i for i, s in enumerate(steps) if s["role"] == role]
    if stage == Stage.RETURN or not indexes:
        return dossier.due_at
    # The last matching step for reception means "return"; others take their first match.
    index = indexes[0]
    cumulative = sum(int(s.get("share") or 0) for s in steps[: index + 1])
    start = deadlines.counting_start(dossier.period_started_at or dossier.received_at)
    total = deadlines.working_minutes_between(start, dossier.due_at)
    return deadlines.add_working_minutes(start, total * min(cumulative, 100) / 100)


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
    return deadlines.close_of_day(day)
