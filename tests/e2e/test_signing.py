"""Signed electronic results (issue 17) in a real browser, on a 375 px phone: the leader approves
with one tap and confirms on the signing service's "phone" (the project's CSC sandbox, auto-confirm
off), the citizen downloads the signed result from the lookup with code + PIN, and the QR code
printed on that PDF (rendered with pdftoppm, decoded with zbarimg) opens the verification page,
which says the signature and the document are intact. A result replaced by a signed correction
(Art. 23.1) says so on its verification page and links to the correction. axe-core checks the
approval screen with its signing UI and both verification pages. Pages are seen in the site's
language (Vietnamese)."""

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.utils import translation

from dossiers.models import Status
from dossiers.services import dossier_act
from signing.models import ResultDocument
from tests.signing.helpers import make_test_ca, use_csc_sandbox

from .helpers import assert_fits_width, axe_violations, format_violations, log_in_with_cookie, screenshot
from .test_accessibility import awaiting_approval

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def vi(text):
    with translation.override("vi"):
        return translation.gettext(text)


def no_serious_violations(page, axe_source, name):
    violations = axe_violations(page, axe_source)
    assert not violations, f"{name}: axe-core found:\n{format_violations(violations)}"


def qr_link(pdf_path, tmp_path):
    """The text of the QR code on the PDF's first page, as a phone's camera reads it from a print."""
    subprocess.run(  # noqa: S603 - fixed arguments
        ["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf_path), str(tmp_path / "page")],  # noqa: S607
        check=True,
    )
    decoded = subprocess.run(  # noqa: S603
        ["zbarimg", "-q", "--raw", str(tmp_path / "page.png")],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return decoded.stdout.strip()


@pytest.fixture
def signing_site(site, settings, tmp_path):
    """The live site signing with the `csc` back end against its own sandbox; only a tap on
    Confirm at /sandbox/csc/ confirms a signature."""
    use_csc_sandbox(settings, site.url, tmp_path, make_test_ca(tmp_path), auto_confirm=0)
    settings.SIGNING_CONFIRM_TIMEOUT = 20
    return site


def test_leader_signs_citizen_downloads_and_the_qr_verifies(signing_site, contexts, axe_source, tmp_path):
    site = signing_site
    dossier, pin = awaiting_approval(site)

    # 1. The leader's approval screen on the phone: the proposed result, its document, the hint.
    leader = contexts.new(phone=True, language=None)
    log_in_with_cookie(leader, site.leader, site.url)
    page = leader.new_page()
    page.goto(dossier.get_absolute_url())
    assert page.locator("#signing-hint").is_visible()
    approve = page.locator("form.ws-decide__approve button[type=submit]")
    assert approve.bounding_box()["height"] >= 44
    assert_fits_width(page)
    no_serious_violations(page, axe_source, "approval with the signing UI (phone)")

    # 2. One tap on Approve; the approval waits for the confirmation on the signing "phone".
    phone = contexts.new(phone=True, language=None).new_page()
    # While the approval waits, the page keeps its document but Playwright waits for the navigation
    # before reading it: the state right after the tap is kept in sessionStorage and read afterwards.
    page.evaluate(
        """() => document.addEventListener("submit", () => setTimeout(() => {
            const note = document.getElementById("signing-wait");
            const button = document.querySelector("form.ws-decide__approve button[type=submit]");
            sessionStorage.setItem("after-tap", JSON.stringify([note && note.textContent, button.disabled]));
        }, 0))"""
    )
    with page.expect_navigation(timeout=30_000):
        approve.click(no_wait_after=True)
        request = phone.locator(".sandbox-request").filter(has_text=dossier.code)
        for _attempt in range(40):  # the leader opens the signing app when it rings
            phone.goto("/sandbox/csc/")
            if request.count():
                break
            phone.wait_for_timeout(250)
        with phone.expect_navigation():
            request.locator("input[value=confirm] ~ button").click()
        assert phone.locator("#sandbox-empty").is_visible()
    assert page.url.endswith("/can-bo/phe-duyet/"), page.url
    note, disabled = page.evaluate("() => JSON.parse(sessionStorage.getItem('after-tap'))")
    assert note == vi("Signing… confirm on your phone if your signing app asks."), note
    assert disabled, "a second tap must not start a second signature"
    dossier.refresh_from_db()
    assert dossier.status == Status.RESULT_READY
    document = ResultDocument.objects.get(dossier=dossier)
    assert document.is_signed and document.backend == "csc" and document.timestamped
    with document.signed_file.open("rb") as handle:
        signed = handle.read()

    # 3. The desk hands it over electronically; the citizen downloads it from the lookup.
    dossier_act(
        dossier=dossier,
        actor=site.reception,
        action="return_result",
        collected_by="Hoàng Văn Bình",
        result_form="electronic",
    )
    citizen = contexts.new(phone=True, language=None).new_page()
    citizen.goto("/tra-cuu/")
    citizen.locator("#lookup-code").fill(dossier.code)
    citizen.locator("#lookup-pin").fill(pin)
    with citizen.expect_navigation():
        citizen.locator("form.lookup-form button[type=submit]").click()
    download_link = citizen.locator("#result-download")
    assert download_link.is_visible()
    assert_fits_width(citizen)
    screenshot(citizen, "lookup-signed-result-phone", full_page=True)
    with citizen.expect_download() as download:
        download_link.click()
    pdf_path = tmp_path / "ket-qua.pdf"
    download.value.save_as(pdf_path)
    assert pdf_path.read_bytes() == signed, "the citizen's copy is not the signed file"

    # 4. The QR code on the PDF opens the verification page: signature and document intact.
    link = qr_link(pdf_path, tmp_path)
    assert link == f"{site.url}/xac-thuc/{document.verification_code}"
    response = citizen.goto(link)
    assert response.status == 200
    verdict = citizen.locator("#verify-result").inner_text()
    assert vi("Valid: the signature and the document are intact.") in verdict
    assert document.verification_code in verdict
    facts = citizen.locator("dl.summary").inner_text()
    assert document.number in facts and site.commune.name in facts
    assert vi("confirmed by a trusted timestamp") in facts
    assert dossier.applicant_name not in citizen.content()  # only the masked name
    assert_fits_width(citizen)
    screenshot(citizen, "verification-phone", full_page=True)
    no_serious_violations(citizen, axe_source, "verification page (phone)")


def test_a_replaced_result_says_so_and_leads_to_the_correction(signing_site, contexts, axe_source, settings):
    site = signing_site
    settings.SIGNING_SANDBOX_AUTO_CONFIRM_SECONDS = 0.3  # the "phone" confirms by itself here
    dossier, _pin = awaiting_approval(site)

    def act(actor, action, **params):
        # pyHanko signs with asyncio.run(), which cannot run inside Playwright's event loop (this thread).
        with ThreadPoolExecutor(1) as pool:
            pool.submit(dossier_act, dossier=dossier, actor=actor, action=action, **params).result()

    act(site.leader, "approve")
    first = ResultDocument.objects.get(dossier=dossier)
    act(site.reception, "report_result_error", comment="Sai ngày sinh")
    act(site.leader, "correct_result", result="Cấp Giấy khai sinh (đính chính)")
    correction = ResultDocument.objects.current(dossier)
    assert correction.replaces == first and correction.is_signed

    page = contexts.new(phone=True, language=None).new_page()
    page.goto(f"/xac-thuc/{first.verification_code}")
    notice = page.locator("#verify-replaced")
    assert correction.number in notice.inner_text()
    assert_fits_width(page)
    screenshot(page, "verification-replaced-phone", full_page=True)
    no_serious_violations(page, axe_source, "verification page of a replaced result (phone)")
    with page.expect_navigation():
        notice.locator("a").click()
    assert page.url.endswith(f"/xac-thuc/{correction.verification_code}")
    assert vi("Valid: the signature and the document are intact.") in page.locator("#verify-result").inner_text()
    assert page.locator("#verify-replaced").count() == 0
