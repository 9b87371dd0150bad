"""The workflow table: every fact about each action lives on its `Action`.

Which (status, stage) an action starts from and where it leads, who takes it at each stage and
in which of the dossier's agencies, its guard (the time and history rules of Decree 118/2025)
and its effect on the dossier, its labels (the officers' screens, the printed control slip, the
citizen's timeline), the notice it sends the applicant, and whether it moves the dossier to its
next step. Views, the API, the admin, the queues, the digest, the notifications, the lookup, the
PDFs and the benchmark's generator read this table; `dossiers.services.dossier_act()` is the only
code that applies it. Events that are not transitions (an online submission, an attachment) have
an `Action` without sources in `EVENTS`, for their labels.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.roles import may_take, user_roles
from procedures import deadlines
from procedures.models import Agency, Role

from . import codes, periods
from .models import OPEN_STATUSES, Channel, Consultation, Dossier, DossierAgency, Pause, Stage, Status, judge

S = Status


class WorkflowConflict(Exception):
    """The action is not possible now (state, rule or concurrent change): HTTP 409."""


class ActionInputError(Exception):
    """Missing or malformed input for an action: HTTP 400. `errors` maps field → messages."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    # (status, stage) pairs the action starts from (empty: an event that is not a transition).
    sources: frozenset = frozenset()
    # Target status; None keeps the current status.
    target: int | None = None
    # Target stage; None keeps the current stage.
    target_stage: str | None = None
    roles: frozenset = frozenset()
    # Which of the dossier's agencies the actor must hold the role in: "receiving", "competent",
    # "returning", "handling" (the agency holding the current step: the competent agency unless a
    # step of the workflow belongs to another; inter-agency routing), "consulted" (an agency with an
    # open request for its opinion) or "tax_office" (an agency asked for the financial obligation's
    # notice); `may_act` checks the last two.
    scope: str = "handling"
    # Who acts at a given stage, when it differs from (each of `roles`, `scope`):
    # {stage: ((role, agency field), ...)}.
    stage_actors: dict = field(default_factory=dict)
    needs_comment: bool = False
    # The comment box's label when the comment is not a reason (a question, an opinion…).
    comment_label: str = ""
    # Extra parameters the action accepts (validated by its effect).
    params: tuple = ()
    # A "danger" action is shown as secondary in the UI (refuse, stop...).
    danger: bool = False
    # A dossier is "waiting for" whoever may take one of these now (the "Waiting for me" tab and
    # the digest); optional actions (extend, reassign, withdraw, stop…) do not make it wait.
    awaited: bool = False
    # Moves the dossier on to its next step: shown open on the dossier page (the others are folded).
    advances: bool = False
    # The result is signed as the action is taken (dossiers/sealing.py: the signing app's sealer).
    signed: bool = False
    # The label of the done action in the officers' history (default: `label`).
    done_label: str = ""
    # The control slip's words (Mẫu 06); printed forms are always in Vietnamese.
    print_label: str = ""
    # What the officer reads once the action is done (with %(code)s), in plain words.
    confirmation: str = ""
    # The applicant's notification (notifications.outbox template kind), if any.
    notice: str = ""
    # The citizen's timeline: ((conditions on the event, sentence), ...), the first whose
    # conditions hold wins; no entry: the citizen does not see this event. A sentence may use
    # %(agency)s (the `citizen_agency` of the dossier) and %(date)s (the event's new due date).
    citizen: tuple = ()
    # ("event": the agency named in the event's data, `agency_name` — a hand-over's receiver.)
    citizen_agency: str = "receiving"
    # What the timeline lists under the sentence: "missing" (documents to bring) or "comment".
    citizen_details: str = ""
    # guard(dossier, now) raises WorkflowConflict when a rule forbids the action now.
    guard: Callable | None = None
    # effect(dossier, actor, now, comment, params) -> event data: changes the locked dossier.
    effect: Callable | None = None

    @property
    def history_label(self):
        return self.done_label or self.label

    def actors(self, stage):
        """(role, agency field) pairs of whoever may take the action at `stage`."""
        pairs = self.stage_actors.get(stage)
        if pairs is not None:
            return pairs
        return tuple((role, self.scope) for role in sorted(self.roles))

    def citizen_text(self, event):
        """The timeline sentence for `event` (with placeholders), or None."""
        for conditions, text in self.citizen:
            if all(getattr(event, key) == value for key, value in conditions.items()):
                return text
        return None


def _src(*pairs):
    return frozenset(pairs)


OPEN_ANY_STAGE = (
    (S.AWAITING_SUPPLEMENT, Stage.INTAKE),
    (S.RECEIVED, Stage.INTAKE),
    (S.PROCESSING, Stage.PROCESSING),
    (S.PROCESSING, Stage.APPROVAL),
    (S.AWAITING_SUPPLEMENT, Stage.PROCESSING),
    (S.AWAITING_OBLIGATION, Stage.PROCESSING),
    (S.PROCESSING, Stage.HANDOVER),
)

# Where a dossier can be while another agency's opinion is asked for or given.
CONSULTING = ((S.PROCESSING, Stage.PROCESSING), (S.PROCESSING, Stage.APPROVAL))


CLOSED_ANY = tuple((status, Stage.CLOSED) for status in (S.REFUSED, S.WITHDRAWN, S.STOPPED, S.RETURNED))


# --- Guards: the time- and history-dependent rules (the table handles states) ------------------


def _guard_request_supplement(dossier, now):
    if (
        dossier.stage == Stage.INTAKE
        and dossier.events.filter(action="request_supplement", to_stage=Stage.INTAKE).exists()
    ):
        raise WorkflowConflict(_("A dossier gets only one supplement request at intake, listing every item."))
    if dossier.stage == Stage.PROCESSING:
        # One request during processing too, listing every item (Art. 11.2c, 19.5).
        if dossier.events.filter(action="request_supplement", to_stage=Stage.PROCESSING).exists():
            raise WorkflowConflict(
                _("A dossier gets only one supplement request during processing, listing every item.")
            )
        limit = periods.supplement_window_end(dossier)
        if limit is None or now > limit:
            raise WorkflowConflict(
                _("A supplement during processing may only be requested within %(days)s working days of intake.")
                % {"days": periods.PROCESSING_SUPPLEMENT_WINDOW_DAYS}
            )


def _guard_extend(dossier, now):
    if dossier.original_due_at is not None:
        raise WorkflowConflict(_("A dossier can be rescheduled only once."))
    if dossier.due_at is None or timezone.localdate(now) >= timezone.localdate(dossier.due_at):
        raise WorkflowConflict(
            _("The apology and extension letter must be issued at least one day before the due date.")
        )


def _guard_refuse(dossier, now):
    if dossier.stage != Stage.INTAKE and dossier.due_at and now > dossier.due_at:
        raise WorkflowConflict(_("A refusal after appraisal must be issued before the due date."))


def _guard_report_result_error(dossier, now):
    if dossier.correction_due_at is not None:
        raise WorkflowConflict(_("A correction of this result is already under way."))


def _guard_correct_result(dossier, now):
    if dossier.correction_due_at is None:
        raise WorkflowConflict(_("Record the reported error first, then the corrected result."))


def _guard_remit_fee(dossier, now):
    if dossier.fee_remit_due_at is None or dossier.fee_remitted_at is not None:
        raise WorkflowConflict(_("This dossier has no collected fee waiting to be remitted."))


def _guard_has_result(dossier, now):
    """A result is approved only when one was proposed: never an empty result."""
    if not (dossier.result_summary or "").strip():
        raise WorkflowConflict(_("No result was proposed: send the dossier back for the specialist to enter it."))


def _guard_mark_result_ready(dossier, now):
    if any(s["role"] == Role.LEADER for s in periods.workflow_steps(dossier)):
        raise WorkflowConflict(_("This procedure's result must be approved by a leader."))
    _guard_same_agency(dossier, now)


# --- Inter-agency routing (liên thông, Decree 118/2025 Art. 20) -------------------------------


def crossing(dossier):
    """(next step position, its agency id) when the dossier's next step belongs to another agency
    than the one holding it now, and is not the return of the result (that goes straight back to
    the returning desk); else None."""
    index = periods.next_step_index(dossier)
    if index is None or periods.is_last_step(dossier, index):
        return None
    agency_id = periods.step_agency_id(dossier, index)
    if agency_id == (dossier.handling_agency_id or dossier.competent_agency_id):
        return None
    return index, agency_id


def _agency_name(agency_id):
    return Agency.objects.filter(pk=agency_id).values_list("name", flat=True).first() or ""


def _guard_same_agency(dossier, now):
    """The usual actions move a dossier on within the agency holding it; a next step of another
    agency is reached by a hand-over."""
    step = crossing(dossier)
    if step is not None:
        raise WorkflowConflict(
            _("The next step belongs to %(agency)s: hand the dossier over to it.") % {"agency": _agency_name(step[1])}
        )


def _guard_approve(dossier, now):
    _guard_has_result(dossier, now)
    _guard_same_agency(dossier, now)


def _guard_hand_over(dossier, now):
    if crossing(dossier) is None:
        raise WorkflowConflict(_("The next step of this dossier belongs to the agency that holds it: no hand-over."))


def participate(dossier, agency_id, kind, now):
    """Record that `agency_id` took part in `dossier` (read access for good; `DossierAgency`),
    unless it is already one of the dossier's own agencies."""
    if agency_id in (dossier.receiving_agency_id, dossier.competent_agency_id, dossier.returning_agency_id):
        return
    DossierAgency.objects.get_or_create(dossier=dossier, agency_id=agency_id, kind=kind, defaults={"since": now})


def handover_data(giver_id, receiver_id, **extra):
    """The event data of a hand-over between two agencies: who gave, who received (codes and names,
    as printed on the control slip and told to the citizen)."""
    agencies = {a.pk: a for a in Agency.objects.filter(pk__in=[giver_id, receiver_id])}
    giver, receiver = agencies.get(giver_id), agencies.get(receiver_id)
    return {
        "handover": {
            "giver_agency": giver.code if giver else "",
            "giver_agency_name": giver.name if giver else "",
            "receiver_agency": receiver.code if receiver else "",
            "receiver_agency_name": receiver.name if receiver else "",
            **extra,
        },
        "agency_name": receiver.name if receiver else "",
    }


def last_handover(dossier):
    """The newest hand-over event of `dossier` (the one a pending hand-over came from)."""
    return dossier.events.filter(action="hand_over").order_by("-created_at", "-id").first()


def _hand_over(d, actor, now, comment, params):
    index, receiver = crossing(d)
    giver = d.handling_agency_id or d.competent_agency_id
    steps = periods.workflow_steps(d)
    previous = d.assignee.get_username() if d.assignee_id else ""
    data = handover_data(
        giver,
        receiver,
        from_step=periods.current_step_index(d),
        step=index,
        step_name=steps[index]["name"],
        previous_assignee=previous,
    )
    d.handling_agency_id = receiver
    d.step_index = index
    d.assignee = None
    participate(d, receiver, DossierAgency.Kind.HANDLED, now)
    return data


def _accept_handover(d, actor, now, comment, params):
    handed = last_handover(d)
    sides = (handed.data or {}).get("handover", {}) if handed else {}
    d.stage = periods.stage_of_step(periods.workflow_steps(d), d.step_index)
    data = {
        "handover": {**sides, "accepted_by": actor.get_username() if actor else ""},
        "agency_name": sides.get("receiver_agency_name", ""),
    }
    if d.stage == Stage.PROCESSING:
        value = params.get("assignee")
        if value in (None, "") and actor is not None and (Role.SPECIALIST, d.handling_agency_id) in user_roles(actor):
            value = actor.get_username()  # a specialist who accepts takes the dossier
        d.assignee = resolve_assignee(d, value)
        data["assignee"] = d.assignee.get_username()
    return data


def _return_handover(d, actor, now, comment, params):
    handed = last_handover(d)
    if handed is None:
        raise WorkflowConflict(_("This dossier has no hand-over to send back."))
    sides = (handed.data or {}).get("handover", {})
    receiver = d.handling_agency_id
    d.handling_agency_id = Agency.objects.filter(code=sides.get("giver_agency")).values_list("pk", flat=True).first()
    d.step_index = sides.get("from_step")
    d.stage, d.status = handed.from_stage, handed.from_status
    previous = sides.get("previous_assignee")
    d.assignee = get_user_model().objects.filter(username=previous).first() if previous else None
    return handover_data(receiver, d.handling_agency_id, sent_back=True)


def _agency_list(value):
    """Agencies named by codes or ids (a list, or text split on commas and new lines)."""
    if isinstance(value, str):
        value = [part for line in value.splitlines() for part in line.split(",")]
    names = [str(v).strip() for v in value or () if str(v).strip()]
    found, unknown = [], []
    for name in names:
        lookup = Q(code=name) | (Q(pk=int(name)) if name.isdigit() else Q())
        agency = Agency.objects.filter(lookup).first()
        if agency is None:
            unknown.append(name)
        elif agency not in found:
            found.append(agency)
    return found, unknown


def _working_days(value, default=None):
    text = str(value if value not in (None, "") else (default if default is not None else "")).strip()
    try:
        days = Decimal(text.replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    if not days.is_finite() or days <= 0 or days > CONSULTATION_MAX_DAYS or (days * 2) % 1:
        return None
    return days


# The longest answer period an officer may give a consulted agency (working days).
CONSULTATION_MAX_DAYS = 30
# The tax office's notice of the financial obligation, when the request names no period.
OBLIGATION_NOTICE_DAYS = 5


def _consult(d, actor, now, comment, params):
    agencies, unknown = _agency_list(params.get("agencies"))
    errors = {}
    holder = d.handling_agency_id or d.competent_agency_id
    if unknown:
        errors["agencies"] = [_("Unknown agency: %(codes)s.") % {"codes": ", ".join(unknown)}]
    elif not agencies:
        errors["agencies"] = [_("Choose the agencies whose opinion you ask for.")]
    elif any(a.pk == holder for a in agencies):
        errors["agencies"] = [_("An agency cannot consult itself.")]
    days = _working_days(params.get("days"))
    if days is None:
        errors["days"] = [
            _("Enter the answer period in working days (0.5 to %(max)s).") % {"max": CONSULTATION_MAX_DAYS}
        ]
    if errors:
        raise ActionInputError(errors)
    due = deadlines.compute_due_at(now, days)
    made = []
    for agency in agencies:
        consultation = Consultation.objects.create(
            dossier=d,
            requesting_agency_id=holder,
            agency=agency,
            requested_by=actor,
            question=comment,
            requested_at=now,
            due_at=due,
        )
        participate(d, agency.pk, DossierAgency.Kind.CONSULTED, now)
        made.append({"id": consultation.pk, "agency": agency.code, "agency_name": agency.name})
    return {"consultations": made, "consultation_due_at": _iso(due), "days": str(days)}


def open_consultations(dossier, kind, agency_ids):
    return Consultation.objects.filter(dossier=dossier, kind=kind, answered_at__isnull=True, agency_id__in=agency_ids)


# Scopes that are not a column of the dossier: the agencies with an open consultation of a kind.
CONSULTED_SCOPES = {"consulted": Consultation.Kind.OPINION, "tax_office": Consultation.Kind.OBLIGATION}


def _answered(d, actor, now, kind, params):
    """The actor's agency's open consultation of `kind` on `d` (param `consultation` picks one)."""
    roles = user_roles(actor) if actor is not None else frozenset()
    agency_ids = sorted({agency_id for _role, agency_id in roles})
    candidates = open_consultations(d, kind, agency_ids).select_related("agency")
    wanted = str(params.get("consultation") or "").strip()
    if wanted:
        candidates = candidates.filter(pk=int(wanted)) if wanted.isdigit() else candidates.none()
    consultation = candidates.order_by("due_at", "pk").first()
    if consultation is None:
        raise WorkflowConflict(_("Your agency has no open request on this dossier."))
    consultation.answered_at = now
    consultation.answered_by = actor
    consultation.outcome = judge(now, consultation.due_at)
    return consultation


def _answer_consultation(d, actor, now, comment, params):
    consultation = _answered(d, actor, now, Consultation.Kind.OPINION, params)
    consultation.answer = comment
    consultation.save(update_fields=["answered_at", "answered_by", "answer", "outcome"])
    return {
        "consultation": consultation.pk,
        "agency": consultation.agency.code,
        "agency_name": consultation.agency.name,
        "consultation_due_at": _iso(consultation.due_at),
        "consultation_outcome": consultation.outcome,
    }


def _record_obligation(d, actor, now, comment, params):
    amount = str(params.get("amount") or "").replace(".", "").replace(",", "").replace(" ", "").strip()
    notice = str(params.get("notice_number") or "").strip()
    errors = {}
    if not amount.isdigit() or len(amount) > 15:
        errors["amount"] = [_("Enter the amount to pay in VND (digits only).")]
    if not notice:
        errors["notice_number"] = [_("Enter the number of the notice.")]
    if errors:
        raise ActionInputError(errors)
    consultation = _answered(d, actor, now, Consultation.Kind.OBLIGATION, params)
    consultation.amount_vnd = int(amount)
    consultation.notice_number = notice[:100]
    consultation.answer = comment
    consultation.save(update_fields=["answered_at", "answered_by", "answer", "outcome", "amount_vnd", "notice_number"])
    return {
        "consultation": consultation.pk,
        "agency": consultation.agency.code,
        "agency_name": consultation.agency.name,
        "amount_vnd": consultation.amount_vnd,
        "notice_number": consultation.notice_number,
        "consultation_due_at": _iso(consultation.due_at),
        "consultation_outcome": consultation.outcome,
    }


def may_act(user, dossier, actors):
    """True if `user` may act as one of `actors` ((role, scope) pairs) on `dossier`: a role in the
    agency the scope names (accounts.roles.may_take), or, for the consulted scopes, a role in an
    agency with an open request of that kind on the dossier."""
    plain = [(role, scope) for role, scope in actors if scope not in CONSULTED_SCOPES]
    if plain and may_take(user, dossier, plain):
        return True
    for role, scope in actors:
        if scope not in CONSULTED_SCOPES:
            continue
        agency_ids = [agency_id for r, agency_id in user_roles(user) if r == role]
        if agency_ids and open_consultations(dossier, CONSULTED_SCOPES[scope], agency_ids).exists():
            return True
    return False


# --- Effects: what an action changes on the locked dossier (returns the event's data) ----------


def _fmt(dt):
    return date_format(timezone.localtime(dt), "SHORT_DATETIME_FORMAT")


def _iso(value):
    return value.isoformat() if value else None


def resolve_assignee(dossier, value):
    """The specialist of the agency holding the dossier's step (the competent agency, or the agency
    a step was handed to) named by `value` (username or id), or the least loaded one when `value`
    is empty."""
    User = get_user_model()
    agency_id = dossier.handling_agency_id or dossier.competent_agency_id
    specialists = User.objects.filter(
        is_active=True, memberships__role=Role.SPECIALIST, memberships__agency_id=agency_id
    )
    if value in (None, ""):
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


def accept(d, now):
    """The dossier is accepted at `now` (Art. 17.3): its Art. 28 code, the period, the fee the desk
    collects. Returns the event data. `dossier_create` calls it for a complete paper dossier."""
    data = codes.give_code(d, now)
    d.received_at = now
    d.due_at = periods.compute_due(d, now)
    if periods.collects_fee(d) and d.fee_collected_at is None:
        d.fee_collected_at = now
        d.fee_remit_due_at = periods.fee_remittance_deadline(now)
        data["fee_remit_due_at"] = _iso(d.fee_remit_due_at)
    return data


def _receive(d, actor, now, comment, params):
    return accept(d, now)


def _request_supplement(d, actor, now, comment, params):
    missing = params.get("missing_documents") or []
    if isinstance(missing, str):
        missing = [line for line in missing.splitlines() if line.strip()]
    d.supplement_requests += 1
    if d.stage == Stage.PROCESSING:
        Pause.objects.create(dossier=d, kind=Pause.Kind.SUPPLEMENT, started_at=now)
    # Not completed by then → closed (Art. 19.5); Mẫu 02 and the citizen's notice can say when.
    return {"missing_documents": [str(m) for m in missing], "complete_by": _iso(periods.supplement_wait_end(now))}


def mark_documents_received(d, indexes):
    """Tick the checklist lines at `indexes` (positions in `d.documents`, as numbers or text) as
    received now; returns their names. Unknown positions are an input error."""
    checklist = list(d.documents or [])
    names = []
    for raw in indexes or ():
        index = int(raw) if str(raw).strip().isdigit() else -1
        if not 0 <= index < len(checklist) or not isinstance(checklist[index], dict):
            raise ActionInputError({"documents": [_("Tick documents of this dossier's checklist.")]})
        if not checklist[index].get("received"):
            checklist[index] = {**checklist[index], "received": True}
            names.append(str(checklist[index].get("name") or ""))
    d.documents = checklist
    return names


def _supplement_received(d, actor, now, comment, params):
    previous_due = d.due_at
    # The documents the applicant brought: ticked on the checklist, printed on the reprinted receipt.
    received = mark_documents_received(d, params.get("documents"))
    data = {"documents_received": received} if received else {}
    if d.stage == Stage.INTAKE:
        # The complete dossier is accepted now: the period starts from this moment (and the
        # dossier gets its code, if it had only a provisional reference).
        d.status = Status.RECEIVED
        data = {**data, **accept(d, now)}
        d.step_started_at = now
        d.step_due_at = periods.step_deadline(d, Stage.INTAKE, now)
    else:
        periods.close_pause(d, now)
        # Art. 19.5: the processing period restarts from zero.
        d.status = Status.PROCESSING
        d.period_started_at = now
        d.due_at = periods.compute_due(d, now)
        d.step_due_at = periods.step_deadline(d, Stage.PROCESSING, now)
    return {**data, "previous_due_at": _iso(previous_due)}


def _assign(d, actor, now, comment, params):
    d.assignee = resolve_assignee(d, params.get("assignee"))
    return {"assignee": d.assignee.get_username()}


def _request_obligation(d, actor, now, comment, params):
    data = {}
    if params.get("tax_agency"):
        # Through the tax office (Art. 20): it records the amount and its notice; the clock waits.
        agencies, unknown = _agency_list([params["tax_agency"]])
        days = _working_days(params.get("days"), OBLIGATION_NOTICE_DAYS)
        if unknown or len(agencies) != 1:
            raise ActionInputError({"tax_agency": [_("Choose the tax office by its code.")]})
        if days is None:
            raise ActionInputError({"days": [_("Enter the notice period in working days.")]})
        tax = agencies[0]
        due = deadlines.compute_due_at(now, days)
        consultation = Consultation.objects.create(
            dossier=d,
            kind=Consultation.Kind.OBLIGATION,
            requesting_agency_id=d.handling_agency_id or d.competent_agency_id,
            agency=tax,
            requested_by=actor,
            question=comment,
            requested_at=now,
            due_at=due,
        )
        participate(d, tax.pk, DossierAgency.Kind.CONSULTED, now)
        data = {
            **handover_data(d.handling_agency_id or d.competent_agency_id, tax.pk),
            "consultations": [{"id": consultation.pk, "agency": tax.code, "agency_name": tax.name}],
            "consultation_due_at": _iso(due),
        }
    Pause.objects.create(dossier=d, kind=Pause.Kind.OBLIGATION, started_at=now)
    return data


def _obligation_fulfilled(d, actor, now, comment, params):
    pause = periods.close_pause(d, now)
    minutes = pause.working_minutes if pause else 0
    previous_due = d.due_at
    # The waiting time is not counted: deadlines move by exactly the paused working time.
    if d.due_at:
        d.due_at = deadlines.add_working_minutes(d.due_at, minutes)
    if d.step_due_at:
        d.step_due_at = deadlines.add_working_minutes(d.step_due_at, minutes)
    return {"paused_working_minutes": minutes, "previous_due_at": _iso(previous_due)}


def _result_text(d, params, fallback=""):
    """The result an action records: its `result` input (else `fallback`), never empty."""
    text = str(params.get("result") or fallback or "").strip()
    if not text:
        raise ActionInputError({"result": [_("Enter the result (what the applicant receives).")]})
    return text


def _propose_result(d, actor, now, comment, params):
    d.result_summary = _result_text(d, params, comment)
    return {}


def _finish(d, actor, now, comment, params):
    d.result_summary = _result_text(d, params, d.result_summary)
    d.finished_at = now
    return {}


def _extend(d, actor, now, comment, params):
    new_due, problem, day = periods.parse_new_due(params.get("new_due_at"))
    if problem == periods.NEW_DUE_DAY_OFF:
        raise ActionInputError(
            {
                "new_due_at": [
                    _("%(date)s is not a working day: choose a working day (the next one is %(next)s).")
                    % {
                        "date": date_format(day, "SHORT_DATE_FORMAT"),
                        "next": date_format(periods.next_working_day(day), "SHORT_DATE_FORMAT"),
                    }
                ]
            }
        )
    if problem == periods.NEW_DUE_AFTER_CLOSE:
        raise ActionInputError(
            {"new_due_at": [_("The office is closed at that time: choose a time within the office hours.")]}
        )
    if new_due is None:
        raise ActionInputError({"new_due_at": [_("Enter the new due date (dd/mm/yyyy).")]})
    if new_due <= d.due_at:
        raise ActionInputError(
            {"new_due_at": [_("The new due date must be after the current one (%(date)s).") % {"date": _fmt(d.due_at)}]}
        )
    d.original_due_at = d.due_at
    d.due_at = new_due
    return {"original_due_at": _iso(d.original_due_at), "new_due_at": _iso(new_due)}


def _report_result_error(d, actor, now, comment, params):
    d.correction_due_at = periods.correction_deadline(now)
    return {"correction_due_at": _iso(d.correction_due_at)}


def _correct_result(d, actor, now, comment, params):
    corrected = str(params.get("result") or "").strip()
    if not corrected:
        raise ActionInputError({"result": [_("Enter the corrected result.")]})
    if not d.original_result:
        d.original_result = d.result_summary
    previous, due = d.result_summary, d.correction_due_at
    d.result_summary = corrected
    d.correction_due_at = None
    return {
        "original_result": d.original_result,
        "previous_result": previous,
        "corrected_result": corrected,
        "correction_due_at": _iso(due),
        "correction_outcome": judge(now, due),
    }


def _remit_fee(d, actor, now, comment, params):
    d.fee_remitted_at = now
    return {"fee_remit_due_at": _iso(d.fee_remit_due_at), "fee_remittance_outcome": judge(now, d.fee_remit_due_at)}


def _close(d, actor, now, comment, params):
    periods.close_pause(d, now)
    d.finished_at = now
    return {}


def _return_result(d, actor, now, comment, params):
    collected_by = str(params.get("collected_by") or "").strip()
    method = str(params.get("method") or "in_person")
    errors = {}
    if not collected_by:
        errors["collected_by"] = [_("Enter who collected the result.")]
    if method not in Channel.values:
        errors["method"] = [_("Unknown return method.")]
    # On paper, electronically (the signed file) or both (issue 17; the signing app checks that a
    # signed file exists before an electronic hand-over).
    result_form = str(params.get("result_form") or RESULT_FORMS[0])
    if result_form not in RESULT_FORMS:
        errors["result_form"] = [_("Choose how the result was given: on paper, electronically or both.")]
    if errors:
        raise ActionInputError(errors)
    d.returned_at = now
    d.returned_to = collected_by[:255]
    d.return_method = method
    return {"collected_by": d.returned_to, "method": method, "result_form": result_form}


# How a result was handed over (the return action's `result_form`).
RESULT_FORMS = ("paper", "electronic", "both")

# --- The table ------------------------------------------------------------------------------

RESULT_READY_TEXT = gettext_lazy("The result is ready. Please collect it at %(agency)s.")

ACTIONS = {
    a.name: a
    for a in [
        Action(
            "receive",
            gettext_lazy("Accept the dossier"),
            _src((S.SUBMITTED_ONLINE, Stage.INTAKE)),
            S.RECEIVED,
            Stage.INTAKE,
            frozenset({Role.RECEPTION}),
            scope="receiving",
            awaited=True,
            advances=True,
            done_label=gettext_lazy("Received"),
            print_label="Tiếp nhận hồ sơ",
            confirmation=gettext_lazy("Dossier %(code)s is accepted."),
            notice="citizen.received",
            citizen=(
                ({"from_status": None}, gettext_lazy("Your dossier was received at %(agency)s.")),
                ({}, gettext_lazy("The office accepted your online dossier.")),
            ),
            effect=_receive,
        ),
        Action(
            "request_supplement",
            gettext_lazy("Request a supplement"),
            _src((S.SUBMITTED_ONLINE, Stage.INTAKE), (S.RECEIVED, Stage.INTAKE), (S.PROCESSING, Stage.PROCESSING)),
            S.AWAITING_SUPPLEMENT,
            None,
            frozenset({Role.RECEPTION, Role.SPECIALIST}),
            # At intake it is the receiving agency's desk; during processing the competent
            # agency's specialist.
            stage_actors={
                Stage.INTAKE: ((Role.RECEPTION, "receiving"),),
                Stage.PROCESSING: ((Role.SPECIALIST, "handling"),),
            },
            needs_comment=True,
            params=("missing_documents",),
            print_label="Yêu cầu bổ sung, hoàn thiện hồ sơ",
            confirmation=gettext_lazy(
                "The supplement request for dossier %(code)s is recorded: print it for the applicant."
            ),
            notice="citizen.supplement",
            citizen=(({}, gettext_lazy("The office asked you to bring more documents.")),),
            citizen_details="missing",
            guard=_guard_request_supplement,
            effect=_request_supplement,
        ),
        Action(
            "supplement_received",
            gettext_lazy("Supplement received"),
            _src((S.AWAITING_SUPPLEMENT, Stage.INTAKE), (S.AWAITING_SUPPLEMENT, Stage.PROCESSING)),
            None,
            None,
            frozenset({Role.RECEPTION, Role.SPECIALIST}),
            stage_actors={
                Stage.INTAKE: ((Role.RECEPTION, "receiving"),),
                # Paper handed in at the desk, or sent to the specialist.
                Stage.PROCESSING: ((Role.RECEPTION, "receiving"), (Role.SPECIALIST, "handling")),
            },
            params=("documents",),
            advances=True,
            print_label="Nhận hồ sơ bổ sung",
            confirmation=gettext_lazy("The supplement for dossier %(code)s is received."),
            notice="citizen.received",
            citizen=(
                (
                    {"from_stage": Stage.PROCESSING},
                    gettext_lazy("Your additional documents were received; the processing time starts again."),
                ),
                ({}, gettext_lazy("Your complete dossier was accepted; the processing time starts now.")),
            ),
            effect=_supplement_received,
        ),
        Action(
            "refuse",
            gettext_lazy("Refuse"),
            _src(
                (S.SUBMITTED_ONLINE, Stage.INTAKE),
                (S.AWAITING_SUPPLEMENT, Stage.INTAKE),
                (S.PROCESSING, Stage.PROCESSING),
                (S.PROCESSING, Stage.APPROVAL),
            ),
            S.REFUSED,
            Stage.CLOSED,
            frozenset({Role.RECEPTION, Role.LEADER}),
            # At intake the receiving desk refuses; after appraisal, the competent agency's leader.
            stage_actors={
                Stage.INTAKE: ((Role.RECEPTION, "receiving"),),
                Stage.PROCESSING: ((Role.LEADER, "handling"),),
                Stage.APPROVAL: ((Role.LEADER, "handling"),),
            },
            needs_comment=True,
            danger=True,
            print_label="Từ chối tiếp nhận, giải quyết hồ sơ",
            confirmation=gettext_lazy("Dossier %(code)s is refused: print the refusal for the applicant."),
            notice="citizen.refused",
            citizen=(({}, gettext_lazy("Your dossier was refused.")),),
            citizen_details="comment",
            guard=_guard_refuse,
            effect=_close,
        ),
        Action(
            "assign",
            gettext_lazy("Transfer to a specialist"),
            _src((S.RECEIVED, Stage.INTAKE)),
            S.PROCESSING,
            Stage.PROCESSING,
            frozenset({Role.RECEPTION, Role.LEADER}),
            stage_actors={Stage.INTAKE: ((Role.RECEPTION, "receiving"), (Role.LEADER, "handling"))},
            params=("assignee",),
            awaited=True,
            advances=True,
            print_label="Chuyển hồ sơ cho chuyên viên xử lý",
            confirmation=gettext_lazy("Dossier %(code)s is forwarded to the specialist."),
            citizen=(({}, gettext_lazy("Your dossier was passed on for processing.")),),
            guard=_guard_same_agency,
            effect=_assign,
        ),
        Action(
            "reassign",
            gettext_lazy("Reassign"),
            _src((S.PROCESSING, Stage.PROCESSING)),
            None,
            None,
            frozenset({Role.LEADER}),
            params=("assignee",),
            print_label="Phân công lại chuyên viên xử lý",
            confirmation=gettext_lazy("Dossier %(code)s is reassigned."),
            effect=_assign,
        ),
        Action(
            "request_obligation",
            gettext_lazy("Request the financial obligation"),
            _src((S.PROCESSING, Stage.PROCESSING)),
            S.AWAITING_OBLIGATION,
            None,
            frozenset({Role.SPECIALIST}),
            needs_comment=True,
            # `tax_agency` (code): the tax office issues the notice (inter-agency); `days`: its period.
            params=("tax_agency", "days"),
            print_label="Yêu cầu thực hiện nghĩa vụ tài chính",
            confirmation=gettext_lazy("The applicant of dossier %(code)s is asked to pay; the clock waits."),
            citizen=(({}, gettext_lazy("You were asked to pay the fee or tax; processing waits until it is paid.")),),
            effect=_request_obligation,
        ),
        Action(
            "obligation_fulfilled",
            gettext_lazy("Financial obligation fulfilled"),
            _src((S.AWAITING_OBLIGATION, Stage.PROCESSING)),
            S.PROCESSING,
            None,
            frozenset({Role.SPECIALIST, Role.RECEPTION}),
            stage_actors={Stage.PROCESSING: ((Role.SPECIALIST, "handling"), (Role.RECEPTION, "receiving"))},
            advances=True,
            print_label="Đã thực hiện nghĩa vụ tài chính",
            confirmation=gettext_lazy("Payment recorded for dossier %(code)s; processing continues."),
            citizen=(({}, gettext_lazy("The fee or tax was paid; processing continues.")),),
            effect=_obligation_fulfilled,
        ),
        Action(
            "propose_result",
            gettext_lazy("Propose the result"),
            _src((S.PROCESSING, Stage.PROCESSING)),
            None,
            Stage.APPROVAL,
            frozenset({Role.SPECIALIST}),
            params=("result",),
            awaited=True,
            advances=True,
            print_label="Trình lãnh đạo phê duyệt kết quả",
            confirmation=gettext_lazy("The result of dossier %(code)s is sent to the leader for approval."),
            guard=_guard_same_agency,
            effect=_propose_result,
        ),
        Action(
            "approve",
            gettext_lazy("Approve"),
            _src((S.PROCESSING, Stage.APPROVAL)),
            S.RESULT_READY,
            Stage.RETURN,
            frozenset({Role.LEADER}),
            awaited=True,
            advances=True,
            print_label="Phê duyệt kết quả",
            confirmation=gettext_lazy("Dossier %(code)s is approved; the applicant is told the result is ready."),
            signed=True,
            notice="citizen.result_ready",
            citizen=(({}, RESULT_READY_TEXT),),
            citizen_agency="returning",
            guard=_guard_approve,
            effect=_finish,
        ),
        Action(
            "send_back",
            gettext_lazy("Send back"),
            _src((S.PROCESSING, Stage.APPROVAL)),
            None,
            Stage.PROCESSING,
            frozenset({Role.LEADER}),
            needs_comment=True,
            danger=True,
            print_label="Trả lại để xử lý lại",
            confirmation=gettext_lazy("Dossier %(code)s is sent back to the specialist."),
        ),
        Action(
            "mark_result_ready",
            gettext_lazy("Mark the result ready"),
            _src((S.PROCESSING, Stage.PROCESSING)),
            S.RESULT_READY,
            Stage.RETURN,
            frozenset({Role.SPECIALIST}),
            params=("result",),
            advances=True,
            print_label="Hoàn thành xử lý",
            confirmation=gettext_lazy("The result of dossier %(code)s is ready; the applicant is told."),
            notice="citizen.result_ready",
            citizen=(({}, RESULT_READY_TEXT),),
            citizen_agency="returning",
            guard=_guard_mark_result_ready,
            effect=_finish,
        ),
        # --- Inter-agency routing (liên thông, Decree 118/2025 Art. 20; docs/workflow.md) ---
        Action(
            "hand_over",
            gettext_lazy("Hand over to the next agency"),
            _src((S.RECEIVED, Stage.INTAKE), (S.PROCESSING, Stage.PROCESSING), (S.PROCESSING, Stage.APPROVAL)),
            S.PROCESSING,
            Stage.HANDOVER,
            frozenset({Role.RECEPTION, Role.SPECIALIST, Role.LEADER}),
            stage_actors={
                Stage.INTAKE: ((Role.RECEPTION, "receiving"), (Role.LEADER, "handling")),
                Stage.PROCESSING: ((Role.SPECIALIST, "handling"),),
                Stage.APPROVAL: ((Role.LEADER, "handling"),),
            },
            awaited=True,
            advances=True,
            print_label="Chuyển hồ sơ liên thông",
            confirmation=gettext_lazy("Dossier %(code)s is handed over to the next agency."),
            citizen=(({}, gettext_lazy("Your dossier was passed to %(agency)s to handle its part.")),),
            citizen_agency="event",
            guard=_guard_hand_over,
            effect=_hand_over,
        ),
        Action(
            "accept_handover",
            gettext_lazy("Accept the hand-over"),
            _src((S.PROCESSING, Stage.HANDOVER)),
            None,
            None,
            frozenset({Role.RECEPTION, Role.SPECIALIST, Role.LEADER}),
            params=("assignee",),
            awaited=True,
            advances=True,
            done_label=gettext_lazy("Hand-over accepted"),
            print_label="Tiếp nhận hồ sơ liên thông",
            confirmation=gettext_lazy("Dossier %(code)s is accepted: your agency now handles its step."),
            citizen=(({}, gettext_lazy("%(agency)s received your dossier and is handling it.")),),
            citizen_agency="event",
            effect=_accept_handover,
        ),
        Action(
            "return_handover",
            gettext_lazy("Send the hand-over back"),
            _src((S.PROCESSING, Stage.HANDOVER)),
            None,
            None,
            frozenset({Role.RECEPTION, Role.SPECIALIST, Role.LEADER}),
            needs_comment=True,
            danger=True,
            done_label=gettext_lazy("Hand-over sent back"),
            print_label="Trả lại hồ sơ liên thông",
            confirmation=gettext_lazy("Dossier %(code)s is sent back to the agency that handed it over."),
            effect=_return_handover,
        ),
        Action(
            "consult",
            gettext_lazy("Ask other agencies for an opinion"),
            _src(*CONSULTING),
            None,
            None,
            frozenset({Role.SPECIALIST, Role.LEADER}),
            needs_comment=True,
            comment_label=gettext_lazy("Question to the consulted agencies"),
            params=("agencies", "days"),
            print_label="Xin ý kiến cơ quan phối hợp",
            confirmation=gettext_lazy("The request for an opinion on dossier %(code)s is sent."),
            citizen=(({}, gettext_lazy("The office asked another agency for its opinion on your dossier.")),),
            effect=_consult,
        ),
        Action(
            "answer_consultation",
            gettext_lazy("Give the requested opinion"),
            _src(*OPEN_ANY_STAGE),
            None,
            None,
            frozenset({Role.SPECIALIST, Role.LEADER}),
            scope="consulted",
            needs_comment=True,
            comment_label=gettext_lazy("Your agency's opinion"),
            params=("consultation",),
            done_label=gettext_lazy("Opinion given"),
            print_label="Trả lời xin ý kiến",
            confirmation=gettext_lazy("Your opinion on dossier %(code)s is sent."),
            citizen=(({}, gettext_lazy("%(agency)s gave its opinion on your dossier.")),),
            citizen_agency="event",
            effect=_answer_consultation,
        ),
        Action(
            "record_obligation",
            gettext_lazy("Record the financial obligation notice"),
            _src((S.AWAITING_OBLIGATION, Stage.PROCESSING)),
            None,
            None,
            frozenset({Role.SPECIALIST, Role.LEADER}),
            scope="tax_office",
            params=("amount", "notice_number", "consultation"),
            print_label="Thông báo nghĩa vụ tài chính",
            confirmation=gettext_lazy("The notice of the financial obligation of dossier %(code)s is recorded."),
            citizen=(({}, gettext_lazy("%(agency)s issued the notice of the amount you have to pay.")),),
            citizen_agency="event",
            effect=_record_obligation,
        ),
        Action(
            "extend",
            gettext_lazy("Issue an apology and extension letter"),
            _src(
                (S.PROCESSING, Stage.PROCESSING),
                (S.PROCESSING, Stage.APPROVAL),
                (S.AWAITING_SUPPLEMENT, Stage.PROCESSING),
                (S.AWAITING_OBLIGATION, Stage.PROCESSING),
            ),
            None,
            None,
            frozenset({Role.SPECIALIST, Role.LEADER}),
            needs_comment=True,
            params=("new_due_at",),
            print_label="Xin lỗi và hẹn lại ngày trả kết quả",
            confirmation=gettext_lazy("The new appointment date of dossier %(code)s is set: print the apology letter."),
            notice="citizen.extended",
            citizen=(
                ({}, gettext_lazy("The office apologised for the delay and set a new appointment date: %(date)s.")),
            ),
            guard=_guard_extend,
            effect=_extend,
        ),
        Action(
            "stop",
            gettext_lazy("Stop processing"),
            _src(*OPEN_ANY_STAGE),
            S.STOPPED,
            Stage.CLOSED,
            frozenset({Role.LEADER}),
            scope="competent",
            needs_comment=True,
            danger=True,
            print_label="Dừng giải quyết hồ sơ",
            confirmation=gettext_lazy("Processing of dossier %(code)s is stopped."),
            citizen=(({}, gettext_lazy("Processing of your dossier was stopped.")),),
            effect=_close,
        ),
        Action(
            "withdraw",
            gettext_lazy("Withdraw at the applicant's request"),
            # From the successful receipt by the system, an online submission too (Art. 21.1b).
            _src((S.SUBMITTED_ONLINE, Stage.INTAKE), *OPEN_ANY_STAGE),
            S.WITHDRAWN,
            Stage.CLOSED,
            frozenset({Role.RECEPTION}),
            scope="receiving",
            needs_comment=True,
            danger=True,
            print_label="Rút hồ sơ theo yêu cầu",
            confirmation=gettext_lazy("Dossier %(code)s is withdrawn at the applicant's request."),
            citizen=(({}, gettext_lazy("Your dossier was withdrawn at your request.")),),
            effect=_close,
        ),
        Action(
            "return_result",
            gettext_lazy("Return the result"),
            _src((S.RESULT_READY, Stage.RETURN)),
            S.RETURNED,
            Stage.CLOSED,
            frozenset({Role.RECEPTION}),
            scope="returning",
            params=("collected_by", "method", "result_form"),
            awaited=True,
            advances=True,
            print_label="Trả kết quả",
            confirmation=gettext_lazy("The result of dossier %(code)s is handed over."),
            citizen=(({}, gettext_lazy("The result was handed over.")),),
            effect=_return_result,
        ),
        Action(
            "report_result_error",
            gettext_lazy("Record an error in the result"),
            _src((S.RESULT_READY, Stage.RETURN), (S.RETURNED, Stage.CLOSED)),
            None,
            None,
            frozenset({Role.RECEPTION, Role.LEADER}),
            # The applicant reports it at the desk that returned the result, or the agency finds it.
            stage_actors={
                Stage.RETURN: ((Role.RECEPTION, "returning"), (Role.LEADER, "competent")),
                Stage.CLOSED: ((Role.RECEPTION, "returning"), (Role.LEADER, "competent")),
            },
            needs_comment=True,
            danger=True,
            print_label="Ghi nhận sai sót trong kết quả giải quyết",
            confirmation=gettext_lazy("The error in the result of dossier %(code)s is recorded."),
            citizen=(({}, gettext_lazy("An error in your result was recorded; the office corrects it.")),),
            citizen_details="comment",
            guard=_guard_report_result_error,
            effect=_report_result_error,
        ),
        Action(
            "correct_result",
            gettext_lazy("Issue the corrected result"),
            _src((S.RESULT_READY, Stage.RETURN), (S.RETURNED, Stage.CLOSED)),
            None,
            None,
            frozenset({Role.LEADER}),
            scope="competent",
            params=("result",),
            print_label="Sửa đổi, đính chính kết quả giải quyết",
            confirmation=gettext_lazy("The corrected result of dossier %(code)s is issued."),
            # The corrected result is signed as a new document replacing the first (docs/signing.md).
            signed=True,
            notice="citizen.result_ready",
            citizen=(({}, gettext_lazy("Your result was corrected. Please collect it at %(agency)s.")),),
            citizen_agency="returning",
            guard=_guard_correct_result,
            effect=_correct_result,
        ),
        Action(
            "remit_fee",
            gettext_lazy("Fee remitted"),
            _src(*OPEN_ANY_STAGE, (S.RESULT_READY, Stage.RETURN), *CLOSED_ANY),
            None,
            None,
            frozenset({Role.RECEPTION}),
            scope="receiving",
            print_label="Nộp phí, lệ phí đã thu",
            confirmation=gettext_lazy("The fee of dossier %(code)s is recorded as remitted."),
            guard=_guard_remit_fee,
            effect=_remit_fee,
        ),
    ]
}

# Events that are not transitions: labels only.
EVENTS = {
    **ACTIONS,
    "submit": Action(
        "submit",
        gettext_lazy("Submitted online"),
        print_label="Nộp hồ sơ trực tuyến",
        citizen=(({}, gettext_lazy("Your dossier was submitted online.")),),
    ),
    "attach": Action("attach", gettext_lazy("Attachment added"), print_label="Bổ sung tệp đính kèm"),
    # signing.views.mark_digitised: the desk scanned the paper documents (Circular 01/2023/TT-VPCP).
    "digitise": Action("digitise", gettext_lazy("Documents digitised"), print_label="Số hóa hồ sơ"),
    # services.dossier_reissue_pin: the applicant lost the PIN; the old one no longer works.
    "reissue_pin": Action("reissue_pin", gettext_lazy("New lookup PIN issued"), print_label="Cấp lại mã PIN tra cứu"),
}

# How `dossier_create()` starts a dossier: the event it writes and the (status, stage) it gives.
CREATION = {
    "submit": (S.SUBMITTED_ONLINE, Stage.INTAKE),  # online, waits for acceptance
    "receive": (S.RECEIVED, Stage.INTAKE),  # in person or by post: accepted now
    "request_supplement": (S.AWAITING_SUPPLEMENT, Stage.INTAKE),  # incomplete: the one request
}


def get_action(name):
    return ACTIONS.get(name)


def event_spec(name):
    """The `Action` describing an event's action (transitions and the other events), or None."""
    return EVENTS.get(name)


def actors_for(action, stage):
    """(role, agency field) pairs of whoever may take `action` at `stage`."""
    return action.actors(stage)


def allowed_from(status, stage):
    """Names of the actions the table allows from a (status, stage), whoever the actor is."""
    return [a.name for a in ACTIONS.values() if (status, stage) in a.sources]


def outcome_of(action, status, stage):
    """The (status, stage) `action` leads to from (status, stage), as `dossier_act` applies it
    when the effect leaves the status alone."""
    spec = ACTIONS[action]
    if (status, stage) not in spec.sources:
        raise WorkflowConflict(f"{action} is not possible from ({status}, {stage}).")
    return (spec.target if spec.target is not None else status, spec.target_stage or stage)


AWAITED_ACTIONS = tuple(name for name, a in ACTIONS.items() if a.awaited)
