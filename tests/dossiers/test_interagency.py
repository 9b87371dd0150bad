"""Inter-agency routing (liên thông, Decree 118/2025 Art. 20): a commune's dossier handled by a
provincial department and back, consultations, the tax office's notice, boundary-free intake.

Every state is reached through the real services; times are passed explicitly, from Monday
2 March 2026 09:00 (Vietnam).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from dossiers import lookup, periods, workflow
from dossiers.models import Consultation, Dossier, Stage, Status
from dossiers.pdf import FORMS
from dossiers.services import WorkflowConflict, available_actions, dossier_act, dossier_create
from procedures import deadlines
from procedures.models import Agency, Role, WorkflowStep
from tests.factories import Office, make_agency, make_procedure, make_user, vn

pytestmark = pytest.mark.django_db

T = vn(2026, 3, 2, 9, 0)  # Monday morning
S = Status


class Department:
    """A provincial department with a specialist, a leader and a reception officer."""

    def __init__(self, code=None, name="Văn phòng đăng ký đất đai tỉnh"):
        self.agency = make_agency(code=code, name=name, level=Agency.Level.DEPARTMENT)
        prefix = self.agency.code.replace(".", "").lower()
        self.specialist = make_user(f"{prefix}-cv", agency=self.agency, role=Role.SPECIALIST, first_name="Lê Văn Sở")
        self.leader = make_user(f"{prefix}-ld", agency=self.agency, role=Role.LEADER, first_name="Phạm Thị Sở")
        self.reception = make_user(f"{prefix}-tn", agency=self.agency, role=Role.RECEPTION)


def crossing_procedure(commune, department, days="10"):
    """Commune desk → department specialist → department leader → commune leader → commune desk."""
    procedure = make_procedure(
        name="Đăng ký biến động quyền sử dụng đất",
        agencies=[commune.agency],
        days=days,
        workflow=[
            ("Tiếp nhận hồ sơ", Role.RECEPTION, 10),
            ("Thẩm định hồ sơ", Role.SPECIALIST, 40),
            ("Phê duyệt của Văn phòng", Role.LEADER, 20),
            ("Ký xác nhận của xã", Role.LEADER, 20),
            ("Trả kết quả", Role.RECEPTION, 10),
        ],
    )
    WorkflowStep.objects.filter(procedure=procedure, position__in=[1, 2]).update(agency=department.agency)
    return procedure


@pytest.fixture
def world():
    commune = Office()
    department = Department()
    other = Office()
    return commune, department, other, crossing_procedure(commune, department)


def act(dossier, action, user, now, **params):
    return dossier_act(dossier=dossier, actor=user, action=action, now=now, **params)


def planned(dossier, index):
    """The deadline of workflow step `index` by the working-day engine: its cumulative share of the
    working time between acceptance and the due date."""
    steps = periods.workflow_steps(dossier)
    share = sum(s["share"] for s in steps[: index + 1])
    start = deadlines.counting_start(dossier.received_at)
    total = deadlines.working_minutes_between(start, dossier.due_at)
    return deadlines.add_working_minutes(start, total * share / 100)


def test_a_commune_dossier_goes_to_the_department_and_comes_back(world):
    commune, department, other, procedure = world
    d, pin = commune.receive(procedure=procedure, now=T)
    assert (d.handling_agency, d.step_index) == (commune.agency, 0)
    assert d.due_at == deadlines.compute_due_at(T, Decimal("10"))
    # The desk cannot assign a specialist of its own: the next step is the department's.
    with pytest.raises(WorkflowConflict):
        act(d, "assign", commune.reception, T)
    assert "hand_over" in available_actions(commune.reception, d, T)
    d = act(d, "hand_over", commune.reception, T + timedelta(minutes=30))
    assert (d.status, d.stage, d.handling_agency, d.step_index) == (S.PROCESSING, Stage.HANDOVER, department.agency, 1)
    assert d.step_due_at == planned(d, 1)
    # It waits in the department's reception queue; the commune sees it read-only.
    assert Dossier.objects.visible_to(department.specialist).filter(pk=d.pk).exists()
    assert available_actions(commune.specialist, d, T) == []
    assert not Dossier.objects.visible_to(other.leader).filter(pk=d.pk).exists()
    with pytest.raises(PermissionDenied):
        act(d, "accept_handover", commune.leader, T + timedelta(hours=1))
    d = act(d, "accept_handover", department.specialist, T + timedelta(hours=1))
    assert (d.stage, d.assignee, d.step_index) == (Stage.PROCESSING, department.specialist, 1)
    assert d.step_due_at == planned(d, 1)
    with pytest.raises(PermissionDenied):
        act(d, "propose_result", commune.specialist, T + timedelta(hours=2), result="x")
    d = act(d, "propose_result", department.specialist, T + timedelta(days=1), result="Chỉnh lý giấy chứng nhận")
    assert (d.stage, d.step_index, d.step_due_at) == (Stage.APPROVAL, 2, planned(d, 2))
    assert [d.pk for d in Dossier.objects.filter(pk=d.pk)] == [d.pk]
    # The department's leader finishes its part: the commune leader's step is next (a hand-over).
    with pytest.raises(WorkflowConflict):
        act(d, "approve", department.leader, T + timedelta(days=2))
    d = act(d, "hand_over", department.leader, T + timedelta(days=2))
    assert (d.stage, d.handling_agency, d.step_index) == (Stage.HANDOVER, commune.agency, 3)
    d = act(d, "accept_handover", commune.leader, T + timedelta(days=2, hours=1))
    assert (d.stage, d.step_due_at) == (Stage.APPROVAL, planned(d, 3))
    d = act(d, "approve", commune.leader, T + timedelta(days=3))
    assert (d.status, d.stage, d.handling_agency) == (S.RESULT_READY, Stage.RETURN, commune.agency)
    d = act(d, "return_result", commune.reception, T + timedelta(days=3, hours=1), collected_by="Nguyễn Văn An")
    assert d.status == S.RETURNED
    # The department keeps read access; the other commune never had any.
    assert Dossier.objects.visible_to(department.leader).filter(pk=d.pk).exists()
    assert not Dossier.objects.visible_to(other.reception).filter(pk=d.pk).exists()

    events = list(d.events.order_by("created_at", "id"))
    handovers = [e for e in events if "handover" in (e.data or {})]
    assert [(e.action, e.data["handover"]["giver_agency"], e.data["handover"]["receiver_agency"]) for e in handovers] == [
        ("hand_over", commune.agency.code, department.agency.code),
        ("accept_handover", commune.agency.code, department.agency.code),
        ("hand_over", department.agency.code, commune.agency.code),
        ("accept_handover", department.agency.code, commune.agency.code),
    ]
    # Each hand-over closes the giver's step with its deadline and outcome.
    first = handovers[0]
    assert (first.step_due_at, first.step_outcome) == (periods.transfer_deadline(T), "on_time")

    # The control slip (Mẫu 06) prints each hand-over with the giving and receiving side.
    slip = FORMS["control-slip"].build(d, None)
    handed, back = [row for row in slip["rows"] if row["action"] == "Chuyển hồ sơ liên thông"]
    assert commune.agency.name in handed["giver"] and department.agency.name in handed["receiver"]
    assert "Lê Văn Sở" in handed["receiver"]  # the department's specialist accepted it
    assert department.agency.name in back["giver"] and commune.agency.name in back["receiver"]
    accepted = next(row for row in slip["rows"] if row["action"] == "Tiếp nhận hồ sơ liên thông")
    assert department.agency.name in accepted["receiver"] and accepted["step_due"]

    # The citizen's timeline, in plain Vietnamese.
    texts = [entry["text"] for entry in lookup.citizen_timeline(d)]
    assert f"Hồ sơ của ông/bà đã được chuyển đến {department.agency.name} để giải quyết phần việc của cơ quan này." in texts
    assert f"{department.agency.name} đã nhận hồ sơ của ông/bà và đang giải quyết." in texts


def test_the_department_sends_a_hand_over_back_with_a_reason(world):
    commune, department, _other, procedure = world
    d, _pin = commune.receive(procedure=procedure, now=T)
    d = act(d, "hand_over", commune.reception, T)
    with pytest.raises(workflow.ActionInputError):
        act(d, "return_handover", department.leader, T + timedelta(hours=1))
    d = dossier_act(
        dossier=d, actor=department.leader, action="return_handover", comment="Thiếu trích đo", now=T + timedelta(hours=1)
    )
    assert (d.status, d.stage, d.handling_agency, d.step_index) == (S.RECEIVED, Stage.INTAKE, commune.agency, 0)
    assert "hand_over" in available_actions(commune.reception, d, T + timedelta(hours=2))
    # It was handed to the department: read access stays.
    assert Dossier.objects.visible_to(department.specialist).filter(pk=d.pk).exists()


def test_consulted_agency_answers_and_the_delay_is_recorded(world):
    commune, department, other, _procedure = world
    d, _pin = commune.receive(now=T)
    d = act(d, "assign", commune.reception, T)
    with pytest.raises(workflow.ActionInputError) as info:
        dossier_act(dossier=d, actor=commune.specialist, action="consult", comment="?", now=T, agencies=["NOPE"], days="2")
    assert "agencies" in info.value.errors
    d = dossier_act(
        dossier=d,
        actor=commune.specialist,
        action="consult",
        comment="Đề nghị cho ý kiến về nguồn gốc đất",
        now=T,
        agencies=[department.agency.code, other.agency.code],
        days="2",
    )
    consultations = list(Consultation.objects.filter(dossier=d).order_by("agency__code"))
    assert {c.due_at for c in consultations} == {deadlines.compute_due_at(T, Decimal("2"))}
    # Consulted agencies see the dossier and may answer; nothing else.
    assert Dossier.objects.visible_to(other.leader).filter(pk=d.pk).exists()
    assert available_actions(department.specialist, d, T) == ["answer_consultation"]
    late = consultations[0].due_at + timedelta(hours=1)
    d = dossier_act(dossier=d, actor=department.specialist, action="answer_consultation", comment="Đất ở ổn định", now=late)
    answered = Consultation.objects.get(dossier=d, agency=department.agency)
    assert (answered.answer, answered.outcome, answered.answered_by) == ("Đất ở ổn định", "late", department.specialist)
    assert "answer_consultation" not in available_actions(department.specialist, d, late)
    with pytest.raises(PermissionDenied):
        dossier_act(dossier=d, actor=department.leader, action="answer_consultation", comment="x", now=late)


def test_the_tax_office_records_the_obligation_and_the_clock_waits(world):
    commune, _department, _other, _procedure = world
    tax = Department(name="Thuế cơ sở 1 tỉnh Thái Nguyên")
    d, _pin = commune.receive(now=T)
    d = act(d, "assign", commune.reception, T)
    due = d.due_at
    d = dossier_act(
        dossier=d,
        actor=commune.specialist,
        action="request_obligation",
        comment="Xác định nghĩa vụ tài chính về đất",
        now=T + timedelta(hours=1),
        tax_agency=tax.agency.code,
    )
    assert d.status == S.AWAITING_OBLIGATION
    assert Dossier.objects.visible_to(tax.specialist).filter(pk=d.pk).exists()
    with pytest.raises(workflow.ActionInputError):
        act(d, "record_obligation", tax.specialist, T + timedelta(hours=2), amount="abc", notice_number="TB-1")
    d = act(d, "record_obligation", tax.specialist, T + timedelta(hours=2), amount="1.250.000", notice_number="TB-15")
    notice = Consultation.objects.get(dossier=d, kind=Consultation.Kind.OBLIGATION)
    assert (notice.amount_vnd, notice.notice_number, notice.outcome) == (1250000, "TB-15", "early")
    assert d.status == S.AWAITING_OBLIGATION  # the applicant still has to pay
    d = act(d, "obligation_fulfilled", commune.reception, T + timedelta(days=1, hours=1))
    assert d.status == S.PROCESSING
    assert d.due_at == deadlines.add_working_minutes(due, d.pauses.get().working_minutes)


def test_boundary_free_intake_is_forwarded_to_the_competent_commune_and_returned_at_the_desk():
    desk, competent = Office(), Office()
    d, _pin = dossier_create(
        actor=desk.reception, procedure=competent.procedure, applicant_name="Trần Thị Bình", now=T
    )
    assert (d.receiving_agency, d.competent_agency, d.returning_agency) == (desk.agency, competent.agency, desk.agency)
    d = act(d, "hand_over", desk.reception, T)
    assert Dossier.objects.visible_to(competent.reception).filter(pk=d.pk).exists()
    d = act(d, "accept_handover", competent.reception, T + timedelta(hours=1))
    assert (d.stage, d.assignee) == (Stage.PROCESSING, competent.specialist)
    d = act(d, "propose_result", competent.specialist, T + timedelta(hours=2), result="Trích lục")
    d = act(d, "approve", competent.leader, T + timedelta(hours=3))
    assert (d.stage, d.handling_agency) == (Stage.RETURN, desk.agency)
    back = d.events.get(action="approve").data["handover"]
    assert (back["giver_agency"], back["receiver_agency"]) == (competent.agency.code, desk.agency.code)
    d = act(d, "return_result", desk.reception, T + timedelta(hours=4), collected_by="Trần Thị Bình")
    assert d.status == S.RETURNED
