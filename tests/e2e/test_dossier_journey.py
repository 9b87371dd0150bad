"""A dossier's whole life in real browsers: the desk receives it, the citizen follows it through
the receipt's QR code on a phone, the specialist and the leader (on a touch phone) decide, and
the desk hands the result back.

Order of the steps: the issue lists "the officer requests a supplement" after the approval, but
Decree 118 (Art. 19.5) and our workflow table allow a supplement during processing only (within 3
working days of intake), never once the result is approved. So the supplement comes between the
transfer to the specialist and the proposal; every other step is as the issue tells it.
"""

import re
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import translation

from dossiers.models import Dossier, Status
from dossiers.workflow import ACTIONS

from .helpers import act, assert_fits_width, log_in, log_in_with_cookie, screenshot

pytestmark = pytest.mark.browser

MISSING = ["Giấy chứng sinh (bản chính)", "Văn bản ủy quyền có chứng thực"]


def decode_qr(pdf_path):
    """The text of the QR code(s) printed in a PDF (poppler's pdftoppm, then zbar's zbarimg)."""
    prefix = pdf_path.with_suffix("")
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf_path), str(prefix)], check=True)
    images = sorted(str(p) for p in pdf_path.parent.glob(f"{prefix.name}*.png"))
    assert images, "pdftoppm produced no page image"
    found = subprocess.run(["zbarimg", "--raw", "-q", *images], capture_output=True, text=True, check=False)
    return [line for line in found.stdout.splitlines() if line.strip()]


def citizen_status(page):
    page.reload()
    assert_fits_width(page)
    return page.locator(".lookup-status__text").inner_text()


def test_a_dossier_from_the_desk_to_the_returned_result(site, contexts, tmp_path):
    # --- The reception officer logs the dossier through the form (desktop) ----------------------
    desk = contexts.new().new_page()
    log_in(desk, site.reception, next_url="/can-bo/tiep-nhan/")
    assert desk.url.endswith("/can-bo/tiep-nhan/")
    desk.locator("#id_procedure").fill(site.birth.code)
    with desk.expect_navigation():
        desk.locator("#id_procedure").press("Enter")
    desk.locator("#id_applicant_name").fill("Nguyễn Thị Mai")
    desk.locator("#id_applicant_id_number").fill("019190001234")
    desk.locator("#id_applicant_phone").fill("0912 345 678")
    for checkbox in desk.locator("input[name=documents]").all():
        checkbox.check()
    screenshot(desk, "reception-form-desktop-en", full_page=True)
    with desk.expect_navigation():
        desk.get_by_role("button", name="Receive and print the receipt").click()
    code = desk.locator(".ws-receipt .ws-code").inner_text().strip()
    pin = desk.locator(".ws-receipt .ws-pin").inner_text().strip()
    assert re.fullmatch(r"\d{6}", pin), pin
    dossier = Dossier.objects.get(code=code)
    assert dossier.status == Status.RECEIVED
    assert dossier.applicant_name == "Nguyễn Thị Mai"
    assert dossier.check_pin(pin)

    # --- ... downloads the receipt PDF, whose QR code opens the citizen's lookup ----------------
    # (Chromium would show the inline PDF in its viewer: fetch it with the officer's session.)
    receipt_href = desk.get_by_role("link", name="Print the receipt (PDF)").get_attribute("href")
    receipt = desk.context.request.get(receipt_href)
    assert receipt.ok and receipt.headers["content-type"] == "application/pdf"
    pdf_path = tmp_path / "receipt.pdf"
    pdf_path.write_bytes(receipt.body())
    qr_urls = [url for url in decode_qr(pdf_path) if "/tra-cuu/" in url]
    assert len(qr_urls) == 1, f"expected one lookup QR code in the receipt, decoded {qr_urls}"
    lookup_url = qr_urls[0]
    assert lookup_url.startswith(f"{site.url}/tra-cuu/?")
    assert parse_qs(urlsplit(lookup_url).query) == {"ma": [code], "pin": [pin]}

    citizen = contexts.new(phone=True).new_page()
    citizen.goto(lookup_url)
    assert_fits_width(citizen)
    assert citizen.locator(".lookup-status__text").inner_text() == "Received, waiting to be processed"
    assert code in citizen.locator(".lookup-status__code").inner_text()

    # --- The desk transfers it; the specialist asks for a supplement ---------------------------
    desk.goto(dossier.get_absolute_url())
    act(desk, "assign")
    dossier.refresh_from_db()
    assert (dossier.status, dossier.assignee) == (Status.PROCESSING, site.specialist)

    specialist_context = contexts.new()
    log_in_with_cookie(specialist_context, site.specialist, site.url)
    specialist = specialist_context.new_page()
    specialist.goto(dossier.get_absolute_url())
    act(specialist, "request_supplement", missing_documents="\n".join(MISSING), comment="Thiếu giấy tờ bản chính")

    assert citizen_status(citizen) == "Waiting for you to bring more documents"
    to_bring = citizen.locator("section[aria-labelledby=bring-heading] li").all_inner_texts()
    assert to_bring == MISSING
    screenshot(citizen, "lookup-supplement-phone-en", full_page=True)

    # --- The supplement comes back; the specialist proposes the result --------------------------
    act(specialist, "supplement_received")
    act(specialist, "propose_result", result="Cấp Giấy khai sinh bản chính cho cháu Nguyễn Minh An")
    dossier.refresh_from_db()
    assert dossier.status == Status.PROCESSING and dossier.stage == "approval"

    # --- The leader approves it from the approval list, on a touch phone ------------------------
    leader = contexts.new(phone=True).new_page()
    log_in(leader, site.leader, next_url="/can-bo/phe-duyet/")
    assert_fits_width(leader)
    card = leader.locator(".ws-card", has_text=code)
    assert card.count() == 1
    screenshot(leader, "approvals-phone-en")
    with leader.expect_navigation():
        card.tap()
    assert_fits_width(leader)
    approve = leader.locator("form.ws-decide__approve button[type=submit]")
    box = approve.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 200, f"the approve button is a small touch target: {box}"
    screenshot(leader, "approval-detail-phone-en", full_page=True)
    with leader.expect_navigation():
        approve.tap()
    assert leader.url.endswith("/can-bo/phe-duyet/")
    assert leader.locator(".ws-card", has_text=code).count() == 0

    assert citizen_status(citizen) == "The result is ready to collect"

    # --- The desk hands the result back; both timelines show every step -----------------------
    desk.goto(dossier.get_absolute_url())
    act(desk, "return_result", collected_by="Nguyễn Thị Mai")
    dossier.refresh_from_db()
    assert dossier.status == Status.RETURNED

    steps = ["receive", "assign", "request_supplement", "supplement_received", "propose_result", "approve"]
    steps.append("return_result")
    assert list(dossier.events.order_by("created_at", "pk").values_list("action", flat=True)) == steps
    with translation.override("en"):
        expected_labels = ["Received"] + [str(ACTIONS[name].label) for name in steps[1:]]
    assert desk.locator(".ws-timeline__item .ws-timeline__head strong").all_inner_texts() == expected_labels
    screenshot(desk, "dossier-returned-desktop-en", full_page=True)

    assert citizen_status(citizen) == "The result has been handed over"
    timeline = citizen.locator("ol.timeline > li").all_inner_texts()
    assert len(timeline) == 6, timeline  # every step but the internal proposal to the leader
    for entry, words in zip(
        timeline,
        [
            "was received at",
            "passed on for processing",
            "asked you to bring more documents",
            "documents were received",
            "The result is ready",
            "The result was handed over",
        ],
        strict=True,
    ):
        assert words in entry
    assert all(item in timeline[2] for item in MISSING)
    screenshot(citizen, "lookup-returned-phone-en", full_page=True)
