"""The lobby kiosk (/kiosk/) on its touch screen, portrait 1080 × 1920 and landscape 1920 × 1080:
a citizen browses a field, reads what to bring and the due date, then scans the receipt's QR code
with the desk's USB scanner (it types the QR's URL and Enter) and sees the status; the kiosk goes
back to its first screen when left alone. No outside request, no serious accessibility issue,
within the citizen pages' weight budget."""

import re

import pytest
from django.utils import dateformat, timezone

from dossiers.services import dossier_create
from procedures.deadlines import compute_due_at

from .helpers import axe_violations, format_violations, screenshot
from .test_page_weight import BUDGET_BYTES

pytestmark = pytest.mark.browser

STATUS_RECEIVED = "Đã tiếp nhận, đang chờ giải quyết"
PORTRAIT = {"viewport": {"width": 1080, "height": 1920}, "has_touch": True}
LANDSCAPE = {"viewport": {"width": 1920, "height": 1080}, "has_touch": True}


def kiosk_page(browser, site, size, contexts):
    contexts.new(language=None)  # registers the request and console watchers' teardown
    context = browser.new_context(base_url=site.url, **size)
    context.set_default_timeout(10_000)
    outside = []
    context.on(
        "request", lambda r: None if r.url.startswith(site.url) or r.url.startswith("data:") else outside.append(r.url)
    )
    return context.new_page(), outside, context


def receive_birth(site):
    documents = [{**doc, "received": True} for doc in site.birth.documents.values("name", "originals", "copies")]
    return dossier_create(actor=site.reception, procedure=site.birth, applicant_name="Vũ Thị Hạnh", documents=documents)


@pytest.mark.parametrize(("size", "name"), [(PORTRAIT, "portrait"), (LANDSCAPE, "landscape")])
def test_a_citizen_browses_then_scans_the_receipt_and_sees_the_status(site, browser, contexts, size, name):
    dossier, pin = receive_birth(site)
    page, outside, context = kiosk_page(browser, site, size, contexts)

    page.goto("/kiosk/")
    screenshot(page, f"kiosk-{name}")
    page.get_by_role("link", name=re.compile(r"^Hộ tịch")).tap()
    page.wait_for_url(re.compile(r"/kiosk/linh-vuc/"))
    page.get_by_role("link", name=site.birth.name, exact=True).tap()
    page.wait_for_url(re.compile(rf"/kiosk/thu-tuc/{re.escape(site.birth.code)}/"))
    documents = page.locator(".k-docs li").all_inner_texts()
    assert all(any(d.name in text for text in documents) for d in site.birth.documents.all())
    due = compute_due_at(timezone.now(), site.birth.processing_days, cutoff=site.birth.same_day_cutoff)
    assert dateformat.format(timezone.localtime(due), "d/m/Y") in page.locator(".k-due").inner_text()
    screenshot(page, f"kiosk-procedure-{name}")

    # The scanner types into whatever has the focus: here the page itself, after a touch.
    page.locator("h1").tap()
    page.keyboard.type(f"{site.url}/tra-cuu/?ma={dossier.code}&pin={pin}", delay=5)
    with page.expect_navigation():
        page.keyboard.press("Enter")

    status = page.locator("#k-status")
    assert status.inner_text() == STATUS_RECEIVED
    body = page.locator("main").inner_text()
    assert dossier.code in body and dossier.masked_applicant_name in body and "Vũ Thị Hạnh" not in body
    assert pin not in page.url  # the PIN is not left in the address bar
    screenshot(page, f"kiosk-status-{name}")
    assert not outside
    context.close()


def test_the_kiosk_goes_back_to_the_start_when_left_alone(site, browser, contexts, settings):
    settings.KIOSK_IDLE_SECONDS = 2
    dossier, pin = receive_birth(site)
    page, _outside, context = kiosk_page(browser, site, PORTRAIT, contexts)
    page.goto("/kiosk/tra-cuu/")
    page.locator("#k-code").fill(dossier.code.lower())
    page.locator("#k-pin").fill(pin)
    with page.expect_navigation():
        page.get_by_role("button", name="Tra cứu").tap()
    assert page.locator("#k-status").is_visible()

    # (The status page already shows /kiosk/ in the address bar: the PIN-bearing page is not kept.)
    page.get_by_role("heading", level=1, name="Bạn cần làm thủ tục gì?").wait_for(timeout=8_000)
    assert dossier.code not in page.content()
    context.close()


def test_kiosk_pages_are_accessible_and_light(site, browser, contexts, axe_source):
    dossier, pin = receive_birth(site)
    report, heavy = [], []
    for size in (PORTRAIT, LANDSCAPE):
        page, outside, context = kiosk_page(browser, site, size, contexts)
        finished = []
        page.on("requestfinished", lambda request, finished=finished: finished.append(request))
        for path in ("/kiosk/", "/kiosk/linh-vuc/HT/", f"/kiosk/thu-tuc/{site.birth.code}/", "/kiosk/tra-cuu/"):
            finished.clear()
            page.goto(path, wait_until="networkidle")
            total = sum(r.sizes()["responseHeadersSize"] + r.sizes()["responseBodySize"] for r in finished)
            if total > BUDGET_BYTES:
                heavy.append(f"{path}: {total} bytes")
            violations = axe_violations(page, axe_source)
            if violations:
                report.append(f"{path}:\n{format_violations(violations)}")
        page.goto("/kiosk/tra-cuu/")
        page.locator("#k-scan").fill(f"{site.url}/tra-cuu/?ma={dossier.code}&pin={pin}")
        with page.expect_navigation():
            page.locator("#k-scan").press("Enter")
        violations = axe_violations(page, axe_source)
        if violations:
            report.append(f"status:\n{format_violations(violations)}")
        assert not outside
        context.close()
    assert not report, "axe-core found serious or critical violations:\n" + "\n".join(report)
    assert not heavy, heavy
