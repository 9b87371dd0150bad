"""The officers' screens of inter-agency routing (liên thông): the dossier page's inputs for the
hand-over, the consultation, its answer and the tax office's notice (labels, selects of agencies,
number fields, Vietnamese errors on a 400), the department's "Waiting for me", the consulted
agency's list of requests, the answers on the requester's page, the sending agency's read-only view.

States are reached through the real services and the real pages (POST forms as the browser sends
them), at the real time.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dossiers.models import Consultation, Stage, Status
from dossiers.services import dossier_act
from tests.dossiers.test_interagency import Department, crossing_procedure
from tests.factories import Office

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client, settings):
    """The pages in English (the msgids the assertions use); a test switches to Vietnamese."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def world():
    commune = Office()
    department = Department(name="Sở Nông nghiệp và Môi trường")
    other = Office()
    return commune, department, other, crossing_procedure(commune, department)


def detail(client, user, dossier):
    client.force_login(user)
    return client.get(reverse("dossiers:detail", args=[dossier.code]))


def post(client, user, dossier, action, **data):
    client.force_login(user)
    return client.post(reverse("dossiers:act", args=[dossier.code, action]), data)


def form_of(html, dossier, action):
    url = reverse("dossiers:act", args=[dossier.code, action])
    start = html.index(f'action="{url}"')
    return html[start : html.index("</form>", start)]


def test_the_desk_sees_where_a_hand_over_goes_and_the_department_finds_it_waiting(client, world):
    commune, department, other, procedure = world
    d, _pin = commune.receive(procedure=procedure)
    html = detail(client, commune.reception, d).content.decode()
    form = form_of(html, d, "hand_over")
    assert "Sở Nông nghiệp và Môi trường" in form and "Thẩm định hồ sơ" in form
    assert post(client, commune.reception, d, "hand_over").status_code == 302

    # The department's "Waiting for me" lists it; the other commune's does not.
    client.force_login(department.specialist)
    waiting = client.get(reverse("dossiers:workspace")).content.decode()
    assert d.code in waiting
    client.force_login(other.reception)
    assert d.code not in client.get(reverse("dossiers:workspace")).content.decode()

    # The department accepts it: the specialists offered are the department's, not the commune's.
    html = detail(client, department.leader, d).content.decode()
    accept = form_of(html, d, "accept_handover")
    assert "Lê Văn Sở" in accept and commune.specialist.get_username() not in accept
    response = post(client, department.leader, d, "accept_handover", assignee=department.specialist.pk)
    assert response.status_code == 302
    d.refresh_from_db()
    assert (d.stage, d.assignee, d.handling_agency) == (Stage.PROCESSING, department.specialist, department.agency)

    # The commune follows it read-only: who holds it, the step and its deadline, the hand-over.
    html = detail(client, commune.reception, d).content.decode()
    panel = html[html.index('id="interagency-title"') :]
    assert "Sở Nông nghiệp và Môi trường" in panel and "Thẩm định hồ sơ" in panel
    assert d.step_due_at and "follows it here" in html
    actions = html.split('id="actions-title"')[1].split("</section>")[0]
    assert "/hanh-dong/propose_result/" not in actions and "/hanh-dong/hand_over/" not in actions


def test_the_department_sends_the_hand_over_back_with_a_required_reason(client, world):
    commune, department, _other, procedure = world
    d, _pin = commune.receive(procedure=procedure)
    post(client, commune.reception, d, "hand_over")
    response = post(client, department.specialist, d, "return_handover", comment="")
    assert response.status_code == 400
    d.refresh_from_db()
    assert d.stage == Stage.HANDOVER
    assert post(client, department.specialist, d, "return_handover", comment="Thiếu mảnh trích đo").status_code == 302
    d.refresh_from_db()
    assert (d.stage, d.handling_agency) == (Stage.INTAKE, commune.agency)
    html = detail(client, commune.reception, d).content.decode()
    assert "Thiếu mảnh trích đo" in html and "sent back" in html


def test_consulting_through_the_page_answering_and_reading_the_answer(client, world, settings):
    commune, department, other, _procedure = world
    d, _pin = commune.receive()
    commune.act(d, "assign")
    html = detail(client, commune.specialist, d).content.decode()
    form = form_of(html, d, "consult")
    # A multiple select of agencies (not the commune itself), a number of working days, the question.
    assert re.search(r'<select name="agencies" id="consult-agencies" multiple', form)
    assert f'value="{department.agency.code}"' in form and f'value="{commune.agency.code}"' not in form
    assert re.search(r'<input type="number" name="days"[^>]*step="0.5"[^>]*required', form)
    assert "Question to the consulted agencies" in form

    # Bad input: a readable error in Vietnamese, the choice kept, nothing written.
    client.force_login(commune.specialist)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "vi"
    response = client.post(
        reverse("dossiers:act", args=[d.code, "consult"]),
        {"agencies": [department.agency.code], "days": "45", "comment": "Nguồn gốc đất?"},
    )
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nhập thời hạn trả lời tính bằng ngày làm việc" in body
    assert re.search(rf'<option value="{re.escape(department.agency.code)}" selected', body)
    assert not Consultation.objects.filter(dossier=d).exists()

    response = post(
        client,
        commune.specialist,
        d,
        "consult",
        agencies=[department.agency.code, other.agency.code],
        days="2",
        comment="Đề nghị cho ý kiến về nguồn gốc đất",
    )
    assert response.status_code == 302
    assert Consultation.objects.filter(dossier=d).count() == 2

    # The consulted agency's list of requests, then its answer from the dossier page.
    client.force_login(department.leader)
    listing = client.get(reverse("dossiers:consultations")).content.decode()
    assert d.code in listing and "Đề nghị cho ý kiến về nguồn gốc đất" in listing
    client.force_login(commune.leader)
    assert d.code not in client.get(reverse("dossiers:consultations")).content.decode()
    html = detail(client, department.leader, d).content.decode()
    answer = form_of(html, d, "answer_consultation")
    assert "Đề nghị cho ý kiến về nguồn gốc đất" in answer and 'type="radio" name="consultation"' in answer
    assert "Your agency&#x27;s opinion" in answer or "Your agency's opinion" in answer
    response = post(client, department.leader, d, "answer_consultation", comment="Đất ở ổn định từ năm 1990")
    assert response.status_code == 302

    # The requester reads the answer; the other consulted agency's request is still open.
    html = detail(client, commune.specialist, d).content.decode()
    panel = html[html.index('id="interagency-title"') :]
    assert "Đất ở ổn định từ năm 1990" in panel and "Waiting for the answer" in panel
    client.force_login(department.leader)
    listing = client.get(reverse("dossiers:consultations")).content.decode()
    assert "Answered recently" in listing


def test_the_tax_office_records_the_notice_with_an_amount_field(client, world):
    commune, department, _other, _procedure = world
    tax = Department(name="Thuế cơ sở 1 tỉnh Thái Nguyên")
    d, _pin = commune.receive()
    commune.act(d, "assign")
    html = detail(client, commune.specialist, d).content.decode()
    form = form_of(html, d, "request_obligation")
    assert '<select name="tax_agency"' in form and f'value="{tax.agency.code}"' in form
    response = post(
        client, commune.specialist, d, "request_obligation", tax_agency=tax.agency.code, days="", comment="Thuế TNCN"
    )
    assert response.status_code == 302
    d.refresh_from_db()
    assert d.status == Status.AWAITING_OBLIGATION
    html = detail(client, tax.specialist, d).content.decode()
    form = form_of(html, d, "record_obligation")
    assert re.search(r'<input type="text" name="amount"[^>]*inputmode="numeric"', form)
    assert 'name="notice_number"' in form and "Thuế TNCN" in form
    response = post(client, tax.specialist, d, "record_obligation", amount="một triệu", notice_number="")
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="record_obligation-amount-error"' in body and 'id="record_obligation-notice-error"' in body
    response = post(client, tax.specialist, d, "record_obligation", amount="1.200.000", notice_number="TB-15/2026")
    assert response.status_code == 302
    notice = Consultation.objects.get(dossier=d, kind=Consultation.Kind.OBLIGATION)
    assert (notice.amount_vnd, notice.notice_number) == (1_200_000, "TB-15/2026")
    html = detail(client, commune.specialist, d).content.decode()
    assert "TB-15/2026" in html and "1,200,000" in html


def test_the_consultations_page_costs_the_same_for_one_or_many(client, world):
    commune, department, _other, _procedure = world

    def consulted(n):
        for _ in range(n):
            d, _pin = commune.receive()
            commune.act(d, "assign")
            dossier_act(
                dossier=d,
                actor=commune.specialist,
                action="consult",
                comment="?",
                agencies=[department.agency.code],
                days="1",
            )

    client.force_login(department.specialist)
    consulted(1)

    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("dossiers:consultations")).status_code == 200
    consulted(5)
    with CaptureQueriesContext(connection) as six:
        html = client.get(reverse("dossiers:consultations")).content.decode()
    assert html.count("ws-card__code") == 6
    assert len(six) == len(one)
