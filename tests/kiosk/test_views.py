"""The lobby kiosk (/kiosk/): fields, a procedure's documents and due date, the scanned lookup."""

import re

import pytest
import time_machine
from django.test import Client

from kiosk.views import parse_scan
from tests.factories import Office, vn

MONDAY_9 = vn(2026, 3, 2, 9, 0)


@pytest.fixture
def office(db):
    return Office(code="H56.33")


def text_of(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_first_screen_lists_the_fields_as_large_links(client, catalogue):
    response = client.get("/kiosk/")

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert 'href="/kiosk/linh-vuc/HT/"' in response.content.decode()
    assert text_of(response).index("Chứng thực") < text_of(response).index("Hộ tịch")


def test_a_field_lists_its_published_procedures(client, catalogue):
    page = text_of(client.get("/kiosk/linh-vuc/HT/"))

    assert "Đăng ký khai sinh" in page and "Chứng thực bản sao" not in page
    assert client.get("/kiosk/linh-vuc/KHONG/").status_code == 404


@time_machine.travel(MONDAY_9, tick=False)
def test_a_procedure_shows_what_to_bring_and_the_due_date_if_submitted_now(client, catalogue):
    page = text_of(client.get(f"/kiosk/thu-tuc/{catalogue.birth.code}/"))

    assert "Tờ khai đăng ký khai sinh theo mẫu" in page and "Giấy chứng sinh" in page
    assert "Nếu nộp đủ hồ sơ ngay bây giờ, ngày hẹn trả kết quả là" in page
    assert "03/03/2026" in page  # one working day later, same half of the day


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("http://mc.example/tra-cuu/?ma=H56.33-260302-0001&pin=123456", ("H56.33-260302-0001", "123456")),
        ("https://x/tra-cuu/?pin=654321&ma=h56.33-260302-0001", ("H56.33-260302-0001", "654321")),
        ("H56.33-260302-0001 123456", ("H56.33-260302-0001", "123456")),
        ("rubbish", ("", "")),
    ],
)
def test_the_scanners_text_gives_the_code_and_pin(typed, expected):
    assert parse_scan(typed) == expected


def test_a_scanned_receipt_shows_the_status_with_the_masked_name(office):
    dossier, pin = office.receive()
    client = Client(enforce_csrf_checks=True)
    form = client.get("/kiosk/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode())[1]

    response = client.post(
        "/kiosk/tra-cuu/",
        {"scan": f"http://testserver/tra-cuu/?ma={dossier.code}&pin={pin}", "csrfmiddlewaretoken": token},
    )

    page = text_of(response)
    assert response.status_code == 200
    assert dossier.masked_applicant_name in page and dossier.applicant_name not in page
    assert dossier.code in page
    assert "no-store" in response["Cache-Control"]


def test_a_wrong_pin_or_an_unreadable_scan_says_so(client, office):
    dossier, pin = office.receive()

    assert (
        client.post("/kiosk/tra-cuu/", {"ma": dossier.code, "pin": "000000" if pin != "000000" else "1"}).status_code
        == 404
    )
    assert client.post("/kiosk/tra-cuu/", {"scan": "xyz"}).status_code == 400
    assert client.get("/kiosk/tra-cuu/").status_code == 200


def test_kiosk_pages_run_a_constant_number_of_queries(client, catalogue, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        client.get("/kiosk/")
    with django_assert_max_num_queries(2):
        client.get("/kiosk/linh-vuc/HT/")
    with django_assert_max_num_queries(3):
        client.get(f"/kiosk/thu-tuc/{catalogue.birth.code}/")
