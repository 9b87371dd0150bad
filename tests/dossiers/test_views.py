"""The officer workspace through its HTML views: reception, queues, the dossier page and its
actions, the leader's phone approval screens, scoping and attachments."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dossiers.attachments import add_attachment
from dossiers.models import Attachment, Dossier, DossierEvent, Stage, Status
from dossiers.services import available_actions
from procedures.models import Role
from tests.factories import Office, make_procedure, make_user, vn

pytestmark = pytest.mark.django_db

MONDAY = vn(2026, 3, 2, 9, 0)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def english(client):
    """Assert on the English msgids, whatever the translations say."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def office():
    return Office()


def login(client, user):
    client.force_login(user)
    return client


def pdf_file(name="to-khai.pdf"):
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def action_urls(html):
    """The action names the page offers as POST forms."""
    return set(re.findall(r'action="/can-bo/ho-so/[^/]+/hanh-dong/([a-z_]+)/"', html))


def reception_post(office, **overrides):
    data = {
        "procedure": office.procedure.code,
        "applicant_name": "Trần Thị Bình",
        "applicant_id_number": "001199012345",
        "applicant_phone": "0912 345 678",
        "applicant_email": "binh@example.com",
        "applicant_address": "Thôn 2",
        "channel": "in_person",
        "documents": ["0", "1"],
        "intent": "receive",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def detail_url(dossier):
    return reverse("dossiers:detail", args=[dossier.code])


def act_url(dossier, action):
    return reverse("dossiers:act", args=[dossier.code, action])


# --- Access ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,args",
    [
        ("dossiers:workspace", []),
        ("dossiers:receive", []),
        ("dossiers:approvals", []),
        ("dossiers:procedure_suggest", []),
        ("dossiers:detail", ["X-1"]),
        ("dossiers:receipt", ["X-1"]),
        ("dossiers:attachment", [1]),
    ],
)
def test_anonymous_visitor_is_sent_to_the_login_page(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_action_post_is_sent_to_the_login_page(client, office):
    dossier, _ = office.receive()
    response = client.post(act_url(dossier, "assign"))
    assert response.status_code == 302
    assert Dossier.objects.get(pk=dossier.pk).status == Status.RECEIVED


def test_user_without_officer_role_gets_a_friendly_403(client):
    login(client, make_user("citizen"))
    response = client.get(reverse("dossiers:workspace"))
    assert response.status_code == 403
    assert "officers of the one-stop desk" in response.content.decode()


def test_specialist_cannot_open_the_reception_form(client, office):
    login(client, office.specialist)
    response = client.get(reverse("dossiers:receive"))
    assert response.status_code == 403
    assert "Only reception officers" in response.content.decode()


def test_approvals_page_is_for_leaders(client, office):
    login(client, office.reception)
    assert client.get(reverse("dossiers:approvals")).status_code == 403


# --- The happy path through every role ----------------------------------------------------


def test_dossier_travels_from_desk_to_return_through_the_html_views(client, office, frozen_clock):
    # Reception: pick the procedure (no-JS path), then receive.
    login(client, office.reception)
    page = client.get(reverse("dossiers:receive"), {"procedure": office.procedure.code})
    assert page.status_code == 200
    assert "Giấy chứng sinh" in page.content.decode()

    response = client.post(reverse("dossiers:receive"), reception_post(office))
    dossier = Dossier.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dossiers:receipt", args=[dossier.code])
    assert dossier.status == Status.RECEIVED
    assert dossier.applicant_phone == "0912345678"
    assert [d["received"] for d in dossier.documents] == [True, True]

    receipt = client.get(response["Location"]).content.decode()
    pin = re.search(r'class="ws-big ws-pin">(\d{6})<', receipt).group(1)
    assert dossier.check_pin(pin)
    assert reverse("dossiers:pdf", args=[dossier.code, "receipt"]) in receipt
    assert reverse("dossiers:pdf", args=[dossier.code, "supplement"]) not in receipt

    # Reception transfers it to the specialist.
    assert "assign" in action_urls(client.get(detail_url(dossier)).content.decode())
    response = client.post(act_url(dossier, "assign"), {"assignee": office.specialist.pk})
    assert response.status_code == 302
    dossier.refresh_from_db()
    assert (dossier.status, dossier.assignee) == (Status.PROCESSING, office.specialist)

    # The specialist proposes the result.
    frozen_clock.shift(timedelta(hours=2))
    login(client, office.specialist)
    response = client.post(act_url(dossier, "propose_result"), {"result": "Cấp Giấy khai sinh bản chính"})
    assert response.status_code == 302
    dossier.refresh_from_db()
    assert dossier.stage == Stage.APPROVAL

    # The leader approves from the approvals list on the phone.
    login(client, office.leader)
    listing = client.get(reverse("dossiers:approvals")).content.decode()
    assert detail_url(dossier) in listing
    screen = client.get(detail_url(dossier)).content.decode()
    assert "Cấp Giấy khai sinh bản chính" in screen
    response = client.post(act_url(dossier, "approve"), {"next": reverse("dossiers:approvals")})
    assert response.status_code == 302
    assert response["Location"] == reverse("dossiers:approvals")
    dossier.refresh_from_db()
    assert (dossier.status, dossier.stage) == (Status.RESULT_READY, Stage.RETURN)

    # Reception hands the result back.
    login(client, office.reception)
    response = client.post(act_url(dossier, "return_result"), {"collected_by": "Trần Thị Bình", "method": "in_person"})
    assert response.status_code == 302
    dossier.refresh_from_db()
    assert (dossier.status, dossier.returned_to) == (Status.RETURNED, "Trần Thị Bình")
    page = client.get(detail_url(dossier)).content.decode()
    # Only the record of an error in the result remains possible (its correction, Art. 23.1).
    assert action_urls(page) == {"report_result_error"}
    assert [e.action for e in dossier.events.all()] == [
        "receive",
        "assign",
        "propose_result",
        "approve",
        "return_result",
    ]


def test_success_message_is_shown_after_an_action(client, office):
    dossier, _ = office.receive()
    login(client, office.reception)
    response = client.post(act_url(dossier, "assign"), {"assignee": ""}, follow=True)
    assert f"Dossier {dossier.code} is forwarded to the specialist." in response.content.decode()


def test_the_timeline_names_the_specialist_not_the_login_name(client, office):
    office.specialist.first_name, office.specialist.last_name = "Đỗ Thị Thu", ""
    office.specialist.save()
    dossier, _ = office.receive()
    office.act(dossier, "assign", assignee=office.specialist.username)
    login(client, office.reception)
    html = client.get(detail_url(dossier)).content.decode()
    assert "Assigned to: Đỗ Thị Thu" in " ".join(html.split()).replace("</strong>", "")
    assert office.specialist.username not in html


# --- Only the permitted actions ----------------------------------------------------------


def test_dossier_page_renders_exactly_the_actions_the_user_may_take(client, office):
    dossier, _ = office.receive()
    expected = {
        office.reception: {"assign", "request_supplement", "withdraw"},
        office.specialist: set(),
        office.leader: {"assign", "stop"},
        office.supervisor: set(),
    }
    for user, names in expected.items():
        login(client, user)
        html = client.get(detail_url(dossier)).content.decode()
        assert action_urls(html) == names == set(available_actions(user, dossier))


def test_action_forms_carry_the_inputs_each_action_needs(client, office):
    dossier, _ = office.receive()
    office.act(dossier, "assign")
    login(client, office.specialist)
    html = client.get(detail_url(dossier)).content.decode()
    assert 'name="result"' in html  # propose_result
    assert 'type="date" name="new_due_at"' in html  # extend
    assert 'name="missing_documents"' in html  # request_supplement
    login(client, office.leader)
    html = client.get(detail_url(dossier)).content.decode()
    assert 'name="assignee"' in html  # reassign lists the agency's specialists
    assert f'<option value="{office.specialist.pk}"' in html
    assert f'<option value="{office.leader.pk}"' not in html


def test_next_step_is_open_and_other_actions_are_folded_away(client, office):
    dossier, _ = office.receive()
    login(client, office.reception)
    html = client.get(detail_url(dossier)).content.decode()

    def folded(action):
        at = html.index(act_url(dossier, action))
        return html.rfind("<details", 0, at) > html.rfind("</details>", 0, at)

    assert not folded("assign")
    assert folded("request_supplement")
    assert folded("withdraw")
    withdraw = html.index(act_url(dossier, "withdraw"))
    assert html.rfind('<details class="ws-fold ws-fold--danger"', 0, withdraw) > html.rfind("</details>", 0, withdraw)


def test_action_not_possible_now_is_409_and_changes_nothing(client, office):
    dossier, _ = office.receive()
    events = DossierEvent.objects.count()
    login(client, office.leader)
    response = client.post(act_url(dossier, "approve"))
    assert response.status_code == 409
    assert "is not possible while the dossier is" in response.content.decode()
    dossier.refresh_from_db()
    assert (dossier.status, dossier.stage) == (Status.RECEIVED, Stage.INTAKE)
    assert DossierEvent.objects.count() == events


def test_action_without_the_role_is_403(client, office):
    dossier, _ = office.to_approval()
    login(client, office.specialist)
    response = client.post(act_url(dossier, "approve"))
    assert response.status_code == 403
    assert Dossier.objects.get(pk=dossier.pk).stage == Stage.APPROVAL


def test_action_with_bad_input_is_400_with_the_error_next_to_the_field(client, office):
    dossier, _ = office.receive()
    office.act(dossier, "assign")
    login(client, office.specialist)
    response = client.post(act_url(dossier, "extend"), {"comment": "Cần xác minh thêm", "new_due_at": "soon"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="extend-due-error"' in html
    assert "Enter the new due date" in html
    assert 'value="soon"' in html  # the typed value is kept
    assert Dossier.objects.get(pk=dossier.pk).original_due_at is None


def test_unknown_action_is_404(client, office):
    dossier, _ = office.receive()
    login(client, office.reception)
    assert client.post(act_url(dossier, "teleport")).status_code == 404


def test_action_url_refuses_get(client, office):
    dossier, _ = office.receive()
    login(client, office.reception)
    assert client.get(act_url(dossier, "assign")).status_code == 405


def test_next_must_be_a_local_url(client, office):
    dossier, _ = office.receive()
    login(client, office.reception)
    response = client.post(act_url(dossier, "assign"), {"next": "https://evil.example/phish"})
    assert response["Location"] == detail_url(dossier)


def test_every_printable_form_linked_on_the_dossier_page_is_a_pdf(client, office):
    dossier, _ = office.receive(missing_documents=["Giấy chứng sinh"])
    office.act(dossier, "supplement_received", user=office.reception)
    office.act(dossier, "assign")
    dossier.refresh_from_db()
    new_due = (dossier.due_at + timedelta(days=7)).date().isoformat()
    office.act(dossier, "extend", comment="Cần xác minh thêm", new_due_at=new_due)
    office.act(dossier, "refuse", comment="Không đủ điều kiện")
    login(client, office.reception)
    html = client.get(detail_url(dossier)).content.decode()
    links = re.findall(r'href="(/can-bo/ho-so/[^/]+/in/([a-z-]+)\.pdf)"', html)
    assert {form for _url, form in links} == {"receipt", "supplement", "extension", "refusal", "control-slip"}
    for url, _form in links:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "application/pdf"


def test_forms_that_do_not_apply_are_not_linked(client, office):
    dossier, _ = office.receive(missing_documents=["Giấy chứng sinh"])
    login(client, office.reception)
    html = client.get(detail_url(dossier)).content.decode()
    forms = set(re.findall(r'href="/can-bo/ho-so/[^/]+/in/([a-z-]+)\.pdf"', html))
    assert forms == {"supplement", "control-slip"}
    receipt = client.get(reverse("dossiers:receipt", args=[dossier.code])).content.decode()
    assert reverse("dossiers:pdf", args=[dossier.code, "receipt"]) not in receipt
    assert reverse("dossiers:pdf", args=[dossier.code, "supplement"]) in receipt


# --- Leader on a phone ------------------------------------------------------------------------


def test_approvals_list_shows_large_cards_for_the_leaders_dossiers(client, office):
    waiting, _ = office.to_approval()
    elsewhere, _ = office.receive()
    login(client, office.leader)
    html = client.get(reverse("dossiers:approvals")).content.decode()
    assert f'class="ws-card" href="{detail_url(waiting)}"' in html
    assert elsewhere.code not in html
    assert "Nguyễn Văn An" in html


def test_leader_dossier_screen_has_two_big_buttons(client, office):
    dossier, _ = office.to_approval()
    add_attachment(dossier=dossier, uploaded_file=pdf_file(), actor=office.specialist)
    login(client, office.leader)
    html = client.get(detail_url(dossier)).content.decode()
    for action in ("approve", "send_back"):
        form_start = html.index(f'action="{act_url(dossier, action)}')  # send back: + "#send-back"
        button = html[form_start : html.index("</form>", form_start)]
        assert "ws-button--big ws-button--block" in button
    assert re.search(r'<textarea name="comment" id="send-back-comment"[^>]*required', html)
    assert "to-khai.pdf" in html  # the attachments are one tap away
    assert "Cấp giấy khai sinh" in html  # the proposed result


def test_leader_sends_back_with_a_reason(client, office):
    dossier, _ = office.to_approval()
    login(client, office.leader)
    response = client.post(act_url(dossier, "send_back"), {"next": reverse("dossiers:approvals")})
    assert response.status_code == 400
    assert 'id="send-back-error"' in response.content.decode()
    assert Dossier.objects.get(pk=dossier.pk).stage == Stage.APPROVAL

    response = client.post(
        act_url(dossier, "send_back"), {"comment": "Thiếu chữ ký", "next": reverse("dossiers:approvals")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dossiers:approvals")
    assert Dossier.objects.get(pk=dossier.pk).stage == Stage.PROCESSING


def test_other_officers_see_the_desktop_dossier_page_in_approval(client, office):
    dossier, _ = office.to_approval()
    login(client, office.reception)
    html = client.get(detail_url(dossier)).content.decode()
    assert "ws-button--big ws-button--block" not in html
    assert "approve" not in action_urls(html)


# --- Scoping ----------------------------------------------------------------------------------


def test_officer_of_another_commune_gets_404_everywhere(client, office):
    other = Office()
    dossier, _ = other.receive()
    attachment = add_attachment(dossier=dossier, uploaded_file=pdf_file(), actor=other.reception)
    login(client, office.reception)
    assert client.get(detail_url(dossier)).status_code == 404
    assert client.get(reverse("dossiers:receipt", args=[dossier.code])).status_code == 404
    assert client.post(act_url(dossier, "assign"), {"assignee": ""}).status_code == 404
    assert client.get(reverse("dossiers:attachment", args=[attachment.pk])).status_code == 404
    assert Dossier.objects.get(pk=dossier.pk).status == Status.RECEIVED


def test_attachment_download_is_an_attachment_for_the_own_commune(client, office):
    dossier, _ = office.receive()
    attachment = add_attachment(dossier=dossier, uploaded_file=pdf_file(), actor=office.reception)
    login(client, office.specialist)
    response = client.get(reverse("dossiers:attachment", args=[attachment.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content) == PDF


# --- Reception form -----------------------------------------------------------------------


def test_reception_form_offers_the_desks_procedures(client, office):
    foreign = make_procedure(name="Thủ tục của xã khác", agencies=[Office().agency])
    login(client, office.reception)
    html = client.get(reverse("dossiers:receive")).content.decode()
    assert f'<option value="{office.procedure.code} — {office.procedure.name}">' in html
    assert foreign.code not in html
    assert 'list="procedure-options"' in html


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"applicant_name": "   "}, "applicant_name", "This field is required"),
        ({"applicant_id_number": "12345"}, "applicant_id_number", "has 12 digits"),
        ({"applicant_id_number": "0011990123456"}, "applicant_id_number", "has 12 digits"),
        ({"applicant_id_number": "123456789"}, "applicant_id_number", "no longer valid"),
        ({"applicant_id_number": "B-12"}, "applicant_id_number", "passport number"),
        ({"applicant_phone": "12345"}, "applicant_phone", "Vietnamese phone number"),
        ({"applicant_email": "not-an-email"}, "applicant_email", "valid email"),
        ({"channel": "pigeon"}, "channel", "Select a valid choice"),
    ],
)
def test_reception_form_errors_create_nothing(client, office, overrides, field, message):
    login(client, office.reception)
    response = client.post(reverse("dossiers:receive"), reception_post(office, **overrides))
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert f'id="id_{field}_error"' in html
    assert not Dossier.objects.exists()


@pytest.mark.parametrize("procedure", ["9.999999", "", "Thủ tục không có"])
def test_unknown_procedure_creates_nothing(client, office, procedure):
    login(client, office.reception)
    response = client.post(reverse("dossiers:receive"), reception_post(office, procedure=procedure))
    assert response.status_code == 400
    assert "id_procedure_error" in response.content.decode()
    assert not Dossier.objects.exists()


def test_procedure_of_another_commune_cannot_be_received_here(client, office):
    other = Office()
    login(client, office.reception)
    response = client.post(reverse("dossiers:receive"), reception_post(office, procedure=other.procedure.code))
    assert response.status_code == 400
    assert not Dossier.objects.exists()


def test_valid_id_and_phone_formats_are_accepted(client, office):
    login(client, office.reception)
    response = client.post(
        reverse("dossiers:receive"),
        reception_post(office, applicant_id_number="0011 9901 2345", applicant_phone="+84 28 3822 1234"),
    )
    assert response.status_code == 302
    dossier = Dossier.objects.get()
    assert (dossier.applicant_id_number, dossier.applicant_phone) == ("001199012345", "02838221234")


def test_a_foreigners_passport_number_is_accepted(client, office):
    login(client, office.reception)
    response = client.post(reverse("dossiers:receive"), reception_post(office, applicant_id_number="c 1234567"))
    assert response.status_code == 302
    assert Dossier.objects.get().applicant_id_number == "C1234567"


def test_request_supplement_lists_unticked_documents_and_the_note(client, office):
    login(client, office.reception)
    response = client.post(
        reverse("dossiers:receive"),
        reception_post(office, documents=["0"], intent="supplement", note="Bản sao CCCD không rõ"),
    )
    assert response.status_code == 302
    dossier = Dossier.objects.get()
    assert dossier.status == Status.AWAITING_SUPPLEMENT
    event = dossier.events.get()
    assert event.data["missing_documents"] == ["Giấy chứng sinh", "Bản sao CCCD không rõ"]
    receipt = client.get(response["Location"]).content.decode()
    assert reverse("dossiers:pdf", args=[dossier.code, "supplement"]) in receipt


def test_request_supplement_with_everything_ticked_is_refused(client, office):
    login(client, office.reception)
    response = client.post(reverse("dossiers:receive"), reception_post(office, intent="supplement"))
    assert response.status_code == 400
    assert "Every document is ticked" in response.content.decode()
    assert not Dossier.objects.exists()


def test_receiving_with_a_required_document_unticked_asks_first(client, office):
    login(client, office.reception)
    response = client.post(reverse("dossiers:receive"), reception_post(office, documents=["1"]))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Required documents are not ticked: Tờ khai đăng ký khai sinh" in html
    assert 'name="confirm_incomplete"' in html
    assert not Dossier.objects.exists()


def test_receiving_with_nothing_ticked_asks_first(client, office):
    login(client, office.reception)
    response = client.post(reverse("dossiers:receive"), reception_post(office, documents=[]))
    assert response.status_code == 400
    assert not Dossier.objects.exists()


def test_receiving_with_unticked_documents_once_confirmed_records_them_as_missing(client, office):
    login(client, office.reception)
    client.post(reverse("dossiers:receive"), reception_post(office, documents=["1"], confirm_incomplete="on"))
    dossier = Dossier.objects.get()
    assert dossier.status == Status.RECEIVED
    assert [d["received"] for d in dossier.documents] == [False, True]


def test_a_conditional_document_may_stay_unticked_and_is_not_called_missing(client, office):
    office.procedure.documents.create(position=9, name="Biên bản xác nhận việc trẻ bị bỏ rơi", required=False)
    login(client, office.reception)
    form = client.get(reverse("dossiers:receive"), {"procedure": office.procedure.code}).content.decode()
    assert "only in some cases" in form
    response = client.post(reverse("dossiers:receive"), reception_post(office, documents=["0", "1"]))
    assert response.status_code == 302
    dossier = Dossier.objects.get()
    assert dossier.documents[2] == {
        "name": "Biên bản xác nhận việc trẻ bị bỏ rơi",
        "originals": 1,
        "copies": 0,
        "required": False,
        "received": False,
    }
    page = client.get(dossier.get_absolute_url()).content.decode()
    assert "Only in some cases" in page
    assert page.count(">Missing<") == 0


def test_attachments_are_stored_with_the_new_dossier(client, office):
    login(client, office.reception)
    response = client.post(
        reverse("dossiers:receive"),
        {**reception_post(office), "attachments": [pdf_file("a.pdf"), pdf_file("b.pdf")]},
    )
    assert response.status_code == 302
    dossier = Dossier.objects.get()
    assert sorted(a.original_name for a in dossier.attachments.all()) == ["a.pdf", "b.pdf"]


def test_a_rejected_attachment_creates_nothing(client, office):
    login(client, office.reception)
    bad = SimpleUploadedFile("virus.pdf", b"MZ\x90\x00not a pdf", content_type="application/pdf")
    response = client.post(reverse("dossiers:receive"), {**reception_post(office), "attachments": [pdf_file(), bad]})
    assert response.status_code == 400
    html = response.content.decode()
    assert "virus.pdf" in html
    assert "id_attachments_error" in html
    assert not Dossier.objects.exists()
    assert not Attachment.objects.exists()


def test_typed_words_without_javascript_pick_the_only_match(client, office):
    login(client, office.reception)
    response = client.get(reverse("dossiers:receive"), {"procedure": "dang ky khai sinh"})
    assert response.status_code == 200
    assert 'name="applicant_name"' in response.content.decode()


def test_typed_words_matching_several_procedures_offer_a_choice(client, office):
    second = make_procedure(name="Đăng ký khai sinh có yếu tố nước ngoài", agencies=[office.agency])
    login(client, office.reception)
    response = client.get(reverse("dossiers:receive"), {"procedure": "khai sinh"})
    html = response.content.decode()
    assert response.status_code == 200
    assert f"?procedure={second.code}" in html
    assert f"?procedure={office.procedure.code}" in html
    assert 'name="applicant_name"' not in html


def test_procedure_suggestions_are_the_desks_published_procedures(client, office):
    make_procedure(name="Đăng ký khai sinh lưu động", agencies=[Office().agency])
    hidden = make_procedure(name="Đăng ký khai sinh bản cũ", agencies=[office.agency])
    hidden.published = False
    hidden.save()
    login(client, office.reception)
    response = client.get(reverse("dossiers:procedure_suggest"), {"q": "khai sinh"})
    assert response.status_code == 200
    assert [r["code"] for r in response.json()["results"]] == [office.procedure.code]
    assert client.get(reverse("dossiers:procedure_suggest"), {"q": "x" * 500}).status_code == 400


def test_receipt_shows_the_pin_only_to_the_session_that_received(client, office):
    login(client, office.reception)
    response = client.post(reverse("dossiers:receive"), reception_post(office))
    receipt_url = response["Location"]
    assert "ws-pin" in client.get(receipt_url).content.decode()
    other = login(Client(), make_user(agency=office.agency, role=Role.RECEPTION))
    html = other.get(receipt_url).content.decode()
    assert "ws-pin" not in html
    assert Dossier.objects.get().code in html


def test_the_pin_remembered_at_an_incomplete_intake_is_still_printed_after_the_code_is_given(client, office):
    """An incomplete dossier carries a provisional reference until the supplement completes it
    (Art. 17.3, 28.2b); the PIN remembered for the supplement request is keyed by the dossier's
    first identifier, so the receipt printed at acceptance still carries it."""
    login(client, office.reception)
    client.post(reverse("dossiers:receive"), reception_post(office, intent="supplement", note="Thiếu tờ khai"))
    dossier = Dossier.objects.get()
    reference = dossier.code
    office.act(dossier, "supplement_received", user=office.reception)
    dossier.refresh_from_db()
    assert dossier.has_final_code and dossier.code != reference and dossier.provisional_code == reference
    html = client.get(reverse("dossiers:receipt", args=[dossier.code])).content.decode()
    assert "ws-pin" in html


# --- Workspace queues -------------------------------------------------------------------------


def test_workspace_default_queue_is_waiting_for_me(client, office):
    received, _ = office.receive()
    processing, _ = office.receive()
    office.act(processing, "assign")
    login(client, office.reception)
    html = client.get(reverse("dossiers:workspace")).content.decode()
    assert received.code in html
    assert processing.code not in html
    login(client, office.specialist)
    html = client.get(reverse("dossiers:workspace")).content.decode()
    assert processing.code in html
    assert received.code not in html


def test_overdue_dossiers_are_highlighted(client, office, frozen_clock):
    dossier, _ = office.receive()
    office.act(dossier, "assign")
    frozen_clock.move_to(dossier.due_at + timedelta(hours=1))
    login(client, office.specialist)
    html = client.get(reverse("dossiers:workspace"), {"q": "overdue"}).content.decode()
    row = html[html.index("<tr class=", html.index("<tbody>")) :]
    assert row.startswith('<tr class="is-overdue">')
    assert dossier.code in row
    assert "ws-badge--overdue" in row


def test_code_search_opens_the_dossier(client, office):
    dossier, _ = office.receive()
    login(client, office.reception)
    response = client.get(reverse("dossiers:workspace"), {"code": f" {dossier.code.lower()} "})
    assert response.status_code == 302
    assert response["Location"] == detail_url(dossier)


def test_code_search_for_another_communes_dossier_finds_nothing(client, office):
    dossier, _ = Office().receive()
    login(client, office.reception)
    response = client.get(reverse("dossiers:workspace"), {"code": dossier.code})
    assert response.status_code == 200
    assert "No dossier you can see matches" in response.content.decode()


@pytest.mark.parametrize("params", [{"q": "everything"}, {"after": "garbage!"}, {"code": "x" * 101}])
def test_bad_workspace_query_is_400(client, office, params):
    login(client, office.reception)
    assert client.get(reverse("dossiers:workspace"), params).status_code == 400


def test_bad_approvals_cursor_is_400(client, office):
    login(client, office.leader)
    assert client.get(reverse("dossiers:approvals"), {"after": "garbage!"}).status_code == 400


def test_next_page_link_continues_exactly_after_page_one(client, office):
    made = [office.receive(now=MONDAY + timedelta(minutes=i))[0] for i in range(28)]
    login(client, office.reception)
    first = client.get(reverse("dossiers:workspace")).content.decode()
    href = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(reverse("dossiers:workspace") + href)
    assert second.status_code == 200
    pattern = r'class="ws-code" href="/can-bo/ho-so/([^/]+)/"'
    page1, page2 = re.findall(pattern, first), re.findall(pattern, second.content.decode())
    assert len(page1) == 25
    assert len(page2) == 3
    expected = [d.code for d in sorted(made, key=lambda d: (d.due_at, d.pk))]
    assert page1 + page2 == expected
    assert 'rel="next"' not in second.content.decode()


# --- Constant query counts ----------------------------------------------------------------


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_workspace_list_costs_the_same_for_3_or_15_dossiers(client, office):
    for _ in range(3):
        office.act(office.receive()[0], "assign")
    url = reverse("dossiers:workspace") + "?q=mine"
    login(client, office.specialist)
    small = count_queries(client, url)
    for _ in range(12):
        office.act(office.receive()[0], "assign")
    large = count_queries(client, url)
    assert client.get(url).content.decode().count('class="ws-code" href=') == 15
    assert small == large


def test_dossier_page_costs_the_same_for_2_or_12_events(client, office):
    few, _ = office.receive()
    office.act(few, "assign")
    many, _ = office.receive()
    office.act(many, "assign")
    for i in range(10):
        add_attachment(dossier=many, uploaded_file=pdf_file(f"trang-{i}.pdf"), actor=office.specialist)
    assert few.events.count() == 2 and many.events.count() == 12
    login(client, office.specialist)
    assert count_queries(client, detail_url(few)) == count_queries(client, detail_url(many))


def test_a_double_submitted_reception_form_creates_one_dossier(client, office):
    """Security round 2, finding 13: the form carries a one-time key; the second submit of the same
    form lands on the first dossier's receipt instead of creating another."""
    login(client, office.reception)
    page = client.get(reverse("dossiers:receive"), {"procedure": office.procedure.code}).content.decode()
    key = re.search(r'name="intake_key" value="([0-9a-f]{32})"', page).group(1)
    first = client.post(reverse("dossiers:receive"), reception_post(office, intake_key=key))
    second = client.post(reverse("dossiers:receive"), reception_post(office, intake_key=key), follow=True)
    dossier = Dossier.objects.get()
    assert first.status_code == 302
    assert second.redirect_chain[-1][0] == reverse("dossiers:receipt", args=[dossier.code])
    assert "was already received from this form" in second.content.decode()
    assert dossier.events.filter(action="receive").count() == 1
    # A new form has a new key: the next applicant gets their own dossier.
    page = client.get(reverse("dossiers:receive"), {"procedure": office.procedure.code}).content.decode()
    assert key not in page
    client.post(reverse("dossiers:receive"), reception_post(office))
    assert Dossier.objects.count() == 2


def test_an_intake_key_of_another_officers_dossier_is_refused(client, office):
    other = make_user("tiepnhan-2", agency=office.agency, role=Role.RECEPTION)
    key = "a" * 32
    login(client, office.reception)
    client.post(reverse("dossiers:receive"), reception_post(office, intake_key=key))
    login(client, other)
    response = client.post(reverse("dossiers:receive"), reception_post(office, intake_key=key))
    assert response.status_code == 400
    assert Dossier.objects.count() == 1
