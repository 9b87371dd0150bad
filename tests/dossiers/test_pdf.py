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
from dossiers.pdf import MAX_REMEMBERED_PINS, printable_forms, recall_pin, remember_pin, render_form
from dossiers.services import close_expired_supplements
from tests.factories import LONG_DOCUMENT_NAMES, Office, name_officers, vn, ward_office

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


WARD_HEADING = "ỦY BAN NHÂN DÂN PHƯỜNG PHAN ĐÌNH PHÙNG"


@pytest.fixture
def office(db):
    office = ward_office(name="Đăng ký khai sinh")
    name_officers(office)
    return office


def pages_of(pdf):
    """The text of each page, whitespace collapsed."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def assert_common(text, dossier, number):
    assert f"Mẫu số {number}" in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert WARD_HEADING in text  # the ward's People's Committee, not the province's
    assert "ỦY BAN NHÂN DÂN TỈNH" not in text
    assert dossier.code in text
    assert "Nguyễn Văn An" in text
    assert "Đăng ký khai sinh" in text
    assert dossier.procedure_snapshot["code"] in text


EIGHT_NAMES = LONG_DOCUMENT_NAMES
EIGHT_DOCUMENTS = [{"name": name, "originals": 1, "copies": 0, "received": True} for name in EIGHT_NAMES]


# --- Forms -----------------------------------------------------------------------------------


@override_settings(SITE_URL="https://motcua.example.gov.vn")
def test_receipt_prints_applicant_procedure_dates_fee_return_register_entry_pin_and_qr_code(office):
    earlier, _pin = office.receive(now=vn(2026, 1, 5, 9, 0))  # the desk's first dossier of 2026
    dossier, pin = office.receive(now=MONDAY_9, documents=DOCUMENTS)

    pdf = render_form("receipt", dossier, pin=pin)

    assert pdf.startswith(b"%PDF")
    pages = pages_of(pdf)
    assert len(pages) == 1
    text = text_of(pdf)
    assert "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ" in text
    assert_common(text, dossier, "01")
    assert "Phường Phan Đình Phùng, ngày 02 tháng 3 năm 2026" in text  # Decree 30: no zero before 3
    assert dossier.receiving_agency.name in text
    for value in ("001099012345", "0912345678", "Thôn 1", "Tờ khai đăng ký khai sinh", "Giấy chứng sinh"):
        assert value in text
    assert "Thời gian nhận hồ sơ: 09 giờ 00 phút, ngày 02/03/2026" in text
    due = timezone.localtime(dossier.due_at)
    assert f"{due:%H} giờ {due:%M} phút, ngày {ddmmyyyy(due)} (buổi sáng)" in text  # received in the morning
    assert "Thời gian giải quyết được tính lại" not in text
    assert "6. Phí, lệ phí: Miễn lệ phí" in text  # the procedure's fee text at receipt
    assert "hình thức nộp hồ sơ: trực tiếp" in text
    assert "Cách thức nhận kết quả:" in text and "Qua dịch vụ bưu chính" in text
    assert "Vào Sổ theo dõi hồ sơ: Quyển số 2026, Số thứ tự 2" in text  # after the January one
    assert dossier.register_number() == 2 and earlier.register_number() == 1
    assert "Trần Thị Bình" in text  # the receiving officer
    assert f"Mã tra cứu (PIN): {pin}" in text
    assert_fonts_have_vietnamese_glyphs(pdf)
    assert decode_qr(pdf) == "https://motcua.example.gov.vn/tra-cuu/?" + urlencode({"ma": dossier.code, "pin": pin})


def test_receipt_reprinted_after_the_period_restarted_shows_the_restart_and_both_appointments(office):
    dossier, _pin = office.receive(now=MONDAY_9, documents=EIGHT_DOCUMENTS)
    promised = dossier.due_at
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    office.act(
        dossier, "request_supplement", now=vn(2026, 3, 3, 9, 30), comment="Thiếu bản chính.", missing_documents=["X"]
    )
    dossier = office.act(dossier, "supplement_received", now=vn(2026, 3, 5, 9, 0))
    assert dossier.due_at > promised

    pdf = render_form("receipt", dossier)

    pages = pages_of(pdf)
    assert len(pages) == 1  # eight documents and the two extra lines still fit
    text = pages[0]
    assert "Thời gian nhận hồ sơ: 09 giờ 00 phút, ngày 02/03/2026" in text
    assert "Thời gian giải quyết được tính lại từ 09 giờ 00 phút, ngày 05/03/2026, khi nhận đủ hồ sơ bổ sung" in text
    assert "khoản 5 Điều 19 Nghị định số 118/2025/NĐ-CP" in text
    due = timezone.localtime(dossier.due_at)
    assert f"5. Thời gian trả kết quả giải quyết hồ sơ: {due:%H} giờ {due:%M} phút, ngày {ddmmyyyy(due)}" in text
    old = timezone.localtime(promised)
    assert f"Hẹn trả kết quả khi tiếp nhận: {old:%H} giờ {old:%M} phút, ngày {ddmmyyyy(old)}" in text
    assert "NGƯỜI TIẾP NHẬN HỒ SƠ" in text


def test_receipt_with_eight_documents_fits_one_page_and_more_keep_the_signatures_with_the_last_lines(office):
    eight, pin = office.receive(now=MONDAY_9, documents=EIGHT_DOCUMENTS)
    many, _pin = office.receive(now=MONDAY_9, documents=EIGHT_DOCUMENTS + EIGHT_DOCUMENTS[:6])

    one = pages_of(render_form("receipt", eight, pin=pin))
    two = pages_of(render_form("receipt", many))

    assert len(one) == 1
    assert all(name.split("(")[0].strip() in one[0] for name in EIGHT_NAMES)
    assert "NGƯỜI NỘP HỒ SƠ" in one[0] and f"Mã tra cứu (PIN): {pin}" in one[0]
    assert len(two) == 2
    assert "NGƯỜI NỘP HỒ SƠ" in two[1]
    # The signatures never stand alone: the closing lines go with them.
    assert "6. Phí, lệ phí" in two[1] and "Vào Sổ theo dõi hồ sơ" in two[1]


def test_receipt_ticks_the_return_method_once_the_result_was_returned(office):
    dossier, _pin = office.receive(now=MONDAY_9)
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    office.act(dossier, "propose_result", now=vn(2026, 3, 3, 9, 0), result="Cấp giấy khai sinh")
    office.act(dossier, "approve", now=vn(2026, 3, 3, 10, 0))
    before = text_of(render_form("receipt", dossier))
    dossier = office.act(dossier, "return_result", now=vn(2026, 3, 4, 9, 0), collected_by="Bưu điện", method="post")

    after = text_of(render_form("receipt", dossier))

    assert "X Qua dịch vụ bưu chính" not in before
    assert "X Qua dịch vụ bưu chính" in after


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

    pdf = render_form("supplement", dossier)
    text = text_of(pdf)

    assert len(pages_of(pdf)) == 1
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text
    assert_common(text, dossier, "02")
    assert "Phường Phan Đình Phùng, ngày 03 tháng 3 năm 2026" in text
    assert "1 Giấy chứng sinh (bản chính, không tẩy xóa)" in text
    assert "2 Bản sao giấy chứng nhận kết hôn của cha mẹ" in text
    assert "Lý do: Giấy chứng sinh nộp kèm bị tẩy xóa, không hợp lệ." in text
    assert "ngày nộp hồ sơ: 02/03/2026" in text
    assert "09 giờ 30 phút, ngày 03/03/2026" in text
    assert "Thời gian giải quyết được tính lại từ đầu kể từ khi nhận đủ hồ sơ bổ sung" in text
    assert "Lê Văn Cường" in text  # the officer who guides the applicant
    assert "(PIN)" not in text


def test_supplement_request_at_intake_gives_each_missing_document_its_reason_on_one_page_with_the_pin(office):
    missing = [*EIGHT_NAMES[:1], "Giấy chứng sinh", *EIGHT_NAMES[2:]]  # every item the procedure requires or not
    dossier, pin = office.receive(now=MONDAY_9, missing_documents=missing)

    pdf = render_form("supplement", dossier, pin=pin)
    pages = pages_of(pdf)
    text = pages[0]

    assert len(pages) == 1  # eight items, the lookup block and the signature
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in text
    assert_common(text, dossier, "02")
    assert "1 Tờ khai đăng ký khai sinh theo mẫu" in text
    # "Giấy chứng sinh" is a document of the procedure: the reason says it is required and missing.
    assert "2 Giấy chứng sinh Chưa nộp; thành phần hồ sơ phải có theo quy định của thủ tục" in text
    assert "ngày nộp hồ sơ: 02/03/2026" in text
    assert "Lý do: hồ sơ chưa đầy đủ, chưa hợp lệ theo quy định của thủ tục hành chính “Đăng ký khai sinh”" in text
    assert "Quá 15 ngày kể từ ngày yêu cầu" in text
    assert "Trần Thị Bình" in text and "NGƯỜI HƯỚNG DẪN" in text
    assert f"Mã tra cứu (PIN): {pin}" in text
    assert decode_qr(pdf).endswith(urlencode({"ma": dossier.code, "pin": pin}))


def test_refusal_states_the_reason_from_the_refuse_event(office):
    dossier, _pin = office.receive(now=MONDAY_9)
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    office.act(dossier, "refuse", now=vn(2026, 3, 3, 14, 0), comment="Việc khai sinh đã được đăng ký tại xã khác.")

    pdf = render_form("refusal", dossier)
    text = text_of(pdf)

    assert len(pages_of(pdf)) == 1
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ" in text
    assert_common(text, dossier, "03")
    assert "Việc khai sinh đã được đăng ký tại xã khác." in text
    assert "Ngày nộp hồ sơ: 02/03/2026" in text
    assert "Phường Phan Đình Phùng, ngày 03 tháng 3 năm 2026" in text
    assert "Phạm Minh Đức" in text  # the leader who refused


def test_extension_letter_has_the_2025_title_the_reason_both_due_dates_and_tells_the_one_stop_office(office):
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

    pdf = render_form("extension", dossier)
    text = text_of(pdf)

    assert len(pages_of(pdf)) == 1
    assert "VĂN BẢN XIN LỖI VÀ ĐỀ NGHỊ GIA HẠN THỜI GIAN GIẢI QUYẾT" in text
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" not in text  # the 2018 title
    assert_common(text, dossier, "04")
    assert "Kính gửi: Nguyễn Văn An" in text
    assert "Ngày 02/03/2026" in text  # received
    assert "Lý do: Cần xác minh thông tin với UBND xã nơi cư trú trước đây." in text
    old = timezone.localtime(original_due)
    assert (
        f"(ghi trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả): {old:%H} giờ {old:%M} phút, ngày {ddmmyyyy(old)}" in text
    )
    assert "đề nghị gia hạn thời gian giải quyết hồ sơ đến 17 giờ 00 phút, ngày 10/03/2026 (buổi chiều)" in text
    assert ddmmyyyy(dossier.due_at) == "10/03/2026"
    # Art. 19.6: the one-stop office is among the recipients.
    assert f"Nơi nhận: - Ông/bà Nguyễn Văn An; - {office.agency.name} (Bộ phận Một cửa" in text


def test_extension_after_a_restarted_period_does_not_call_the_restarted_due_date_the_receipts(office):
    dossier, _pin = office.receive(now=MONDAY_9)
    promised = dossier.due_at
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    office.act(
        dossier, "request_supplement", now=vn(2026, 3, 3, 9, 30), comment="Thiếu bản chính.", missing_documents=["X"]
    )
    restarted = office.act(dossier, "supplement_received", now=vn(2026, 3, 5, 9, 0)).due_at
    dossier = office.act(dossier, "extend", now=vn(2026, 3, 9, 10, 0), comment="Cần xác minh.", new_due_at="20/03/2026")

    text = text_of(render_form("extension", dossier))

    old, new = timezone.localtime(promised), timezone.localtime(restarted)
    assert f"ghi trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả: {old:%H} giờ {old:%M} phút, ngày {ddmmyyyy(old)}" in text
    assert "thời gian giải quyết được tính lại từ 09 giờ 00 phút, ngày 05/03/2026" in text
    assert f"thời hạn trả kết quả là: {new:%H} giờ {new:%M} phút, ngày {ddmmyyyy(new)}" in text
    assert f"(ghi trên Giấy tiếp nhận hồ sơ và hẹn trả kết quả): {new:%H} giờ" not in text


def test_stop_notice_for_a_stop_names_the_competent_agency_and_the_leaders_reason(office):
    dossier, _pin = office.receive(now=MONDAY_9)
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    office.act(dossier, "stop", now=vn(2026, 3, 3, 15, 0), comment="Người yêu cầu đã qua đời; không có người thừa kế.")

    pdf = render_form("stop-notice", dossier)
    text = text_of(pdf)

    assert len(pages_of(pdf)) == 1
    assert "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ" in text
    assert_common(text, dossier, "05")
    assert "Phường Phan Đình Phùng, ngày 03 tháng 3 năm 2026" in text
    assert "dừng giải quyết hồ sơ nêu trên kể từ 15 giờ 00 phút, ngày 03/03/2026" in text
    assert "Lý do: Người yêu cầu đã qua đời; không có người thừa kế." in text
    assert "THỦ TRƯỞNG CƠ QUAN" in text and "Người lập: Phạm Minh Đức" in text


def test_stop_notice_for_a_withdrawal_cites_the_applicants_request(office):
    dossier, _pin = office.receive(now=MONDAY_9)
    office.act(dossier, "withdraw", now=vn(2026, 3, 3, 9, 0), comment="Ông An đề nghị rút hồ sơ.")

    text = text_of(render_form("stop-notice", dossier))

    assert_common(text, dossier, "05")
    assert "Lý do: ông/bà đề nghị rút hồ sơ (Điều 21 Nghị định số 118/2025/NĐ-CP). Ông An đề nghị rút hồ sơ." in text
    assert "Người lập: Trần Thị Bình" in text


def test_stop_notice_for_the_closure_after_fifteen_days_without_the_supplement(office):
    dossier, _pin = office.receive(now=MONDAY_9, missing_documents=["Giấy chứng sinh"])
    assert close_expired_supplements(now=vn(2026, 3, 25, 9, 0)) == 1
    dossier.refresh_from_db()

    pdf = render_form("stop-notice", dossier)
    text = text_of(pdf)

    assert len(pages_of(pdf)) == 1
    assert_common(text, dossier, "05")
    assert "Lý do: quá 15 ngày kể từ ngày 02/03/2026 (ngày yêu cầu bổ sung, hoàn thiện hồ sơ" in text
    assert "khoản 5 Điều 19 Nghị định số 118/2025/NĐ-CP" in text
    assert "Người lập" not in text  # the scheduled task closed it: no officer


def test_control_slip_lists_each_handover_with_time_both_sides_deadline_and_outcome_on_one_page(office):
    dossier, _pin = office.receive(now=MONDAY_9)  # due Thursday 5/3 in the morning
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))  # intake step: same day
    office.act(dossier, "propose_result", now=vn(2026, 3, 3, 15, 0), result="Cấp giấy khai sinh")  # a day early
    office.act(dossier, "approve", now=vn(2026, 3, 5, 11, 0))  # approval step was due earlier that morning
    dossier = office.act(dossier, "return_result", now=vn(2026, 3, 5, 14, 0), collected_by="Nguyễn Văn Bình")

    pdf = render_form("control-slip", dossier)
    text = text_of(pdf)

    assert len(pages_of(pdf)) == 1
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ" in text
    assert_common(text, dossier, "06")
    assert "Bên giao (ký, ghi rõ họ tên)" in text and "Bên nhận (ký, ghi rõ họ tên)" in text
    events = list(dossier.events.order_by("created_at", "id"))
    assert [e.action for e in events] == ["receive", "assign", "propose_result", "approve", "return_result"]
    positions = [text.index(hhmm_ddmmyyyy(e.created_at)) for e in events]
    assert positions == sorted(positions)  # one row per hand-over, in order
    for event in events[1:]:
        assert hhmm_ddmmyyyy(event.step_due_at) in text
    outcomes = [e.step_outcome for e in events[1:]]
    assert {"early", "on_time", "late"} <= set(outcomes)
    cells = text.replace("(Trước hạn/ đúng hạn/ quá hạn)", "")  # the column header
    assert cells.count("Trước hạn") == outcomes.count("early")
    assert cells.count("Đúng hạn") == outcomes.count("on_time")
    assert cells.count("Quá hạn") == outcomes.count("late")
    # Giver and receiver of each hand-over: the applicant hands in, the desk passes to the
    # specialist, the specialist to the leader, the leader back to the desk, the desk to whoever
    # collected the result.
    rows = [text[start:end] for start, end in zip(positions, [*positions[1:], len(text)], strict=True)]
    assert "Nguyễn Văn An Trần Thị Bình" in rows[0]
    assert "Trần Thị Bình Lê Văn Cường" in rows[1]
    assert "Lê Văn Cường Phạm Minh Đức" in rows[2]
    assert "Phạm Minh Đức Trần Thị Bình" in rows[3]
    assert "Trần Thị Bình Nguyễn Văn Bình" in rows[4]
    assert "Đang xử lý → Đã xử lý xong" in text


def test_control_slip_of_eight_handovers_fits_one_page(office):
    dossier, _pin = office.receive(now=MONDAY_9)
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    office.act(dossier, "request_supplement", now=vn(2026, 3, 3, 9, 30), comment="Bản sao mờ.", missing_documents=["X"])
    office.act(dossier, "supplement_received", now=vn(2026, 3, 5, 9, 0))
    office.act(dossier, "extend", now=vn(2026, 3, 9, 10, 0), comment="Cần xác minh thêm.", new_due_at="20/03/2026")
    office.act(dossier, "propose_result", now=vn(2026, 3, 10, 15, 0), result="Cấp giấy khai sinh")
    office.act(dossier, "approve", now=vn(2026, 3, 11, 11, 0))
    dossier = office.act(dossier, "return_result", now=vn(2026, 3, 11, 14, 0), collected_by="Nguyễn Văn An")
    assert dossier.events.count() == 8

    pages = pages_of(render_form("control-slip", dossier))

    assert len(pages) == 1
    assert pages[0].count("Trần Thị Bình") >= 4


def test_date_line_takes_the_nearest_place_name_up_the_tree_and_the_heading_the_parents_name(office):
    office.agency.governing_body = ""
    office.agency.place_name = ""
    office.agency.save()
    dossier, _pin = office.receive(now=MONDAY_9)

    text = text_of(render_form("receipt", dossier))

    assert "ỦY BAN NHÂN DÂN TỈNH THÁI NGUYÊN" in text
    assert "Thái Nguyên, ngày 02 tháng 3 năm 2026" in text


def test_printable_forms_follow_the_history(office):
    dossier, _pin = office.receive(now=MONDAY_9)
    office.act(dossier, "assign", now=vn(2026, 3, 2, 10, 0))
    offered = [form for form, _label in printable_forms(dossier, list(dossier.events.all()))]
    assert offered == ["receipt", "control-slip"]

    office.act(dossier, "stop", now=vn(2026, 3, 3, 15, 0), comment="Dừng theo đề nghị của cơ quan công an.")
    offered = [form for form, _label in printable_forms(dossier, list(dossier.events.all()))]
    assert offered == ["receipt", "stop-notice", "control-slip"]
    for form in offered:
        assert render_form(form, dossier).startswith(b"%PDF")


@pytest.mark.parametrize("form", ["supplement", "refusal", "extension", "stop-notice"])
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
    request = RequestFactory().get("/")
    request.session = session
    remember_pin(request, dossier.code, pin)
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
