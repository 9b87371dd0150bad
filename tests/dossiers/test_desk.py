"""The desk as its officers need it (issue 15): required and conditional documents, documents
brought with a supplement, the officers' search in their scope, the PIN reissued at the desk,
"accept and forward", the return method, and no empty result."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dossiers.models import Dossier, DossierEvent, Status
from dossiers.services import ActionInputError, WorkflowConflict, available_actions, dossier_act, dossier_reissue_pin
from procedures.importing import import_records
from procedures.models import Procedure, RequiredDocument
from tests.factories import Office, vn

from .test_views import login, reception_post

pytestmark = pytest.mark.django_db
T = vn(2026, 3, 2, 9, 0)


@pytest.fixture
def office():
    return Office()


# --- Required and conditional documents ----------------------------------------------------


def test_the_importer_marks_conditional_documents(office):
    report = import_records(
        [
            {
                "code": "9.900001",
                "name": "Đăng ký khai sinh cho trẻ bị bỏ rơi",
                "field_code": "HT",
                "processing_days": "3",
                "documents": "Tờ khai;1;0|?Biên bản xác nhận việc trẻ bị bỏ rơi;1;0;Trường hợp trẻ bị bỏ rơi",
            },
            {
                "code": "9.900002",
                "name": "Thủ tục JSON",
                "field_code": "HT",
                "processing_days": "3",
                "documents": [{"name": "Giấy tờ khác", "required": "không"}, {"name": "Tờ khai"}],
            },
        ]
    )
    assert not report.errors, report.errors
    docs = RequiredDocument.objects.filter(procedure__code="9.900001").order_by("position")
    assert [(d.name, d.required, d.note) for d in docs] == [
        ("Tờ khai", True, ""),
        ("Biên bản xác nhận việc trẻ bị bỏ rơi", False, "Trường hợp trẻ bị bỏ rơi"),
    ]
    assert list(
        RequiredDocument.objects.filter(procedure__code="9.900002")
        .order_by("position")
        .values_list("required", flat=True)
    ) == [False, True]


def test_changing_only_the_required_mark_updates_the_procedure(office):
    row = {"code": "9.900003", "name": "Thủ tục", "field_code": "HT", "processing_days": "3", "documents": "Tờ khai"}
    import_records([row])
    version = Procedure.objects.get(code="9.900003").version
    report = import_records([{**row, "documents": "?Tờ khai"}])
    assert not report.errors
    procedure = Procedure.objects.get(code="9.900003")
    assert procedure.version == version + 1
    assert procedure.documents.get().required is False


def test_an_invalid_required_value_is_a_readable_import_error(office):
    report = import_records(
        [
            {
                "code": "9.900004",
                "name": "X",
                "field_code": "HT",
                "processing_days": "3",
                "documents": [{"name": "A", "required": "maybe"}],
            }
        ]
    )
    assert report.errors
    assert "bắt buộc “maybe” không phải có/không" in str(report.errors)


def test_the_documents_brought_with_a_supplement_are_recorded_and_printed(client, office):
    login(client, office.reception)
    client.post(reverse("dossiers:receive"), reception_post(office, documents=["0"], intent="supplement", note=""))
    dossier = Dossier.objects.get()
    assert dossier.status == Status.AWAITING_SUPPLEMENT
    page = client.get(dossier.get_absolute_url()).content.decode()
    assert 'name="documents" value="1"' in page  # the missing document can be ticked now
    response = client.post(
        reverse("dossiers:act", args=[dossier.code, "supplement_received"]), {"documents": ["1"], "comment": ""}
    )
    assert response.status_code == 302
    dossier.refresh_from_db()
    assert dossier.status == Status.RECEIVED
    assert [d["received"] for d in dossier.documents] == [True, True]
    event = dossier.events.get(action="supplement_received")
    assert event.data["documents_received"] == ["Giấy chứng sinh"]


def test_a_supplement_cannot_tick_a_document_outside_the_checklist(office):
    dossier, _pin = office.receive(documents=[{"name": "A", "received": False}], missing_documents=["A"])
    with pytest.raises(ActionInputError):
        dossier_act(dossier=dossier, actor=office.reception, action="supplement_received", documents=["7"])
    dossier.refresh_from_db()
    assert dossier.status == Status.AWAITING_SUPPLEMENT


# --- No empty result ---------------------------------------------------------------------


def test_an_empty_result_cannot_be_proposed(office):
    dossier, _pin = office.receive(now=T)
    office.act(dossier, "assign", now=T)
    with pytest.raises(ActionInputError) as error:
        office.act(dossier, "propose_result", now=T, result="   ")
    assert "result" in error.value.errors
    dossier.refresh_from_db()
    assert dossier.stage == "processing"


def test_an_empty_result_cannot_be_marked_ready(office):
    office = Office(workflow=[("Tiếp nhận", "reception", 20), ("Xử lý", "specialist", 60), ("Trả", "reception", 20)])
    dossier, _pin = office.receive(now=T)
    office.act(dossier, "assign", now=T)
    with pytest.raises(ActionInputError):
        office.act(dossier, "mark_result_ready", now=T, result="")
    dossier.refresh_from_db()
    assert dossier.status == Status.PROCESSING


def test_a_dossier_without_a_result_cannot_be_approved(office):
    dossier, _pin = office.to_approval(now=T)
    # A result emptied behind the table's back (an old row, a manual fix): approval refuses it.
    Dossier.objects.filter(pk=dossier.pk).update(result_summary="")
    dossier.refresh_from_db()
    assert "approve" not in available_actions(office.leader, dossier, now=T)
    with pytest.raises(WorkflowConflict):
        office.act(dossier, "approve", now=T)
    dossier.refresh_from_db()
    assert dossier.status == Status.PROCESSING


# --- The lost PIN --------------------------------------------------------------------------


def test_a_reissued_pin_replaces_the_old_one_and_is_audited(office):
    dossier, old_pin = office.receive(now=T)
    dossier, new_pin = dossier_reissue_pin(dossier=dossier, actor=office.reception, now=T)
    assert dossier.check_pin(new_pin)
    assert not dossier.check_pin(old_pin) or old_pin == new_pin
    event = dossier.events.get(action="reissue_pin")
    assert (event.actor, event.from_status, event.to_status) == (office.reception, Status.RECEIVED, Status.RECEIVED)
    assert new_pin not in str(event.data) and new_pin not in event.comment


def test_only_the_desk_reissues_a_pin(office):
    dossier, pin = office.receive(now=T)
    for user in (office.specialist, office.leader, Office().reception):
        with pytest.raises(PermissionDenied):
            dossier_reissue_pin(dossier=dossier, actor=user, now=T)
    dossier.refresh_from_db()
    assert dossier.check_pin(pin)
    assert not dossier.events.filter(action="reissue_pin").exists()


def test_the_desk_reissues_a_pin_and_prints_it_on_a_new_receipt(client, office):
    dossier, old_pin = office.receive()
    login(client, office.reception)
    assert (
        reverse("dossiers:reissue_pin", args=[dossier.code]) in client.get(dossier.get_absolute_url()).content.decode()
    )
    response = client.post(reverse("dossiers:reissue_pin", args=[dossier.code]))
    assert response.status_code == 302
    receipt = client.get(response["Location"]).content.decode()
    dossier.refresh_from_db()
    shown = [pin for pin in __import__("re").findall(r'class="ws-big ws-pin">(\d{6})<', receipt)]
    assert len(shown) == 1 and dossier.check_pin(shown[0])
    lookup = client.get("/api/v1/lookup/", {"code": dossier.code, "pin": shown[0]})
    assert lookup.status_code == 200


def test_a_specialist_cannot_reissue_a_pin_through_the_page(client, office):
    dossier, _pin = office.receive()
    login(client, office.specialist)
    assert client.post(reverse("dossiers:reissue_pin", args=[dossier.code])).status_code == 403


# --- The officers' search ------------------------------------------------------------------


@pytest.fixture
def found(office):
    mine, _ = office.receive(
        applicant_name="Đỗ Thị Thu", applicant_phone="0987654321", applicant_id_number="001199000111"
    )
    other, _ = office.receive(applicant_name="Lê Văn Hùng", applicant_phone="0911111111", applicant_id_number="")
    elsewhere, _ = Office().receive(applicant_name="Đỗ Thị Thu", applicant_phone="0987654321")
    return mine, other, elsewhere


@pytest.mark.parametrize(
    "text",
    ["Đỗ Thị Thu", "do thi thu", "THU", "0987 654 321", "+84987654321", "001199000111"],
)
def test_search_finds_by_name_phone_or_id_within_scope(office, found, text):
    mine, _other, _elsewhere = found
    assert list(Dossier.objects.visible_to(office.reception).search(text)) == [mine]


def test_search_finds_by_part_of_the_code(office, found):
    mine, other, _elsewhere = found
    part = mine.code.rsplit("-", 1)[1]  # the day's sequence number, e.g. 0001
    assert mine in Dossier.objects.visible_to(office.reception).search(part)
    assert list(Dossier.objects.visible_to(office.reception).search(mine.code[-8:])) == [mine]


def test_search_needs_a_scope_and_some_text(office, found):
    assert not Dossier.objects.visible_to(AnonymousUser()).search("Thu").exists()
    assert not Dossier.objects.visible_to(office.reception).search("  ").exists()
    assert not Dossier.objects.visible_to(office.reception).search("Th").exists()  # too short for a part


def test_the_workspace_finds_a_dossier_by_phone_in_constant_queries(client, office, found):
    mine, _other, elsewhere = found
    login(client, office.reception)
    client.get(reverse("dossiers:workspace"), {"code": "0987654321"})
    with CaptureQueriesContext(connection) as few:
        response = client.get(reverse("dossiers:workspace"), {"code": "0987654321"})
    html = response.content.decode()
    assert response.status_code == 200
    assert mine.code in html and elsewhere.code not in html
    for i in range(5):
        office.receive(applicant_name=f"Đỗ Thị Thu {i}", applicant_phone="0987654321")
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("dossiers:workspace"), {"code": "0987654321"})
    assert response.content.decode().count('class="ws-code"') == 6
    assert len(many) == len(few)


def test_the_full_code_still_opens_the_dossier(client, office, found):
    mine, _other, _elsewhere = found
    login(client, office.reception)
    response = client.get(reverse("dossiers:workspace"), {"code": mine.code.lower()})
    assert response.status_code == 302
    assert response["Location"] == mine.get_absolute_url()


def test_the_api_searches_in_scope(client, office, found):
    mine, _other, _elsewhere = found
    login(client, office.reception)
    response = client.get("/api/v1/dossiers/", {"search": "do thi"})
    assert response.status_code == 200
    assert [row["code"] for row in response.json()["results"]] == [mine.code]
    assert client.get("/api/v1/dossiers/", {"search": "x" * 101}).status_code == 400


# --- Accept and forward, return method, appointment preview --------------------------------


def test_accept_and_forward_in_one_step(client, office):
    login(client, office.reception)
    form = client.get(reverse("dossiers:receive"), {"procedure": office.procedure.code}).content.decode()
    assert f'<option value="{office.specialist.pk}">' in form
    assert 'id="due-preview"' in form and "Miễn lệ phí" in form
    response = client.post(
        reverse("dossiers:receive"), reception_post(office, forward_to=str(office.specialist.pk), return_method="post")
    )
    assert response.status_code == 302
    dossier = Dossier.objects.get()
    assert (dossier.status, dossier.assignee, dossier.return_method) == (Status.PROCESSING, office.specialist, "post")
    assert [e.action for e in dossier.events.all()] == ["receive", "assign"]


def test_forwarding_to_a_stranger_creates_nothing(client, office):
    stranger = Office().specialist
    login(client, office.reception)
    response = client.post(reverse("dossiers:receive"), reception_post(office, forward_to=str(stranger.pk)))
    assert response.status_code == 400
    assert not Dossier.objects.exists()
    assert not DossierEvent.objects.exists()


def test_the_api_creates_dossiers_without_the_new_fields(client, office):
    login(client, office.reception)
    response = client.post(
        "/api/v1/dossiers/",
        {"procedure": office.procedure.code, "applicant_name": "Nguyễn Văn An"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert Dossier.objects.get().return_method == ""


# --- Officers' names in Vietnamese order ----------------------------------------------------


def test_the_migration_joins_family_and_given_name_in_vietnamese_order(office):
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("procedures.migrations.0006_officer_full_name")
    # As the admin used to ask: "Họ" (last_name) = "Đỗ Thị", "Tên" (first_name) = "Thu".
    office.specialist.first_name, office.specialist.last_name = "Thu", "Đỗ Thị"
    office.specialist.save()
    office.leader.first_name, office.leader.last_name = "Lê Minh Đức", ""
    office.leader.save()

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    migration.join_names(apps, editor)
    migration.join_names(apps, editor)  # idempotent
    office.specialist.refresh_from_db()
    office.leader.refresh_from_db()
    assert (office.specialist.first_name, office.specialist.last_name) == ("Đỗ Thị Thu", "")
    assert office.specialist.get_full_name() == "Đỗ Thị Thu"
    assert office.leader.get_full_name() == "Lê Minh Đức"


def test_the_user_admin_asks_for_one_full_name(client, office):
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "x-Very-long-pass-1")
    client.force_login(admin_user)
    html = client.get(reverse("admin:auth_user_change", args=[office.specialist.pk])).content.decode()
    assert 'name="first_name"' in html and 'name="last_name"' not in html
    assert "Vietnamese order" in html or "thứ tự" in html
    add = client.get(reverse("admin:auth_user_add")).content.decode()
    assert 'name="first_name"' in add


def test_a_leader_lands_on_the_approvals_and_others_on_their_queues(client, office):
    login(client, office.leader)
    assert client.get(reverse("dossiers:home"))["Location"] == reverse("dossiers:approvals")
    login(client, office.reception)
    assert client.get(reverse("dossiers:home"))["Location"] == reverse("dossiers:workspace")
