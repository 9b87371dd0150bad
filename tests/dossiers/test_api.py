"""The dossier API (/api/v1/dossiers/…): tokens, intake, scoped lists, detail with events and
actions, transitions through the workflow service, the receipt PDF. Every role acts with its
own token obtained from /api/v1/auth/token/."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from pypdf import PdfReader
from rest_framework.test import APIClient

from dossiers.attachments import add_attachment
from dossiers.models import Dossier, Stage, Status
from procedures.models import Membership, Role
from tests.factories import Office, make_agency, make_procedure, make_user, vn

MONDAY_9 = vn(2026, 3, 2, 9, 0)  # Monday 2 March 2026, a working day
PASSWORD = "motcua-demo"
NEW_DOSSIER = {
    "applicant_name": "Trần Thị Bình",
    "applicant_id_number": "001190000001",
    "applicant_phone": "0900000001",
    "applicant_email": "binh@example.vn",
    "applicant_address": "Thôn 2, xã Thượng Nung",
    "channel": "in_person",
    "documents": [{"name": "Tờ khai đăng ký khai sinh", "originals": 1, "copies": 0, "received": True}],
}


@pytest.fixture
def frozen():
    with time_machine.travel(MONDAY_9, tick=False) as traveller:
        yield traveller


@pytest.fixture
def office(db):
    return Office(code="H56.33")


@pytest.fixture
def other(db):
    return Office(code="H56.34")


@pytest.mark.parametrize("events_cache_seconds", [0, 300])
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"channel": "online"},
        {"missing_documents": ["Giấy chứng sinh"]},
        {"competent_agency": "H56.40", "return_method": "post"},
    ],
    ids=["in_person", "online", "incomplete", "other_competent_agency"],
)
def test_the_201_of_a_creation_is_the_detail_a_get_returns_next(office, frozen, settings, extra, events_cache_seconds):
    """The creation answers from the dossier it has just written (not read back): the same body as
    the GET that follows, the PIN apart, whatever the channel, with or without the history cache."""
    settings.DOSSIER_EVENTS_CACHE_SECONDS = events_cache_seconds
    if "competent_agency" in extra:
        other = make_agency("H56.40", "Sở Tư pháp")
        office.procedure.agencies.add(other)
    reception = login(office.reception)
    created = reception.post(
        "/api/v1/dossiers/", {**NEW_DOSSIER, "procedure": office.procedure.code, **extra}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body.pop("pin")
    detail = reception.get(url(body["code"]))
    assert detail.status_code == 200, detail.content
    assert body == detail.json()
    assert body["events"] and body["attachments"] == [] and body["consultations"] == []


@pytest.mark.parametrize("events_cache_seconds", [0, 300])
def test_each_action_answers_the_detail_a_get_returns_next(office, frozen, settings, events_cache_seconds):
    settings.DOSSIER_EVENTS_CACHE_SECONDS = events_cache_seconds
    reception, specialist, leader = login(office.reception), login(office.specialist), login(office.leader)
    created = reception.post("/api/v1/dossiers/", {**NEW_DOSSIER, "procedure": office.procedure.code}, format="json")
    code = created.json()["code"]
    steps = [
        (reception, "assign", {"assignee": office.specialist.username}),
        (specialist, "propose_result", {"result": "Cấp giấy khai sinh"}),
        (leader, "approve", {"comment": "Đồng ý"}),
        (reception, "return_result", {"collected_by": "Trần Thị Bình", "method": "in_person"}),
    ]
    for client, action, body in steps:
        frozen.shift(timedelta(minutes=30))
        response = act(client, code, action, **body)
        assert response.status_code == 200, response.content
        assert response.json() == client.get(url(code)).json(), action
        assert response.json()["events"][-1]["action"] == action


def login(user):
    """An API client authenticated with the token the user gets from the token endpoint."""
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def url(code, suffix=""):
    return f"/api/v1/dossiers/{code}/{suffix}"


def act(client, code, action, **body):
    return client.post(url(code, f"actions/{action}/"), body, format="json")


def snapshot(dossier):
    dossier.refresh_from_db()
    return dossier.status, dossier.stage, dossier.updated_at, dossier.events.count()


# --- Tokens ----------------------------------------------------------------------------------------


def test_token_endpoint_issues_a_token_for_the_right_password(office):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": office.reception.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    detail = APIClient().get("/api/v1/dossiers/", HTTP_AUTHORIZATION=f"Token {token}")
    assert detail.status_code == 200
    assert AuthToken.objects.filter(user=office.reception, expiry__isnull=False).count() == 1


def test_token_endpoint_rejects_a_wrong_password_with_a_readable_400(office):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": office.reception.username, "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["non_field_errors"][0]
    assert "token" not in response.json()


def test_anonymous_callers_get_401(office):
    dossier, _pin = office.receive()
    client = APIClient()
    assert client.get("/api/v1/dossiers/").status_code == 401
    assert client.get(url(dossier.code)).status_code == 401
    assert client.post("/api/v1/dossiers/", {}, format="json").status_code == 401
    assert act(client, dossier.code, "assign").status_code == 401
    assert client.get(url(dossier.code, "receipt.pdf")).status_code == 401


def test_a_user_without_any_role_gets_403(office):
    client = login(make_user("no-role"))
    assert client.get("/api/v1/dossiers/").status_code == 403
    assert client.post("/api/v1/dossiers/", {**NEW_DOSSIER, "procedure": office.procedure.code}).status_code == 403


# --- The whole life of a dossier through the API ---------------------------------------------------


def test_every_role_takes_a_dossier_from_intake_to_returned_with_its_own_token(office, frozen):
    reception, specialist, leader, supervisor = (
        login(office.reception),
        login(office.specialist),
        login(office.leader),
        login(office.supervisor),
    )

    created = reception.post("/api/v1/dossiers/", {**NEW_DOSSIER, "procedure": office.procedure.code}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    code, pin = body["code"], body["pin"]
    assert code.startswith("H56.33-260302-")
    assert body["status"] == Status.RECEIVED
    assert body["received_at"] and body["due_at"]
    dossier = Dossier.objects.get(code=code)
    assert dossier.check_pin(pin)
    assert dossier.created_by == office.reception

    listed = reception.get("/api/v1/dossiers/").json()["results"]
    assert [item["code"] for item in listed] == [code]

    detail = reception.get(url(code)).json()
    assert "pin" not in detail
    assert detail["events"][0]["action"] == "receive"
    assert detail["events"][0]["actor"] == office.reception.username
    assert "assign" in detail["actions"]
    assert specialist.get(url(code)).json()["actions"] == []

    frozen.shift(timedelta(minutes=30))
    response = act(reception, code, "assign", assignee=office.specialist.username, comment="Chuyển thụ lý")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == Status.PROCESSING
    assert response.json()["assignee"] == office.specialist.username

    assert "propose_result" in specialist.get(url(code)).json()["actions"]
    frozen.shift(timedelta(hours=2))
    response = act(specialist, code, "propose_result", result="Cấp giấy khai sinh")
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == Stage.APPROVAL

    assert "approve" in leader.get(url(code)).json()["actions"]
    frozen.shift(timedelta(hours=1))
    response = act(leader, code, "approve", comment="Đồng ý")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == Status.RESULT_READY

    frozen.shift(timedelta(hours=1))
    response = act(reception, code, "return_result", collected_by="Trần Thị Bình", method="in_person")
    assert response.status_code == 200, response.content
    final = response.json()
    assert final["status"] == Status.RETURNED
    assert final["status_label"]
    assert final["returned_at"]
    assert final["actions"] == ["report_result_error"]  # a wrong result can still be corrected (Art. 23.1)
    events = final["events"]
    assert [e["action"] for e in events] == ["receive", "assign", "propose_result", "approve", "return_result"]
    assert [e["actor"] for e in events] == [
        office.reception.username,
        office.reception.username,
        office.specialist.username,
        office.leader.username,
        office.reception.username,
    ]
    assign_event = events[1]
    assert (assign_event["from_status"], assign_event["to_status"]) == (Status.RECEIVED, Status.PROCESSING)
    assert assign_event["from_status_label"] and assign_event["to_status_label"]
    assert (assign_event["from_stage"], assign_event["to_stage"]) == (Stage.INTAKE, Stage.PROCESSING)
    assert assign_event["step_due_at"] and assign_event["step_outcome"] in ("early", "on_time", "late")
    assert events[3]["comment"] == "Đồng ý"

    # The supervisor reads everything, and may take no action.
    supervised = supervisor.get(url(code))
    assert supervised.status_code == 200
    assert supervised.json()["actions"] == []
    assert [item["code"] for item in supervisor.get("/api/v1/dossiers/").json()["results"]] == [code]


# --- Intake input --------------------------------------------------------------------------------


def test_create_ignores_status_code_dates_and_other_server_fields(office, other, frozen):
    payload = {
        **NEW_DOSSIER,
        "procedure": office.procedure.code,
        "status": Status.RETURNED,
        "stage": Stage.CLOSED,
        "code": "FORGED-1",
        "due_at": "2030-01-01T00:00:00+07:00",
        "received_at": "2020-01-01T00:00:00+07:00",
        "created_by": other.reception.pk,
        "assignee": other.specialist.pk,
        "pin_hash": "0" * 64,
    }
    response = login(office.reception).post("/api/v1/dossiers/", payload, format="json")
    assert response.status_code == 201, response.content
    dossier = Dossier.objects.get(code=response.json()["code"])
    assert dossier.code != "FORGED-1"
    assert (dossier.status, dossier.stage) == (Status.RECEIVED, Stage.INTAKE)
    assert dossier.received_at == MONDAY_9
    assert dossier.due_at.year == 2026
    assert dossier.created_by == office.reception
    assert dossier.assignee is None
    assert dossier.pin_hash != "0" * 64


def test_create_with_an_unknown_procedure_is_a_readable_400(office):
    response = login(office.reception).post(
        "/api/v1/dossiers/", {**NEW_DOSSIER, "procedure": "9.999999"}, format="json"
    )
    assert response.status_code == 400
    assert "9.999999" in response.json()["procedure"][0]
    assert not Dossier.objects.exists()


def test_create_without_the_applicant_name_is_a_400(office):
    payload = {**NEW_DOSSIER, "procedure": office.procedure.code, "applicant_name": ""}
    response = login(office.reception).post("/api/v1/dossiers/", payload, format="json")
    assert response.status_code == 400
    assert "applicant_name" in response.json()


def test_create_with_missing_documents_logs_the_intake_supplement_request(office):
    payload = {**NEW_DOSSIER, "procedure": office.procedure.code, "missing_documents": "Giấy chứng sinh\nCCCD"}
    response = login(office.reception).post("/api/v1/dossiers/", payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == Status.AWAITING_SUPPLEMENT
    assert response.json()["events"][0]["data"]["missing_documents"] == ["Giấy chứng sinh", "CCCD"]


def test_only_reception_officers_may_create_dossiers(office):
    payload = {**NEW_DOSSIER, "procedure": office.procedure.code}
    for user in (office.specialist, office.leader, office.supervisor):
        assert login(user).post("/api/v1/dossiers/", payload, format="json").status_code == 403
    assert not Dossier.objects.exists()


def test_reception_cannot_receive_for_another_communes_desk(office, other):
    payload = {**NEW_DOSSIER, "procedure": office.procedure.code, "receiving_agency": other.agency.code}
    response = login(office.reception).post("/api/v1/dossiers/", payload, format="json")
    assert response.status_code == 403
    assert not Dossier.objects.exists()


# --- Transitions -----------------------------------------------------------------------------------


def test_an_action_not_possible_now_is_a_409_and_changes_nothing(office, frozen):
    dossier, _pin = office.receive()
    before = snapshot(dossier)
    frozen.shift(timedelta(minutes=5))
    response = act(login(office.leader), dossier.code, "approve", comment="ok")
    assert response.status_code == 409
    assert set(response.json()) == {"detail"}
    assert response.json()["detail"]
    assert snapshot(dossier) == before


def test_an_action_without_the_role_is_a_403_and_changes_nothing(office, frozen):
    dossier, _pin = office.receive()
    before = snapshot(dossier)
    frozen.shift(timedelta(minutes=5))
    response = act(login(office.specialist), dossier.code, "assign", assignee=office.specialist.username)
    assert response.status_code == 403
    assert snapshot(dossier) == before


def test_an_action_with_missing_input_is_a_400_with_the_field_errors(office, frozen):
    dossier, _pin = office.receive()
    before = snapshot(dossier)
    response = act(login(office.reception), dossier.code, "withdraw", comment="")
    assert response.status_code == 400
    assert response.json()["comment"][0]
    assert snapshot(dossier) == before


def test_an_unknown_action_name_is_a_404(office):
    dossier, _pin = office.receive()
    before = snapshot(dossier)
    client = login(office.reception)
    for name in ("no_such_action", "no-such-action"):
        response = act(client, dossier.code, name)
        assert response.status_code == 404
        assert name in response.json()["detail"]
    assert snapshot(dossier) == before


def test_parameters_the_action_does_not_take_are_ignored(office, frozen):
    dossier, _pin = office.receive()
    frozen.shift(timedelta(minutes=5))
    response = act(
        login(office.reception),
        dossier.code,
        "assign",
        assignee="",
        collected_by="x",
        result="forged",
        new_due_at="01/01/2030",
    )
    assert response.status_code == 200, response.content
    dossier.refresh_from_db()
    assert dossier.assignee == office.specialist  # the least loaded (only) specialist
    assert dossier.result_summary == ""
    assert dossier.original_due_at is None


# --- Agency scope -----------------------------------------------------------------------------------


def test_another_commune_cannot_list_see_act_on_print_or_attach_to_a_dossier(office, other):
    dossier, pin = office.receive()
    before = snapshot(dossier)
    for user in (other.reception, other.specialist, other.leader, other.supervisor):
        client = login(user)
        assert client.get("/api/v1/dossiers/").json()["results"] == []
        assert client.get(url(dossier.code)).status_code == 404
        assert act(client, dossier.code, "assign").status_code == 404
        assert act(client, dossier.code, "no_such_action").status_code == 404
        assert client.get(url(dossier.code, "receipt.pdf")).status_code == 404
        assert client.get(url(dossier.code, "receipt.pdf") + f"?pin={pin}").status_code == 404
        assert client.post(url(dossier.code, "attachments/"), {}).status_code == 404
    assert snapshot(dossier) == before


def test_a_supervisor_of_the_parent_agency_sees_the_communes_dossiers(office):
    province = make_agency(code="H56", level="province")
    office.agency.parent = province
    office.agency.save()
    boss = make_user("province-giamsat")
    Membership.objects.create(user=boss, agency=province, role=Role.SUPERVISOR)
    dossier, _pin = office.receive()
    client = login(boss)
    assert [item["code"] for item in client.get("/api/v1/dossiers/").json()["results"]] == [dossier.code]
    assert client.get(url(dossier.code)).status_code == 200


# --- Lists -----------------------------------------------------------------------------------------


def test_list_filters_by_status_procedure_assignee_and_overdue(office):
    other_procedure = make_procedure(agencies=[office.agency], days="10")
    with time_machine.travel(MONDAY_9, tick=False):
        received, _ = office.receive()
        assigned, _ = office.receive()
        office.act(assigned, "assign", assignee=office.specialist.username)
        slow, _ = office.receive(procedure=other_procedure)
    client = login(office.reception)

    def codes(query):
        response = client.get(f"/api/v1/dossiers/?{query}")
        assert response.status_code == 200, response.content
        return {item["code"] for item in response.json()["results"]}

    assert codes(f"status={Status.RECEIVED}") == {received.code, slow.code}
    assert codes(f"status={Status.PROCESSING}") == {assigned.code}
    assert codes(f"status={Status.RECEIVED}&status={Status.PROCESSING}") == {received.code, assigned.code, slow.code}
    assert codes(f"procedure={other_procedure.code}") == {slow.code}
    assert codes(f"assignee={office.specialist.username}") == {assigned.code}
    assert codes(f"assignee={office.specialist.pk}") == {assigned.code}
    assert login(office.specialist).get("/api/v1/dossiers/?assignee=me").json()["results"][0]["code"] == assigned.code
    # A week later the 3-day dossiers are overdue, the 10-day one is not.
    with time_machine.travel(MONDAY_9 + timedelta(days=7), tick=False):
        assert codes("overdue=true") == {received.code, assigned.code}
        assert codes("overdue=false") == {slow.code}
        assert {i["code"]: i["overdue"] for i in client.get("/api/v1/dossiers/").json()["results"]} == {
            received.code: True,
            assigned.code: True,
            slow.code: False,
        }
    assert client.get("/api/v1/dossiers/?status=99").status_code == 400


def test_list_is_cursor_paginated_newest_first_without_a_count(office):
    for minute in range(5):
        with time_machine.travel(MONDAY_9 + timedelta(minutes=minute), tick=False):
            office.receive()
    client = login(office.reception)
    first = client.get("/api/v1/dossiers/?page_size=3").json()
    assert "count" not in first
    assert len(first["results"]) == 3 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 2 and second["next"] is None
    codes = [item["code"] for item in first["results"] + second["results"]]
    expected = list(Dossier.objects.order_by("-submitted_at", "-id").values_list("code", flat=True))
    assert codes == expected


def test_list_runs_the_same_number_of_queries_for_3_or_20_dossiers(office, django_assert_max_num_queries):
    client = login(office.reception)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/dossiers/?page_size=50")
        assert response.status_code == 200
        return len(response.json()["results"]), len(queries)

    for _ in range(3):
        dossier, _pin = office.receive()
        office.act(dossier, "assign")
    small = measure()
    for _ in range(17):
        dossier, _pin = office.receive()
        office.act(dossier, "assign")
    large = measure()
    assert (small[0], large[0]) == (3, 20)
    assert small[1] == large[1]
    with django_assert_max_num_queries(5):
        client.get("/api/v1/dossiers/?page_size=50")


def test_detail_lists_attachments_with_a_download_url(office):
    dossier, _pin = office.receive()
    upload = SimpleUploadedFile("to-khai.pdf", b"%PDF-1.4\n%%EOF\n", content_type="application/pdf")
    attachment = add_attachment(dossier=dossier, uploaded_file=upload, actor=office.reception)
    body = login(office.specialist).get(url(dossier.code)).json()
    assert body["attachments"] == [
        {
            "id": attachment.pk,
            "name": "to-khai.pdf",
            "size": upload.size,
            "content_type": "application/pdf",
            "kind": "application",
            "sha256": attachment.sha256,
            "uploaded_by": office.reception.username,
            "uploaded_at": body["attachments"][0]["uploaded_at"],
            "url": f"http://testserver/api/v1/dossiers/{dossier.code}/attachments/{attachment.pk}/",
        }
    ]


# --- Receipt -------------------------------------------------------------------------------------


def pdf_text(content):
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


def test_the_receipt_pdf_prints_the_pin_only_when_the_right_one_is_given(office):
    dossier, pin = office.receive(now=MONDAY_9)
    client = login(office.reception)
    plain = client.get(url(dossier.code, "receipt.pdf"), HTTP_ACCEPT="application/pdf")
    assert plain.status_code == 200
    assert plain["Content-Type"] == "application/pdf"
    assert plain.content.startswith(b"%PDF")
    assert dossier.code in pdf_text(plain.content)
    assert pin not in pdf_text(plain.content)
    with_pin = client.get(url(dossier.code, "receipt.pdf") + f"?pin={pin}")
    assert pin in pdf_text(with_pin.content)
    wrong = "000000" if pin != "000000" else "111111"
    assert wrong not in pdf_text(client.get(url(dossier.code, "receipt.pdf") + f"?pin={wrong}").content)


def test_an_unknown_code_is_a_404_everywhere(office):
    client = login(office.reception)
    for path in (url("NO.SUCH-260302-0001"), url("NO.SUCH-260302-0001", "receipt.pdf")):
        assert client.get(path).status_code == 404
    # A NUL byte is refused before routing (motcua.middleware.RequestGuardMiddleware, issue 13).
    assert client.get(url("bad%00code")).status_code == 400
    assert act(client, "NO.SUCH-260302-0001", "assign").status_code == 404
