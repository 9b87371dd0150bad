"""The dossier services: creating a dossier at the desk and the one transition function.

`dossier_act()` is the only place a dossier's status changes. It locks the row, checks the
workflow table (dossiers/workflow.py: the action's sources, who acts at this stage, its guard),
applies the action's effect, appends a `DossierEvent` and tells the listeners through the one hook
(`dossiers.signals.dossier_transition`: the notifications' outbox rows, the statistics counters),
all in one transaction. Invalid or conflicting actions raise `WorkflowConflict` (HTTP 409) and
change nothing.
"""

from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import roles as permissions
from procedures.models import Agency, Role

from . import attachments, codes, sealing, selectors, signals, workflow
from .models import Channel, Dossier, DossierEvent, Stage, Status, hash_pin, judge, make_pin
from .periods import (
    SUPPLEMENT_WAIT_DAYS,
    compute_due,
    follow_step,
    procedure_snapshot,
    step_deadline,
    supplement_wait_end,
)
from .workflow import ActionInputError, WorkflowConflict

__all__ = [
    "ActionInputError",
    "WorkflowConflict",
    "available_actions",
    "close_expired_supplements",
    "compute_due",
    "dossier_act",
    "dossier_create",
    "dossier_receive",
    "dossier_reissue_pin",
    "next_code",
    "procedure_snapshot",
]


# --- Codes --------------------------------------------------------------------------------


# `dossiers.codes`: the Art. 28 code given at acceptance and the provisional reference before it.
next_code = codes.next_code


# --- Creating a dossier at the desk ----------------------------------------------------------


def default_competent_agency(procedure, receiving_agency, implementing=None):
    """The agency that handles a dossier of `procedure` received at `receiving_agency`: the desk's
    own agency when it implements the procedure, else (boundary-free intake) the first that does."""
    implementing = list(procedure.agencies.all()) if implementing is None else implementing
    local = not implementing or receiving_agency in implementing
    return receiving_agency if local else implementing[0]


def _resolve_agencies(actor, procedure, receiving_agency, competent_agency, returning_agency, system=False):
    if receiving_agency is None:
        desks = permissions.agencies_with_role(actor, Role.RECEPTION)
        if len(desks) != 1:
            raise ActionInputError({"receiving_agency": [_("Choose the receiving agency.")]})
        receiving_agency = Agency.objects.get(pk=desks[0])
    if not system and not permissions.has_role(actor, Role.RECEPTION, receiving_agency.pk):
        raise PermissionDenied(_("You are not a reception officer of this agency."))
    implementing = list(procedure.agencies.all())
    if competent_agency is None:
        competent_agency = default_competent_agency(procedure, receiving_agency, implementing)
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
    intake_key=None,
    system=False,
    return_method="",
    now=None,
):
    """Log a dossier at the desk. Returns `(dossier, pin)`; the PIN is never stored in clear.

    In person or by post the dossier is accepted now (status 2, the period starts). Online
    submissions wait for acceptance (status 1). `missing_documents` (a non-empty list) records an
    incomplete dossier: the one supplement request at intake (Mẫu 02) is issued instead.
    `system=True` (with `actor=None` and a `receiving_agency`): an online submission received from
    the national portal (interop.inbound), logged without an officer, so no role is checked.
    """
    now = now or timezone.now()
    if not procedure.published:
        raise ActionInputError({"procedure": [_("This procedure is not published.")]})
    if not (applicant_name or "").strip():
        raise ActionInputError({"applicant_name": [_("This field is required.")]})
    if channel not in Channel.values:
        raise ActionInputError({"channel": [_("Unknown channel.")]})
    if return_method and return_method not in Channel.values:
        raise ActionInputError({"return_method": [_("Unknown return method.")]})
    receiving_agency, competent_agency, returning_agency = _resolve_agencies(
        actor, procedure, receiving_agency, competent_agency, returning_agency, system=system
    )
    missing = [str(m).strip() for m in (missing_documents or []) if str(m).strip()]
    snapshot = procedure_snapshot(procedure)
    pin = make_pin()
    # Only a complete paper dossier is accepted now and gets its Art. 28 code; an online submission
    # or an incomplete dossier gets a provisional reference until it is accepted (dossiers.codes).
    accepted_now = not missing and channel != Channel.ONLINE
    with transaction.atomic():
        code = "" if accepted_now else codes.next_reference(receiving_agency, timezone.localdate(now))
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
            # How the applicant asked to receive the result (the receipt ticks it); the return
            # action records how it was actually handed over.
            return_method=return_method or "",
            submitted_at=now,
            intake_key=intake_key or None,
            created_by=actor,
        )
        if missing:
            dossier.supplement_requests = 1
            action, comment = "request_supplement", "\n".join(missing)
            data = {"missing_documents": missing, "complete_by": _iso(supplement_wait_end(now))}
        elif channel == Channel.ONLINE:
            action, comment, data = "submit", "", {}
        else:
            action, comment, data = "receive", "", workflow.accept(dossier, now)
        dossier.pin_hash = hash_pin(dossier.pin_key, pin)
        dossier.status, dossier.stage = workflow.CREATION[action]
        dossier.step_index, dossier.handling_agency = 0, receiving_agency
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
        _forget_counts(actor)
    return dossier, pin


def dossier_receive(*, actor, procedure, files=(), intake_key=None, forward_to=None, **fields):
    """The desk's reception: the dossier (`dossier_create`, same keyword arguments) and its scanned
    documents in one transaction; a rejected file leaves nothing behind. Returns `(dossier, pin)`.

    `forward_to` (a specialist, or their id): "accept and forward" — an accepted dossier is
    assigned to them (`dossier_act` "assign") in the same transaction; a refused assignment
    leaves no dossier behind.

    `intake_key` is the reception form's one-time key: when a dossier was already created with it
    (a double submit, a retried request, even concurrently: the key is unique), that dossier is
    returned with `pin=None` and nothing new is written. A key of another officer's dossier is
    refused (ActionInputError)."""
    try:
        with transaction.atomic():
            dossier, pin = dossier_create(actor=actor, procedure=procedure, intake_key=intake_key, **fields)
            for uploaded in files:
                attachments.add_attachment(dossier=dossier, uploaded_file=uploaded, actor=actor)
            if forward_to and dossier.status == Status.RECEIVED:
                assignee = getattr(forward_to, "pk", forward_to)
                dossier = dossier_act(
                    dossier=dossier, actor=actor, action="assign", assignee=str(assignee), now=fields.get("now")
                )
    except IntegrityError:
        existing = Dossier.objects.filter(intake_key=intake_key).first() if intake_key else None
        if existing is None:
            raise
        if existing.created_by_id != actor.pk:
            message = _("This form was already used: open the reception form again.")
            raise ActionInputError({"__all__": [message]}) from None
        return existing, None
    return dossier, pin


# --- A new PIN at the desk ----------------------------------------------------------------

# Who may reissue the lookup PIN: the desk that received the dossier or returns its result.
PIN_DESKS = ((Role.RECEPTION, "receiving"), (Role.RECEPTION, "returning"))


def may_reissue_pin(user, dossier):
    return permissions.may_take(user, dossier, PIN_DESKS)


def dossier_reissue_pin(*, dossier, actor, now=None):
    """A new lookup PIN for an applicant who lost theirs (checked at the desk). The old PIN stops
    working at once (only the new one's hash is kept); a `reissue_pin` DossierEvent records who
    and when. Returns `(dossier, pin)`: the PIN is shown once and printed on a new receipt.
    Not a transition: the status and the clock do not change, and the listeners are not told."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Dossier.objects.select_for_update(of=("self",)).get(pk=dossier.pk)
        if not may_reissue_pin(actor, locked):
            raise PermissionDenied(_("Only the reception desk of this dossier can issue a new PIN."))
        pin = make_pin()
        locked.pin_hash = hash_pin(locked.pin_key, pin)
        locked.save(update_fields=["pin_hash", "updated_at"])
        DossierEvent.objects.create(
            dossier=locked,
            actor=actor,
            action="reissue_pin",
            from_status=locked.status,
            to_status=locked.status,
            from_stage=locked.stage,
            to_stage=locked.stage,
            created_at=now,
        )
    return locked, pin


# --- The transition service ---------------------------------------------------------------


def available_actions(user, dossier, now=None):
    """Names of the actions `user` may take on `dossier` now (table, role and time rules)."""
    now = now or timezone.now()
    names = []
    for name in workflow.allowed_from(dossier.status, dossier.stage):
        action = workflow.ACTIONS[name]
        if not workflow.may_act(user, dossier, workflow.actors_for(action, dossier.stage)):
            continue
        if action.guard is not None:
            try:
                action.guard(dossier, now)
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
    # A signed action (the approval) is signed first, outside the transaction: the signing service
    # may wait for the leader's confirmation (dossiers/sealing.py). A failure raises SealError here.
    seal = sealing.prepare(dossier=dossier, actor=actor, action=spec, now=now, params=params) if spec.signed else None
    try:
        return _act(dossier, actor, action, spec, comment, now, system, params, seal)
    except BaseException:
        if seal is not None:
            sealing.discard(seal)
        raise


def _act(dossier, actor, action, spec, comment, now, system, params, seal):
    with transaction.atomic():
        # Lock the dossier row only (not the joined procedure, which every dossier shares).
        locked = Dossier.objects.select_for_update(of=("self",)).select_related("procedure").get(pk=dossier.pk)
        if (locked.status, locked.stage) not in spec.sources:
            raise WorkflowConflict(
                _("“%(action)s” is not possible while the dossier is “%(status)s” (%(stage)s).")
                % {"action": spec.label, "status": locked.get_status_display(), "stage": locked.get_stage_display()}
            )
        if not system and not workflow.may_act(actor, locked, workflow.actors_for(spec, locked.stage)):
            raise PermissionDenied(_("You do not have the role needed for this action on this dossier."))
        if spec.needs_comment and not comment:
            raise ActionInputError({"comment": [_("A reason is required for this action.")]})
        if spec.guard is not None:
            spec.guard(locked, now)
        before = (locked.status, locked.stage)
        closing_step_due = locked.step_due_at
        holder = locked.handling_agency_id
        step_before = locked.step_index
        data = (spec.effect(locked, actor, now, comment, params) if spec.effect else None) or {}
        if seal is not None:
            data = {**data, **sealing.commit(locked, actor, now, seal)}
        if spec.target is not None and locked.status == before[0]:
            locked.status = spec.target
        if spec.target_stage is not None:
            locked.stage = spec.target_stage
        # The step the new stage is, and the agency holding it (inter-agency routing).
        if Stage.HANDOVER not in (before[1], locked.stage) and locked.stage != before[1]:
            follow_step(locked, step_before)
        if locked.handling_agency_id != holder and "handover" not in data and holder and locked.handling_agency_id:
            # The result going back to the returning desk, without an acceptance step.
            data = {**data, **workflow.handover_data(holder, locked.handling_agency_id)}
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
        _forget_counts(actor)
    dossier.refresh_from_db()
    return locked


def _forget_counts(actor):
    """The actor's workspace tabs count afresh after their own action (the cached counts,
    `selectors.cached_queue_counts`), once it is committed."""
    if actor is not None and getattr(actor, "pk", None) is not None:
        transaction.on_commit(lambda: selectors.forget_queue_counts(actor.pk))


def _iso(value):
    return value.isoformat() if value else None


def close_expired_supplements(now=None):
    """Close dossiers whose supplement has not come back within SUPPLEMENT_WAIT_DAYS (Art. 19.5):
    calendar days counted by the Civil Code from the last request (`supplement_wait_end`: the
    request day not counted, 24:00 of day 15, moved past days off). Safe to run twice: it selects
    by state, and each close re-checks the state under a lock."""
    now = now or timezone.now()
    # 15 calendar days from the day after the request end at least 15 days after it.
    earliest = now - timedelta(days=SUPPLEMENT_WAIT_DAYS)
    candidates = Dossier.objects.filter(status=Status.AWAITING_SUPPLEMENT, step_started_at__lte=earliest)
    closed = 0
    for dossier in candidates.iterator():
        last_request = dossier.events.filter(action="request_supplement").order_by("-created_at").first()
        if last_request is None or now < supplement_wait_end(last_request.created_at):
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
