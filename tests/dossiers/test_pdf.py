"""Printed forms: each PDF is rendered by WeasyPrint from a dossier brought to its state through the
real services, then parsed back (pypdf text, pdffonts, pdftoppm + zbarimg for the QR code)."""

import io
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.http import Http404
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from dossiers.models import Channel
from dossiers.pdf import MAX_REMEMBERED_PINS, recall_pin, remember_pin, render_form
from tests.factories import Office, vn

MONDAY_9 = vn(2026, 3, 2, 9, 0)  # Monday 2 March 2026, a working day
DOCUMENTS = [
    {"name": "Tờ khai đăng ký khai sinh", "originals": 1, "copies": 0, "received": True},
    {"name": "Giấy chứng sinh", "originals": 1, "copies": 1, "received": True},
]


def text_of(pdf):
    """The PDF's text with whitespace (including line wraps) collapsed to single spaces."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def ddmmyyyy(value):
    return f"{timezone.localtime(value):%d/%m/%Y}"


def hhmm_ddmmyyyy(value):
    return f"{timezone.localtime(value):%H:%M %d/%m/%Y}"


def decode_qr(pdf):
    """Rasterise page 1 at 150 dpi and decode the QR code on it."""
    missing = [tool for tool in ("pdftoppm", "zbarimg") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (Debian poppler-utils / zbar-tools; `make system-deps`)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "form.pdf"
        path.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile", str(path), str(Path(tmp) / "page")],
            check=True,
            timeout=60,
        )
        result = subprocess.run(
            ["zbarimg", "--raw", "-q", str(Path(tmp) / "page.png")], capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 0, f"no QR code found on page 1: {result.stderr}"
    return result.stdout.strip()


def assert_fonts_have_vietnamese_glyphs(pdf):
    """Every font is embedded and is the official serif (Times New Roman or its metric twin
    Liberation Serif): a glyph missing from it would have pulled in a fallback font."""
    if shutil.which("pdffonts") is None:
        return
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        output = subprocess.run(["pdffonts", handle.name], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in output.splitlines()[2:] if line.strip()]
    assert rows, output
    for row in rows:
        family = row[0].split("+", 1)[-1].replace("-", "").lower()
        assert "liberationserif" in family or "timesnewroman" in family, output
        assert row[-5] == "yes", f"font not embedded: {output}"


def name_officers(office):
    for user, (first, last) in [
        (office.reception, ("Trần Thị", "Bình")),
        (office.specialist, ("Lê Văn", "Cường")),
        (office.leader, ("Phạm Minh", "Đức")),
    ]:
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])


@pytest.fixture
def office(db):
    office = Office(name="Đăng ký khai sinh")
    name_officers(office)
    return office


def assert_common(text, dossier):
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert dossier.code in text
    assert "Nguyễn Văn An" in text
    assert "Đăng ký khai sinh" in text
    assert dossier.procedure_snapshot["code"] in text


# --- Forms -----------------------------------------------------------------------------------


@override_settings(SITE_URL="https://motcua.example.gov.vn")
def test_receipt_prints_applicant_procedure_dates_pin_and_a_qr_code_opening_the_lookup(office):
    dossier, pin = office.receive(now=MONDAY_9, documents=DOCUMENTS)

    pdf = render_form("receipt", dossier, pin=pin)

    assert pdf.startswith(b"%PDF")
    text = text_of(pdf)
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text
    assert_common(text, dossier)
    assert dossier.receiving_agency.name in text
    for value in ("001099012345", "0912345678", "Thôn 1", "Tờ khai đăng ký khai sinh", "Giấy chứng sinh"):
        assert value in text
    assert "Thời gian nhận hồ sơ: 09 giờ 00 phút, ngày 02/03/2026" in text
    due = timezone.localtime(dossier.due_at)
    assert f"{due:%H} giờ {due:%M} phút, ngày {ddmmyyyy(due)} (buổi sáng)" in text  # received in the morning
    assert "Trần Thị Bình" in text  # the receiving officer
    assert f"Mã tra cứu (PIN): {pin}" in text
    assert_fonts_have_vietnamese_glyphs(pdf)
    assert decode_qr(pdf) == "https://motcua.example.gov.vn/tra-cuu/?" + urlencode({"ma": dossier.code, "pin": pin})


def test_supplement_request_during_processing_lists_the_missing_items_and_the_reason(office):
    dossier, _pin = office.receive(now=MONDAY_9)
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    office.act(
        dossier,
        "request_supplement",
        now=vn(2026, 3, 3, 9, 30),
        comment="Giấy chứng sinh nộp kèm bị tẩy xóa, không hợp lệ.",
        missing_documents=["Giấy chứng sinh (bản chính, không tẩy xóa)", "Bản sao giấy chứng nhận kết hôn của cha mẹ"],
    )

    text = text_of(render_form("supplement", dossier))

    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text
    assert_common(text, dossier)
    assert "1 Giấy chứng sinh (bản chính, không tẩy xóa)" in text
    assert "2 Bản sao giấy chứng nhận kết hôn của cha mẹ" in text
    assert "Lý do: Giấy chứng sinh nộp kèm bị tẩy xóa, không hợp lệ." in text
    assert "Ngày nộp hồ sơ: 02/03/2026" in text
    assert "09 giờ 30 phút, ngày 03/03/2026" in text
    assert "Lê Văn Cường" in text  # the officer who guides the applicant
    assert "(PIN)" not in text


def test_supplement_request_at_intake_lists_every_item_and_carries_the_pin_when_known(office):
    dossier, pin = office.receive(now=MONDAY_9, missing_documents=["Giấy chứng sinh", "Văn bản ủy quyền có chứng thực"])

    text = text_of(render_form("supplement", dossier, pin=pin))

    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text
    assert_common(text, dossier)
    assert "1 Giấy chứng sinh" in text
    assert "2 Văn bản ủy quyền có chứng thực" in text
    assert "Ngày nộp hồ sơ: 02/03/2026" in text
    assert "Trần Thị Bình" in text
    assert f"Mã tra cứu (PIN): {pin}" in text


def test_refusal_states_the_reason_from_the_refuse_event(office):
    dossier, _pin = office.receive(now=MONDAY_9)
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    office.act(dossier, "refuse", now=vn(2026, 3, 3, 14, 0), comment="Việc khai sinh đã được đăng ký tại xã khác.")

    text = text_of(render_form("refusal", dossier))

    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text
    assert_common(text, dossier)
    assert "Việc khai sinh đã được đăng ký tại xã khác." in text
    assert "Ngày nộp hồ sơ: 02/03/2026" in text
    assert "ngày 03 tháng 03 năm 2026" in text
    assert "Phạm Minh Đức" in text  # the leader who refused


def test_extension_letter_has_the_reason_the_original_and_the_new_due_date(office):
    dossier, _pin = office.receive(now=MONDAY_9)
    original_due = dossier.due_at
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    dossier = office.act(
        dossier,
        "extend",
        now=vn(2026, 3, 3, 10, 0),
        comment="Cần xác minh thông tin với UBND xã nơi cư trú trước đây.",
        new_due_at="10/03/2026",
    )

    text = text_of(render_form("extension", dossier))

    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text
    assert_common(text, dossier)
    assert "Kính gửi: Nguyễn Văn An" in text
    assert "Ngày 02/03/2026" in text  # received
    assert "Lý do: Cần xác minh thông tin với UBND xã nơi cư trú trước đây." in text
    assert f"Thời hạn trả kết quả giải quyết hồ sơ: {timezone.localtime(original_due):%H} giờ" in text
    assert ddmmyyyy(original_due) in text
    assert "ngày 10/03/2026 (buổi chiều)" in text
    assert ddmmyyyy(dossier.due_at) == "10/03/2026"


def test_control_slip_lists_each_handover_with_time_actor_deadline_and_outcome(office):
    dossier, _pin = office.receive(now=MONDAY_9)  # due Thursday 5/3 in the morning
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))  # intake step: same day
    office.act(dossier, "propose_result", now=vn(2026, 3, 3, 15, 0), result="Cấp giấy khai sinh")  # a day early
    office.act(dossier, "approve", now=vn(2026, 3, 5, 11, 0))  # approval step was due earlier that morning
    dossier = office.act(dossier, "return_result", now=vn(2026, 3, 5, 14, 0), collected_by="Nguyễn Văn An")

    text = text_of(render_form("control-slip", dossier))

    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in text
    assert_common(text, dossier)
    events = list(dossier.events.order_by("created_at", "id"))
    assert [e.action for e in events] == ["receive", "assign", "propose_result", "approve", "return_result"]
    positions = [text.index(hhmm_ddmmyyyy(e.created_at)) for e in events]
    assert positions == sorted(positions)  # one row per hand-over, in order
    for event in events[1:]:
        assert hhmm_ddmmyyyy(event.step_due_at) in text
    outcomes = [e.step_outcome for e in events[1:]]
    assert {"early", "on_time", "late"} <= set(outcomes)
    cells = text.replace("(Trước hạn/ đúng hạn/ quá hạn)", "")  # the column header, repeated on each page
    assert cells.count("Trước hạn") == outcomes.count("early")
    assert cells.count("Đúng hạn") == outcomes.count("on_time")
    assert cells.count("Quá hạn") == outcomes.count("late")
    for name in ("Trần Thị Bình", "Lê Văn Cường", "Phạm Minh Đức"):
        assert name in text
    assert "Chuyên viên xử lý: Lê Văn Cường" in text  # the assignee of the hand-over
    assert "Đang xử lý → Đã xử lý xong" in text


@pytest.mark.parametrize("form", ["supplement", "refusal", "extension"])
def test_form_that_does_not_apply_to_the_history_is_404(office, form):
    dossier, _pin = office.receive(now=MONDAY_9)
    with pytest.raises(Http404):
        render_form(form, dossier)


def test_no_receipt_before_an_online_submission_is_accepted_and_unknown_form_is_404(office):
    dossier, _pin = office.receive(now=MONDAY_9, channel=Channel.ONLINE)
    with pytest.raises(Http404):
        render_form("receipt", dossier)
    with pytest.raises(Http404):
        render_form("invoice", dossier)


# --- PIN in the session ----------------------------------------------------------------------


def test_remember_pin_keeps_only_the_most_recent_pins(db):
    request = RequestFactory().get("/")
    request.session = SessionStore()
    for n in range(MAX_REMEMBERED_PINS + 5):
        remember_pin(request, f"CODE-{n}", f"{n:06d}")
    remember_pin(request, "CODE-5", "999999")  # re-issued: becomes the most recent
    remember_pin(request, "CODE-NEW", "123456")

    assert len(request.session["receipt_pins"]) == MAX_REMEMBERED_PINS
    assert recall_pin(request, "CODE-5") == "999999"
    assert recall_pin(request, "CODE-NEW") == "123456"
    assert recall_pin(request, "CODE-4") is None  # pushed out by the first 20
    assert recall_pin(request, "CODE-6") is None  # the oldest once CODE-5 was re-issued
    assert recall_pin(request, "UNKNOWN") is None


# --- The view --------------------------------------------------------------------------------


def pdf_url(dossier, form="receipt"):
    return reverse("dossiers:pdf", args=[dossier.code, form])


def test_receipt_printed_right_after_intake_carries_the_pin_from_the_session(client, office):
    dossier, pin = office.receive(now=MONDAY_9, documents=DOCUMENTS)
    client.force_login(office.reception)
    session = client.session
    session["receipt_pins"] = {dossier.code: pin}
    session.save()

    response = client.get(pdf_url(dossier))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="receipt-{dossier.code}.pdf"'
    assert response["Cache-Control"] == "private, no-store"
    assert f"Mã tra cứu (PIN): {pin}" in text_of(response.content)


def test_reprint_carries_no_pin_and_its_qr_code_opens_the_lookup_without_it(client, office):
    dossier, pin = office.receive(now=MONDAY_9)
    client.force_login(office.specialist)  # same agency, a session that never saw the PIN

    response = client.get(pdf_url(dossier))

    assert response.status_code == 200
    text = text_of(response.content)
    assert f"(PIN): {pin}" not in text
    assert "bản in lại không in mã tra cứu" in text
    assert decode_qr(response.content) == f"{settings.SITE_URL}/tra-cuu/?" + urlencode({"ma": dossier.code})


def test_pin_query_parameter_is_printed_only_when_it_is_the_dossiers_pin(client, office):
    dossier, pin = office.receive(now=MONDAY_9)
    wrong = f"{(int(pin) + 1) % 10**6:06d}"
    client.force_login(office.reception)

    wrong_text = text_of(client.get(pdf_url(dossier), {"pin": wrong}).content)
    right_text = text_of(client.get(pdf_url(dossier), {"pin": pin}).content)

    assert f"(PIN): {wrong}" not in wrong_text
    assert "bản in lại không in mã tra cứu" in wrong_text
    assert f"Mã tra cứu (PIN): {pin}" in right_text


def test_officer_of_another_commune_gets_404(client, office):
    dossier, _pin = office.receive(now=MONDAY_9)
    other = Office()
    client.force_login(other.supervisor)

    for form in ("receipt", "control-slip"):
        assert client.get(pdf_url(dossier, form)).status_code == 404


def test_anonymous_is_sent_to_login(client, office):
    dossier, _pin = office.receive(now=MONDAY_9)

    response = client.get(pdf_url(dossier))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_unknown_form_or_a_form_that_does_not_apply_is_404_in_the_view(client, office):
    dossier, _pin = office.receive(now=MONDAY_9)
    client.force_login(office.reception)

    assert client.get(pdf_url(dossier, "invoice")).status_code == 404
    assert client.get(pdf_url(dossier, "refusal")).status_code == 404
    assert client.get(reverse("dossiers:pdf", args=["NO-SUCH-CODE", "receipt"])).status_code == 404
