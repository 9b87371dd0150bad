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
    assert [
        (e.action, e.data["handover"]["giver_agency"], e.data["handover"]["receiver_agency"]) for e in handovers
    ] == [
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
    assert (
        f"Hồ sơ của ông/bà đã được chuyển đến {department.agency.name} để giải quyết phần việc của cơ quan này."
        in texts
    )
    assert f"{department.agency.name} đã nhận hồ sơ của ông/bà và đang giải quyết." in texts


def test_the_department_sends_a_hand_over_back_with_a_reason(world):
    commune, department, _other, procedure = world
    d, _pin = commune.receive(procedure=procedure, now=T)
    d = act(d, "hand_over", commune.reception, T)
    with pytest.raises(workflow.ActionInputError):
        act(d, "return_handover", department.leader, T + timedelta(hours=1))
    d = dossier_act(
        dossier=d,
        actor=department.leader,
        action="return_handover",
        comment="Thiếu trích đo",
        now=T + timedelta(hours=1),
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
        dossier_act(
            dossier=d, actor=commune.specialist, action="consult", comment="?", now=T, agencies=["NOPE"], days="2"
        )
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
    d = dossier_act(
        dossier=d, actor=department.specialist, action="answer_consultation", comment="Đất ở ổn định", now=late
    )
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
    d, _pin = dossier_create(actor=desk.reception, procedure=competent.procedure, applicant_name="Trần Thị Bình", now=T)
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


# --- API, scope across three agencies, reminders, statistics ------------------------------------


def api(user):
    from rest_framework.test import APIClient

    from tests.factories import api_token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def test_the_api_shows_step_agencies_lists_handed_dossiers_and_documents_the_actions(world):
    commune, department, other, procedure = world
    steps = api(commune.reception).get(f"/api/v1/procedures/{procedure.code}/").json()["workflow_steps"]
    assert [s["agency"] for s in steps] == [None, department.agency.code, department.agency.code, None, None]
    handed, _pin = commune.receive(procedure=procedure, now=T)
    mine, _pin = commune.receive(now=T)
    elsewhere, _pin = other.receive(procedure=other.procedure, now=T)
    client = api(commune.reception)
    response = client.post(f"/api/v1/dossiers/{handed.code}/actions/hand_over/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == S.PROCESSING
    listed = {row["code"] for row in api(department.specialist).get("/api/v1/dossiers/").json()["results"]}
    assert listed == {handed.code}
    detail = api(department.specialist).get(f"/api/v1/dossiers/{handed.code}/").json()
    assert "accept_handover" in detail["actions"]
    assert api(department.specialist).get(f"/api/v1/dossiers/{mine.code}/").status_code == 404
    assert api(department.leader).get(f"/api/v1/dossiers/{elsewhere.code}/").status_code == 404
    # A conflict is a 409 with a readable message, and changes nothing.
    conflict = api(department.specialist).post(f"/api/v1/dossiers/{mine.code}/actions/hand_over/", {}, format="json")
    assert conflict.status_code == 404
    again = client.post(f"/api/v1/dossiers/{handed.code}/actions/hand_over/", {}, format="json")
    assert again.status_code == 409 and again.json()["detail"]
    schema = api(commune.reception).get("/api/schema/?format=json").json()
    path = schema["paths"]["/api/v1/dossiers/{code}/actions/{action_name}/"]["post"]
    names = next(p for p in path["parameters"] if p["name"] == "action_name")["schema"]["enum"]
    assert {"hand_over", "accept_handover", "return_handover", "consult", "answer_consultation"} <= set(names)
    assert "/api/v1/stats/handling/" in schema["paths"]


def test_no_agency_sees_a_dossier_it_was_never_given_three_agencies(world):
    """Two communes and a department: each officer's list and detail show exactly the dossiers of
    their agency, plus those handed to it or on which it was consulted, for good."""
    commune, department, other, procedure = world
    dossiers = {
        "commune only": commune.receive(now=T)[0],
        "other only": other.receive(now=T)[0],
        "handed": act(commune.receive(procedure=procedure, now=T)[0], "hand_over", commune.reception, T),
        "sent back": dossier_act(
            dossier=act(commune.receive(procedure=procedure, now=T)[0], "hand_over", commune.reception, T),
            actor=department.leader,
            action="return_handover",
            comment="Thiếu giấy tờ",
            now=T,
        ),
    }
    consulted = act(other.receive(now=T)[0], "assign", other.reception, T)
    dossiers["consulted"] = dossier_act(
        dossier=consulted,
        actor=other.specialist,
        action="consult",
        comment="?",
        now=T,
        agencies=[department.agency.code],
        days="1",
    )
    expected = {
        commune: {"commune only", "handed", "sent back"},
        other: {"other only", "consulted"},
        department: {"handed", "sent back", "consulted"},
    }
    for office, names in expected.items():
        users = [u for u in (getattr(office, r, None) for r in ("reception", "specialist", "leader")) if u]
        for user in users:
            listed = {row["code"] for row in api(user).get("/api/v1/dossiers/?page_size=100").json()["results"]}
            assert listed == {dossiers[n].code for n in names}, user
            for name, dossier in dossiers.items():
                status = api(user).get(f"/api/v1/dossiers/{dossier.code}/").status_code
                assert status == (200 if name in names else 404), (user, name)


def test_a_late_consulted_agency_gets_the_reminder_then_the_alert(world):
    from notifications import reminders
    from notifications.models import Notification, Reminder

    commune, department, _other, _procedure = world
    d = act(commune.receive(now=T)[0], "assign", commune.reception, T)
    d = dossier_act(
        dossier=d,
        actor=commune.specialist,
        action="consult",
        comment="Cho ý kiến",
        now=T,
        agencies=[department.agency.code],
        days="3",
    )
    consultation = Consultation.objects.get(dossier=d)
    # 3 working days by the engine: Thursday, the same half of the day (nhận sáng trả sáng).
    assert consultation.due_at == deadlines.compute_due_at(T, Decimal("3")) == vn(2026, 3, 5, 11, 30)
    reminders.scan(vn(2026, 3, 2, 10, 0))  # due in 3 working days: not yet
    assert not Reminder.objects.filter(kind__startswith="consultation").exists()
    reminders.scan(vn(2026, 3, 4, 8, 0))  # due tomorrow: the reminder
    assert list(Reminder.objects.filter(kind__startswith="consultation").values_list("kind", flat=True)) == [
        "consultation_due_soon"
    ]
    told = set(Notification.objects.filter(kind="reminder.consultation_due_soon").values_list("recipient", flat=True))
    assert {department.specialist.pk, department.leader.pk} <= told
    assert reminders.scan(vn(2026, 3, 4, 8, 30)) == 0 or not Reminder.objects.filter(kind="consultation_overdue")
    reminders.scan(vn(2026, 3, 5, 14, 0))  # past the deadline: the alert, to the requester's leader too
    alert = Notification.objects.filter(kind="reminder.consultation_overdue")
    assert {department.specialist.pk, department.leader.pk, commune.leader.pk} <= set(
        alert.values_list("recipient", flat=True)
    )
    assert "quá hạn trả lời xin ý kiến" in alert.first().subject
    count = Reminder.objects.count()
    reminders.scan(vn(2026, 3, 5, 14, 5))
    assert Reminder.objects.count() == count  # a rerun writes nothing


def test_the_department_holding_a_dossier_past_its_step_deadline_is_charged(world):
    from reporting import handling, stats

    commune, department, _other, procedure = world
    d, _pin = commune.receive(procedure=procedure, now=T)
    d = act(d, "hand_over", commune.reception, T + timedelta(minutes=10))
    d = act(d, "accept_handover", department.specialist, T + timedelta(minutes=20))
    step_due = d.step_due_at
    # The department sits on it: its step's deadline passes, then the dossier's own due date.
    late = d.due_at + timedelta(hours=1)
    d = act(d, "propose_result", department.specialist, late, result="Chỉnh lý")
    d = act(d, "hand_over", department.leader, late + timedelta(minutes=10))
    superuser = make_user("root", is_superuser=True)
    filters = stats.parse_filters(
        {"from": "2026-03-01", "to": "2026-04-30"}, superuser, today=late.date() + timedelta(days=1)
    )
    rows = {row["agency"]: row for row in handling.handling_table(filters)["rows"]}
    held = rows[department.agency.code]
    assert held["late_dossiers"] == 1 and rows[commune.agency.code]["late_dossiers"] == 0
    assert held["steps_late"] == 2  # its specialist's and its leader's steps ended after their deadlines
    assert step_due < late
    assert rows[commune.agency.code]["steps_on_time"] >= 1  # the desk handed over in time
    assert held["step_on_time_rate"] < 100
