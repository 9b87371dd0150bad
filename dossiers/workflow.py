"""The workflow table: which action may move a dossier from which (status, stage) to which,
performed by which role, in which agency's scope. Views, the API, the admin and tasks all read
this table; `dossiers.services.dossier_act()` is the only code that applies it.
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from procedures.models import Role

from .models import Stage, Status

S = Status


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    # (status, stage) pairs the action starts from.
    sources: frozenset
    # Target status; None keeps the current status.
    target: int | None
    # Target stage; None keeps the current stage.
    target_stage: str | None
    roles: frozenset
    # Which of the dossier's agencies the actor must hold the role in.
    scope: str = "competent"
    needs_comment: bool = False
    # Extra parameters the action accepts (validated in services).
    params: tuple = field(default_factory=tuple)
    # A "danger" action is shown as secondary in the UI (refuse, stop...).
    danger: bool = False


def _src(*pairs):
    return frozenset(pairs)


OPEN_ANY_STAGE = (
    (S.AWAITING_SUPPLEMENT, Stage.INTAKE),
    (S.RECEIVED, Stage.INTAKE),
    (S.PROCESSING, Stage.PROCESSING),
    (S.PROCESSING, Stage.APPROVAL),
    (S.AWAITING_SUPPLEMENT, Stage.PROCESSING),
    (S.AWAITING_OBLIGATION, Stage.PROCESSING),
)

ACTIONS = {
    a.name: a
    for a in [
        Action(
            "receive",
            _("Accept the dossier"),
            _src((S.SUBMITTED_ONLINE, Stage.INTAKE)),
            S.RECEIVED,
            Stage.INTAKE,
            frozenset({Role.RECEPTION}),
            scope="receiving",
        ),
        Action(
            "request_supplement",
            _("Request a supplement"),
            _src((S.SUBMITTED_ONLINE, Stage.INTAKE), (S.RECEIVED, Stage.INTAKE), (S.PROCESSING, Stage.PROCESSING)),
            S.AWAITING_SUPPLEMENT,
            None,
            frozenset({Role.RECEPTION, Role.SPECIALIST}),
            needs_comment=True,
            params=("missing_documents",),
        ),
        Action(
            "supplement_received",
            _("Supplement received"),
            _src((S.AWAITING_SUPPLEMENT, Stage.INTAKE), (S.AWAITING_SUPPLEMENT, Stage.PROCESSING)),
            None,
            None,
            frozenset({Role.RECEPTION, Role.SPECIALIST}),
        ),
        Action(
            "refuse",
            _("Refuse"),
            _src(
                (S.SUBMITTED_ONLINE, Stage.INTAKE),
                (S.AWAITING_SUPPLEMENT, Stage.INTAKE),
                (S.PROCESSING, Stage.PROCESSING),
                (S.PROCESSING, Stage.APPROVAL),
            ),
            S.REFUSED,
            Stage.CLOSED,
            frozenset({Role.RECEPTION, Role.LEADER}),
            needs_comment=True,
            danger=True,
        ),
        Action(
            "assign",
            _("Transfer to a specialist"),
            _src((S.RECEIVED, Stage.INTAKE)),
            S.PROCESSING,
            Stage.PROCESSING,
            frozenset({Role.RECEPTION, Role.LEADER}),
            params=("assignee",),
        ),
        Action(
            "reassign",
            _("Reassign"),
            _src((S.PROCESSING, Stage.PROCESSING)),
            None,
            None,
            frozenset({Role.LEADER}),
            params=("assignee",),
        ),
        Action(
            "request_obligation",
            _("Request the financial obligation"),
            _src((S.PROCESSING, Stage.PROCESSING)),
            S.AWAITING_OBLIGATION,
            None,
            frozenset({Role.SPECIALIST}),
            needs_comment=True,
        ),
        Action(
            "obligation_fulfilled",
            _("Financial obligation fulfilled"),
            _src((S.AWAITING_OBLIGATION, Stage.PROCESSING)),
            S.PROCESSING,
            None,
            frozenset({Role.SPECIALIST, Role.RECEPTION}),
        ),
        Action(
            "propose_result",
            _("Propose the result"),
            _src((S.PROCESSING, Stage.PROCESSING)),
            None,
            Stage.APPROVAL,
            frozenset({Role.SPECIALIST}),
            params=("result",),
        ),
        Action(
            "approve",
            _("Approve"),
            _src((S.PROCESSING, Stage.APPROVAL)),
            S.RESULT_READY,
            Stage.RETURN,
            frozenset({Role.LEADER}),
        ),
        Action(
            "send_back",
            _("Send back"),
            _src((S.PROCESSING, Stage.APPROVAL)),
            None,
            Stage.PROCESSING,
            frozenset({Role.LEADER}),
            needs_comment=True,
            danger=True,
        ),
        Action(
            "mark_result_ready",
            _("Mark the result ready"),
            _src((S.PROCESSING, Stage.PROCESSING)),
            S.RESULT_READY,
            Stage.RETURN,
            frozenset({Role.SPECIALIST}),
            params=("result",),
        ),
        Action(
            "extend",
            _("Issue an apology and extension letter"),
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
        ),
        Action(
            "stop",
            _("Stop processing"),
            _src(*OPEN_ANY_STAGE),
            S.STOPPED,
            Stage.CLOSED,
            frozenset({Role.LEADER}),
            needs_comment=True,
            danger=True,
        ),
        Action(
            "withdraw",
            _("Withdraw at the applicant's request"),
            _src(*OPEN_ANY_STAGE),
            S.WITHDRAWN,
            Stage.CLOSED,
            frozenset({Role.RECEPTION}),
            scope="receiving",
            needs_comment=True,
            danger=True,
        ),
        Action(
            "return_result",
            _("Return the result"),
            _src((S.RESULT_READY, Stage.RETURN)),
            S.RETURNED,
            Stage.CLOSED,
            frozenset({Role.RECEPTION}),
            scope="returning",
            params=("collected_by", "method"),
        ),
    ]
}

# Who may act also depends on the stage: at intake it is the receiving agency's reception desk;
# during processing the competent agency's staff (and, for paper handed in at the desk, the
# receiving agency's reception). Pairs are (role, which of the dossier's agencies).
_STAGE_ACTORS = {
    ("request_supplement", Stage.INTAKE): ((Role.RECEPTION, "receiving"),),
    ("request_supplement", Stage.PROCESSING): ((Role.SPECIALIST, "competent"),),
    ("withdraw", Stage.INTAKE): ((Role.RECEPTION, "receiving"),),
    ("supplement_received", Stage.INTAKE): ((Role.RECEPTION, "receiving"),),
    ("supplement_received", Stage.PROCESSING): ((Role.RECEPTION, "receiving"), (Role.SPECIALIST, "competent")),
    ("refuse", Stage.INTAKE): ((Role.RECEPTION, "receiving"),),
    ("assign", Stage.INTAKE): ((Role.RECEPTION, "receiving"), (Role.LEADER, "competent")),
    ("obligation_fulfilled", Stage.PROCESSING): ((Role.SPECIALIST, "competent"), (Role.RECEPTION, "receiving")),
}


def actors_for(action, stage):
    """(role, agency field) pairs of whoever may take `action` at `stage`."""
    pairs = _STAGE_ACTORS.get((action.name, stage))
    if pairs is not None:
        return pairs
    roles = action.roles - {Role.RECEPTION} if action.name == "refuse" else action.roles
    return tuple((role, action.scope) for role in sorted(roles))


def get_action(name):
    return ACTIONS.get(name)


def allowed_from(status, stage):
    """Names of the actions the table allows from a (status, stage), whoever the actor is."""
    return [a.name for a in ACTIONS.values() if (status, stage) in a.sources]
