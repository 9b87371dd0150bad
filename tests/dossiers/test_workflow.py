"""The workflow service (dossiers/services.py) applying the table (dossiers/workflow.py).

Every dossier is brought to its state through the real services; times are passed explicitly
(`now=`), starting on Monday 2 March 2026 09:00, a working morning in Vietnam.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction

from dossiers import workflow
from dossiers.models import Dossier, DossierEvent, Pause, Stage, Status
from dossiers.services import ActionInputError, WorkflowConflict, available_actions, dossier_act, dossier_create
from procedures.models import Agency, Membership, Role, WorkflowStep
from tests.factories import Office, make_agency, make_procedure, make_user, vn

pytestmark = pytest.mark.django_db

T = vn(2026, 3, 2, 9, 0)  # Monday morning
S = Status

# Valid inputs for every action, so that a refusal can only come from the state, role or a rule.
PARAMS = {
    "request_supplement": {"missing_documents": ["Giấy chứng sinh (bản chính)"]},
    "propose_result": {"result": "Cấp giấy khai sinh"},
    "mark_result_ready": {"result": "Cấp giấy khai sinh"},
    "extend": {"new_due_at": "20/03/2026"},
    "return_result": {"collected_by": "Nguyễn Văn An", "method": "in_person"},
    "correct_result": {"result": "Cấp lại giấy khai sinh (đính chính)"},
}
# Actions whose rule is an earlier fact of the dossier's history, not a state or a deadline: a
# correction needs a recorded error, a remittance a fee collected at the desk (tests/dossiers/
# test_conformity.py covers both).
NEEDS_HISTORY = {"correct_result", "remit_fee"}
# Actions of an agency asked by the dossier's (an open consultation): tests/dossiers/
# test_interagency.py covers them.
CONSULTED = {"answer_consultation", "record_obligation"}


def department(office):
    """The provincial department of `office`'s inter-agency procedure (made once per office)."""
    if not hasattr(office, "department"):
        office.department = make_agency(level=Agency.Level.DEPARTMENT)
    return office.department


def handover_procedure(office):
    """A procedure of `office` whose processing continues at its department (inter-agency)."""
    if not hasattr(office, "handover_procedure"):
        procedure = make_procedure(
            agencies=[office.agency],
            workflow=[
                ("Tiếp nhận", Role.RECEPTION, 10),
                ("Kiểm tra", Role.SPECIALIST, 20),
                ("Thẩm định", Role.SPECIALIST, 60),
                ("Trả kết quả", Role.RECEPTION, 10),
            ],
        )
        WorkflowStep.objects.filter(procedure=procedure, name="Thẩm định").update(agency=department(office))
        office.handover_procedure = procedure
    return office.handover_procedure


def params_for(office, name):
    if name in ("assign", "reassign"):
        return {"assignee": office.specialist.username}
    if name == "consult":
        return {"agencies": [department(office).code], "days": "3"}
    return PARAMS.get(name, {})


def act(office, dossier, name, user, now=T):
    return dossier_act(dossier=dossier, actor=user, action=name, comment="Lý do", now=now, **params_for(office, name))


# How to reach each (status, stage) a dossier can be in: create kwargs, then (action, role) steps.
RECIPES = {
    (S.SUBMITTED_ONLINE, Stage.INTAKE): ({"channel": "online"}, []),
    (S.RECEIVED, Stage.INTAKE): ({}, []),
    (S.AWAITING_SUPPLEMENT, Stage.INTAKE): ({"missing_documents": ["Giấy chứng sinh"]}, []),
    (S.PROCESSING, Stage.PROCESSING): ({}, [("assign", "reception")]),
    (S.PROCESSING, Stage.APPROVAL): ({}, [("assign", "reception"), ("propose_result", "specialist")]),
    (S.AWAITING_SUPPLEMENT, Stage.PROCESSING): ({}, [("assign", "reception"), ("request_supplement", "specialist")]),
    (S.AWAITING_OBLIGATION, Stage.PROCESSING): ({}, [("assign", "reception"), ("request_obligation", "specialist")]),
    (S.RESULT_READY, Stage.RETURN): (
        {},
        [("assign", "reception"), ("propose_result", "specialist"), ("approve", "leader")],
    ),
    (S.RETURNED, Stage.CLOSED): (
        {},
        [
            ("assign", "reception"),
            ("propose_result", "specialist"),
            ("approve", "leader"),
            ("return_result", "reception"),
        ],
    ),
    (S.REFUSED, Stage.CLOSED): ({"channel": "online"}, [("refuse", "reception")]),
    (S.WITHDRAWN, Stage.CLOSED): ({}, [("withdraw", "reception")]),
    (S.STOPPED, Stage.CLOSED): ({}, [("assign", "reception"), ("stop", "leader")]),
    # Handed to another agency's step, waiting for it to accept (handover_procedure).
    (S.PROCESSING, Stage.HANDOVER): (
        {"procedure": handover_procedure},
        [("assign", "reception"), ("hand_over", "specialist")],
    ),
}


def bring_to(office, state, now=T):
    create_kwargs, steps = RECIPES[state]
    department(office)  # made now, outside the savepoints of try_action
    create_kwargs = {k: v(office) if callable(v) else v for k, v in create_kwargs.items()}
    dossier, _pin = office.receive(now=now, **create_kwargs)
    for name, role in steps:
        dossier = act(office, dossier, name, getattr(office, role), now=now)
    assert (dossier.status, dossier.stage) == state
    return dossier


def state_id(state):
    return f"{Status(state[0]).name}-{state[1]}"


def snapshot(dossier):
    """Everything about a dossier that an action could change."""
    return (
        Dossier.objects.filter(pk=dossier.pk).values().get(),
        list(DossierEvent.objects.filter(dossier=dossier).values_list("pk", flat=True)),
        list(Pause.objects.filter(dossier=dossier).values()),
    )


class _Rollback(Exception):
    pass


def try_action(office, dossier, name, user, now=T):
    """Apply an action inside a savepoint that is always rolled back. Returns the resulting
    (status, stage), or the exception it raised."""
    try:
        with transaction.atomic():
            result = act(office, dossier, name, user, now=now)
            outcome = (result.status, result.stage)
            raise _Rollback
    except _Rollback:
        return outcome
    except (WorkflowConflict, PermissionDenied, ActionInputError) as exc:
        return exc
    finally:
        dossier.refresh_from_db()


def all_roles_officer(agency, username, *more):
    user = make_user(username)
    for each in (agency, *more):
        for role in Role.values:
            Membership.objects.create(user=user, agency=each, role=role)
    return user


def step(dossier, name, user, now=T, comment="", **params):
    """Take one action and check it appended exactly one event recording the transition."""
    before = (dossier.status, dossier.stage)
    count = dossier.events.count()
    dossier = dossier_act(dossier=dossier, actor=user, action=name, comment=comment, now=now, **params)
    assert dossier.events.count() == count + 1
    event = dossier.events.latest("created_at", "id")
    assert (event.action, event.actor, event.created_at) == (name, user, now)
    assert (event.from_status, event.from_stage) == before
    assert (event.to_status, event.to_stage) == (dossier.status, dossier.stage)
    assert event.comment == comment
    return dossier


# --- Happy paths for every role -----------------------------------------------------------


def test_desk_dossier_goes_from_reception_through_approval_to_return():
    o = Office()
    d, _pin = o.receive(now=T)
    assert (d.status, d.stage, d.received_at) == (S.RECEIVED, Stage.INTAKE, T)
    assert d.due_at == vn(2026, 3, 5, 11, 30)  # 3 working days, same half of the day
    first = d.events.get()
    assert (first.action, first.from_status, first.to_status, first.actor) == ("receive", None, S.RECEIVED, o.reception)

    d = step(d, "assign", o.reception, T + timedelta(hours=1), assignee=o.specialist.username)
    assert (d.status, d.stage, d.assignee) == (S.PROCESSING, Stage.PROCESSING, o.specialist)
    d = step(d, "propose_result", o.specialist, vn(2026, 3, 3, 10, 0), result="Cấp giấy khai sinh")
    assert (d.status, d.stage, d.result_summary) == (S.PROCESSING, Stage.APPROVAL, "Cấp giấy khai sinh")
    d = step(d, "approve", o.leader, vn(2026, 3, 3, 15, 0))
    assert (d.status, d.stage, d.finished_at) == (S.RESULT_READY, Stage.RETURN, vn(2026, 3, 3, 15, 0))
    assert d.outcome == "early"
    d = step(d, "return_result", o.reception, vn(2026, 3, 4, 8, 0), collected_by="Nguyễn Văn An", method="in_person")
    assert (d.status, d.stage, d.returned_at) == (S.RETURNED, Stage.CLOSED, vn(2026, 3, 4, 8, 0))
    assert (d.returned_to, d.return_method) == ("Nguyễn Văn An", "in_person")
    assert d.events.last().data["collected_by"] == "Nguyễn Văn An"
    assert list(d.events.values_list("action", "from_status", "to_status")) == [
        ("receive", None, S.RECEIVED),
        ("assign", S.RECEIVED, S.PROCESSING),
        ("propose_result", S.PROCESSING, S.PROCESSING),
        ("approve", S.PROCESSING, S.RESULT_READY),
        ("return_result", S.RESULT_READY, S.RETURNED),
    ]


def test_online_submission_waits_for_acceptance_then_the_period_starts():
    o = Office()
    d, _pin = o.receive(now=T, channel="online")
    assert (d.status, d.stage, d.received_at, d.due_at) == (S.SUBMITTED_ONLINE, Stage.INTAKE, None, None)
    assert d.events.get().action == "submit"
    d = step(d, "receive", o.reception, vn(2026, 3, 2, 14, 0))
    assert (d.status, d.stage, d.received_at) == (S.RECEIVED, Stage.INTAKE, vn(2026, 3, 2, 14, 0))
    assert d.due_at == vn(2026, 3, 5, 17, 0)  # accepted in the afternoon → due in the afternoon


def test_incomplete_dossier_at_intake_gets_a_supplement_request_then_is_received_when_complete():
    o = Office()
    d, _pin = o.receive(now=T, missing_documents=["Giấy chứng sinh", "Tờ khai"])
    assert (d.status, d.stage, d.supplement_requests, d.received_at) == (S.AWAITING_SUPPLEMENT, Stage.INTAKE, 1, None)
    request = d.events.get()
    assert request.action == "request_supplement"
    assert request.data["missing_documents"] == ["Giấy chứng sinh", "Tờ khai"]
    d = step(d, "supplement_received", o.reception, vn(2026, 3, 3, 9, 0))
    assert (d.status, d.stage, d.received_at) == (S.RECEIVED, Stage.INTAKE, vn(2026, 3, 3, 9, 0))
    assert d.due_at == vn(2026, 3, 6, 11, 30)


def test_financial_obligation_pauses_and_resumes_processing():
    o = Office()
    d = bring_to(o, (S.PROCESSING, Stage.PROCESSING))
    d = step(d, "request_obligation", o.specialist, vn(2026, 3, 2, 10, 0), comment="Nộp lệ phí")
    assert d.status == S.AWAITING_OBLIGATION and d.is_paused
    pause = d.pauses.get()
    assert (pause.kind, pause.started_at, pause.ended_at) == (Pause.Kind.OBLIGATION, vn(2026, 3, 2, 10, 0), None)
    d = step(d, "obligation_fulfilled", o.reception, vn(2026, 3, 2, 11, 0))
    assert (d.status, d.stage) == (S.PROCESSING, Stage.PROCESSING)
    pause.refresh_from_db()
    assert (pause.ended_at, pause.working_minutes) == (vn(2026, 3, 2, 11, 0), 60)


def test_leader_sends_back_and_the_specialist_proposes_again():
    o = Office()
    d = bring_to(o, (S.PROCESSING, Stage.APPROVAL))
    d = step(d, "send_back", o.leader, T + timedelta(hours=2), comment="Thiếu chữ ký")
    assert (d.status, d.stage) == (S.PROCESSING, Stage.PROCESSING)
    d = step(d, "propose_result", o.specialist, T + timedelta(hours=3), result="Đã bổ sung")
    assert (d.status, d.stage, d.result_summary) == (S.PROCESSING, Stage.APPROVAL, "Đã bổ sung")
    d = step(d, "approve", o.leader, T + timedelta(hours=4))
    assert d.status == S.RESULT_READY


def test_leader_reassigns_to_another_specialist():
    o = Office()
    other = make_user("chuyenvien-2", agency=o.agency, role=Role.SPECIALIST)
    d = bring_to(o, (S.PROCESSING, Stage.PROCESSING))
    d = step(d, "reassign", o.leader, assignee=other.username)
    assert d.assignee == other
    with pytest.raises(ActionInputError) as info:
        dossier_act(dossier=d, actor=o.leader, action="reassign", now=T, assignee=o.leader.username)
    assert "assignee" in info.value.errors


def test_assign_without_assignee_picks_the_least_loaded_specialist():
    o = Office()
    busy = o.specialist
    free = make_user("chuyenvien-ranh", agency=o.agency, role=Role.SPECIALIST)
    first = bring_to(o, (S.PROCESSING, Stage.PROCESSING))
    assert first.assignee == busy
    d, _pin = o.receive(now=T)
    d = dossier_act(dossier=d, actor=o.reception, action="assign", now=T)
    assert d.assignee == free


def test_specialist_marks_the_result_ready_when_the_procedure_has_no_leader_step():
    o = Office(
        workflow=[
            ("Tiếp nhận", Role.RECEPTION, 10),
            ("Xử lý", Role.SPECIALIST, 80),
            ("Trả kết quả", Role.RECEPTION, 10),
        ]
    )
    d = bring_to(o, (S.PROCESSING, Stage.PROCESSING))
    assert "mark_result_ready" in available_actions(o.specialist, d, now=T)
    d = step(d, "mark_result_ready", o.specialist, T + timedelta(hours=1), result="Bản sao chứng thực")
    assert (d.status, d.stage, d.result_summary, d.finished_at) == (
        S.RESULT_READY,
        Stage.RETURN,
        "Bản sao chứng thực",
        T + timedelta(hours=1),
    )


def test_the_result_of_a_procedure_with_a_leader_step_cannot_skip_approval():
    o = Office()
    d = bring_to(o, (S.PROCESSING, Stage.PROCESSING))
    assert "mark_result_ready" not in available_actions(o.specialist, d, now=T)
    before = snapshot(d)
    with pytest.raises(WorkflowConflict):
        dossier_act(dossier=d, actor=o.specialist, action="mark_result_ready", now=T, result="x")
    assert snapshot(d) == before


@pytest.mark.parametrize(
    "state", [(S.RECEIVED, Stage.INTAKE), (S.PROCESSING, Stage.APPROVAL), (S.AWAITING_OBLIGATION, Stage.PROCESSING)]
)
def test_applicant_withdraws_at_the_desk(state):
    o = Office()
    d = bring_to(o, state)
    d = step(d, "withdraw", o.reception, T + timedelta(hours=1), comment="Công dân xin rút hồ sơ")
    assert (d.status, d.stage, d.finished_at) == (S.WITHDRAWN, Stage.CLOSED, T + timedelta(hours=1))
    assert not d.pauses.filter(ended_at__isnull=True).exists()


def test_leader_stops_processing_and_an_open_pause_is_closed():
    o = Office()
    d = bring_to(o, (S.AWAITING_SUPPLEMENT, Stage.PROCESSING))
    d = step(d, "stop", o.leader, T + timedelta(hours=2), comment="Không đủ điều kiện")
    assert (d.status, d.stage, d.finished_at) == (S.STOPPED, Stage.CLOSED, T + timedelta(hours=2))
    assert d.pauses.get().ended_at == T + timedelta(hours=2)


@pytest.mark.parametrize("create_kwargs", [{"channel": "online"}, {"missing_documents": ["Giấy chứng sinh"]}])
def test_reception_refuses_at_intake(create_kwargs):
    o = Office()
    d, _pin = o.receive(now=T, **create_kwargs)
    d = step(d, "refuse", o.reception, T + timedelta(hours=1), comment="Không thuộc thẩm quyền")
    assert (d.status, d.stage, d.finished_at) == (S.REFUSED, Stage.CLOSED, T + timedelta(hours=1))


@pytest.mark.parametrize("state", [(S.PROCESSING, Stage.PROCESSING), (S.PROCESSING, Stage.APPROVAL)])
def test_leader_refuses_after_appraisal(state):
    o = Office()
    d = bring_to(o, state)
    d = step(d, "refuse", o.leader, T + timedelta(hours=1), comment="Không đủ điều kiện cấp")
    assert (d.status, d.stage) == (S.REFUSED, Stage.CLOSED)


@pytest.mark.parametrize(
    "name", sorted(n for n, a in workflow.ACTIONS.items() if a.needs_comment and n not in CONSULTED)
)
def test_actions_that_need_a_reason_refuse_an_empty_comment_and_change_nothing(name):
    o = Office()
    action = workflow.ACTIONS[name]
    state = next(s for s in RECIPES if s in action.sources)
    d = bring_to(o, state)
    user = all_roles_officer(o.agency, "all-roles", department(o))
    before = snapshot(d)
    with pytest.raises(ActionInputError) as info:
        dossier_act(dossier=d, actor=user, action=name, comment="  ", now=T, **params_for(o, name))
    assert "comment" in info.value.errors
    assert snapshot(d) == before


def test_return_needs_who_collected_the_result():
    o = Office()
    d = bring_to(o, (S.RESULT_READY, Stage.RETURN))
    before = snapshot(d)
    with pytest.raises(ActionInputError) as info:
        dossier_act(dossier=d, actor=o.reception, action="return_result", now=T, collected_by=" ", method="pigeon")
    assert set(info.value.errors) == {"collected_by", "method"}
    assert snapshot(d) == before


# --- The table: every action outside it is a conflict that changes nothing ------------------


def test_recipes_reach_every_state_the_table_starts_from():
    sources = {pair for action in workflow.ACTIONS.values() for pair in action.sources}
    assert sources <= set(RECIPES)


@pytest.mark.parametrize("state", list(RECIPES), ids=state_id)
def test_every_transition_the_table_allows_leads_to_a_reachable_state(state):
    """With the recipes closed under the table, the conflict test below covers every state."""
    o = Office(
        workflow=[
            ("Tiếp nhận", Role.RECEPTION, 10),
            ("Xử lý", Role.SPECIALIST, 80),
            ("Trả kết quả", Role.RECEPTION, 10),
        ]
    )
    user = all_roles_officer(o.agency, "all-roles", department(o))
    d = bring_to(o, state)
    allowed = workflow.allowed_from(*state)
    for name in allowed:
        # No rule stands in the way here (before every deadline, no earlier supplement request,
        # no leader step), so the table alone decides.
        outcome = try_action(o, d, name, user, now=T + timedelta(hours=1))
        if name in NEEDS_HISTORY and isinstance(outcome, WorkflowConflict):
            continue
        if name in CONSULTED and isinstance(outcome, PermissionDenied):
            continue
        if name == "hand_over" and isinstance(outcome, WorkflowConflict):
            continue  # only where the next step is another agency's (the handover recipe)
        assert outcome in RECIPES, (name, outcome)


CONFLICTS = [
    (state, name) for state in RECIPES for name in sorted(workflow.ACTIONS) if name not in workflow.allowed_from(*state)
]


@pytest.mark.parametrize(("state", "name"), CONFLICTS, ids=[f"{state_id(s)}-{n}" for s, n in CONFLICTS])
def test_action_outside_the_table_is_a_conflict_and_changes_nothing(state, name):
    o = Office()
    d = bring_to(o, state)
    # An officer holding every role in every agency of the dossier: only the state can refuse.
    user = all_roles_officer(o.agency, "all-roles", department(o))
    before = snapshot(d)
    with pytest.raises(WorkflowConflict):
        act(o, d, name, user, now=T + timedelta(hours=1))
    assert snapshot(d) == before
    assert name not in available_actions(user, d, now=T + timedelta(hours=1))


def test_unknown_action_is_a_conflict():
    o = Office()
    d, _pin = o.receive(now=T)
    before = snapshot(d)
    with pytest.raises(WorkflowConflict):
        dossier_act(dossier=d, actor=o.reception, action="teleport", now=T)
    assert snapshot(d) == before


def test_a_stale_copy_cannot_repeat_an_action_already_taken():
    o = Office()
    d = bring_to(o, (S.PROCESSING, Stage.APPROVAL))
    stale = Dossier.objects.get(pk=d.pk)
    dossier_act(dossier=d, actor=o.leader, action="approve", now=T)
    before = snapshot(d)
    with pytest.raises(WorkflowConflict):
        dossier_act(dossier=stale, actor=o.leader, action="send_back", comment="x", now=T)
    assert snapshot(d) == before
    assert d.events.filter(action="approve").count() == 1


# --- Roles and agency scope ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "name", "wrong_role"),
    [
        ((S.SUBMITTED_ONLINE, Stage.INTAKE), "receive", "specialist"),
        ((S.SUBMITTED_ONLINE, Stage.INTAKE), "refuse", "leader"),  # at intake only the desk refuses
        ((S.RECEIVED, Stage.INTAKE), "assign", "specialist"),
        ((S.PROCESSING, Stage.PROCESSING), "propose_result", "leader"),
        ((S.PROCESSING, Stage.PROCESSING), "propose_result", "reception"),
        ((S.PROCESSING, Stage.PROCESSING), "request_supplement", "reception"),
        ((S.PROCESSING, Stage.PROCESSING), "reassign", "specialist"),
        ((S.PROCESSING, Stage.PROCESSING), "stop", "specialist"),
        ((S.PROCESSING, Stage.APPROVAL), "approve", "specialist"),
        ((S.PROCESSING, Stage.APPROVAL), "approve", "reception"),
        ((S.PROCESSING, Stage.APPROVAL), "approve", "supervisor"),
        ((S.PROCESSING, Stage.APPROVAL), "refuse", "reception"),  # after appraisal only the leader refuses
        ((S.PROCESSING, Stage.APPROVAL), "withdraw", "leader"),
        ((S.RESULT_READY, Stage.RETURN), "return_result", "leader"),
    ],
)
def test_wrong_role_is_permission_denied_and_changes_nothing(state, name, wrong_role):
    o = Office()
    d = bring_to(o, state)
    before = snapshot(d)
    with pytest.raises(PermissionDenied):
        act(o, d, name, getattr(o, wrong_role), now=T + timedelta(hours=1))
    assert snapshot(d) == before


@pytest.mark.parametrize("state", list(RECIPES), ids=state_id)
def test_officer_of_another_commune_cannot_act(state):
    o = Office()
    other = Office()
    outsider = all_roles_officer(other.agency, "xa-khac")
    d = bring_to(o, state)
    assert available_actions(outsider, d, now=T) == []
    for name in workflow.allowed_from(*state):
        before = snapshot(d)
        with pytest.raises(PermissionDenied):
            act(o, d, name, outsider)
        assert snapshot(d) == before


def test_the_desk_receiving_for_another_competent_agency_keeps_its_own_scope():
    """Boundary-free intake: desk A receives for agency B and hands it over; B accepts, its staff
    process, the result comes back to A, which returns it."""
    desk = Office()
    competent = Office()
    d, _pin = dossier_create(
        actor=desk.reception,
        procedure=competent.procedure,
        applicant_name="Trần Thị Bình",
        receiving_agency=desk.agency,
        now=T,
    )
    assert (d.receiving_agency, d.competent_agency, d.returning_agency) == (desk.agency, competent.agency, desk.agency)
    assert d.code.startswith(competent.agency.code + "-")
    with pytest.raises(PermissionDenied):  # B's leader does not take A's dossier: A hands it over
        dossier_act(dossier=d, actor=competent.leader, action="hand_over", now=T)
    with pytest.raises(WorkflowConflict):  # B's step: it is handed over, not assigned across
        dossier_act(dossier=d, actor=desk.reception, action="assign", now=T)
    d = dossier_act(dossier=d, actor=desk.reception, action="hand_over", now=T)
    assert (d.stage, d.handling_agency) == (Stage.HANDOVER, competent.agency)
    with pytest.raises(PermissionDenied):
        dossier_act(dossier=d, actor=desk.specialist, action="accept_handover", now=T)
    d = dossier_act(dossier=d, actor=competent.leader, action="accept_handover", now=T)
    assert d.assignee == competent.specialist
    with pytest.raises(PermissionDenied):
        dossier_act(dossier=d, actor=desk.specialist, action="propose_result", now=T, result="x")
    d = dossier_act(dossier=d, actor=competent.specialist, action="propose_result", now=T, result="x")
    d = dossier_act(dossier=d, actor=competent.leader, action="approve", now=T)
    with pytest.raises(PermissionDenied):
        dossier_act(dossier=d, actor=competent.reception, action="return_result", now=T, collected_by="An")
    d = dossier_act(dossier=d, actor=desk.reception, action="return_result", now=T, collected_by="An")
    assert d.status == S.RETURNED


EXPECTED_ACTIONS = {
    # A few rows of the table written out, so the matrix test below cannot pass vacuously.
    ((S.RECEIVED, Stage.INTAKE), "reception"): {"assign", "request_supplement", "withdraw"},
    ((S.RECEIVED, Stage.INTAKE), "leader"): {"assign", "stop"},
    ((S.PROCESSING, Stage.APPROVAL), "leader"): {"approve", "send_back", "refuse", "extend", "stop", "consult"},
    ((S.PROCESSING, Stage.PROCESSING), "specialist"): {
        "propose_result",
        "request_supplement",
        "request_obligation",
        "extend",
        "consult",
    },
    # The commune handed the dossier over: the department accepts; the commune waits.
    ((S.PROCESSING, Stage.HANDOVER), "specialist"): set(),
    ((S.PROCESSING, Stage.HANDOVER), "leader"): {"stop"},
    ((S.RESULT_READY, Stage.RETURN), "reception"): {"return_result", "report_result_error"},
    ((S.RETURNED, Stage.CLOSED), "leader"): {"report_result_error"},
    ((S.SUBMITTED_ONLINE, Stage.INTAKE), "reception"): {"receive", "request_supplement", "refuse", "withdraw"},
}


@pytest.mark.parametrize("state", list(RECIPES), ids=state_id)
def test_available_actions_are_exactly_the_actions_the_service_accepts(state):
    o = Office()
    other = Office()
    users = {
        "reception": o.reception,
        "specialist": o.specialist,
        "leader": o.leader,
        "supervisor": o.supervisor,
        "outsider": all_roles_officer(other.agency, "xa-khac"),
    }
    d = bring_to(o, state)
    now = T + timedelta(hours=1)
    for role, user in users.items():
        offered = set(available_actions(user, d, now=now))
        accepted = set()
        for name in workflow.ACTIONS:
            outcome = try_action(o, d, name, user, now=now)
            assert not isinstance(outcome, ActionInputError), (role, name, outcome)
            if not isinstance(outcome, Exception):
                accepted.add(name)
        assert offered == accepted, role
        if (state, role) in EXPECTED_ACTIONS:
            assert offered == EXPECTED_ACTIONS[state, role]


# --- Events are an append-only audit trail ---------------------------------------------------


def test_events_cannot_be_changed_or_deleted_through_the_orm():
    o = Office()
    d = bring_to(o, (S.PROCESSING, Stage.PROCESSING))
    event = d.events.first()
    original = list(DossierEvent.objects.values())
    event.comment = "sửa"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        DossierEvent.objects.filter(pk=event.pk).update(comment="sửa")
    with pytest.raises(TypeError):
        DossierEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(TypeError):
        DossierEvent.objects.all().delete()
    with pytest.raises(TypeError):
        d.events.update(comment="sửa")
    with pytest.raises(TypeError):
        d.events.all().delete()
    with pytest.raises(TypeError), transaction.atomic():  # bulk_update breaks the enclosing block
        DossierEvent.objects.bulk_update([event], ["comment"])
    assert list(DossierEvent.objects.values()) == original
