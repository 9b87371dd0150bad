"""The key screens at phone (375×812, touch) and desktop (1280×800) sizes: axe-core finds no
serious or critical violation, nothing scrolls sideways on the phone, and the reception form
works with the keyboard alone. Screenshots of every screen go to test-results/screenshots/.

The pages are seen in the site's default language (Vietnamese): what a visitor gets."""

from types import SimpleNamespace

import pytest

from dossiers.models import Dossier, Status
from dossiers.services import dossier_act, dossier_create

from .helpers import (
    assert_fits_width,
    axe_violations,
    format_violations,
    has_no_horizontal_scroll,
    log_in_with_cookie,
    screenshot,
    widest_elements,
)

pytestmark = pytest.mark.browser

# Phone screenshots of these screens show the whole page (the leader's decision buttons, the
# citizen's timeline); the others show the first screenful.
FULL_PAGE_SHOTS = {"lookup-result", "approval"}


def awaiting_approval(site):
    """A birth registration received at the demo commune, processed and proposed to the leader."""
    documents = [{**doc, "received": True} for doc in site.birth.documents.values("name", "originals", "copies")]
    dossier, pin = dossier_create(
        actor=site.reception,
        procedure=site.birth,
        applicant_name="Hoàng Văn Bình",
        applicant_id_number="019090004567",
        applicant_phone="0987654321",
        documents=documents,
    )
    dossier_act(dossier=dossier, actor=site.reception, action="assign")
    dossier = dossier_act(
        dossier=dossier, actor=site.specialist, action="propose_result", result="Cấp Giấy khai sinh bản chính"
    )
    return dossier, pin


@pytest.fixture
def tour(site, contexts):
    """(name, path, who) of every screen under test, and a page per (who, size)."""
    dossier, pin = awaiting_approval(site)
    screens = [
        ("home", "/", None),
        ("catalogue", "/thu-tuc/", None),
        ("search", "/thu-tuc/?q=khai+sinh", None),
        ("procedure", f"/thu-tuc/{site.birth.code}/", None),
        ("lookup", "/tra-cuu/", None),
        ("lookup-result", f"/tra-cuu/?ma={dossier.code}&pin={pin}", None),
        ("login", "/dang-nhap/", None),
        ("reception", f"/can-bo/tiep-nhan/?procedure={site.birth.code}", site.reception),
        ("queues", "/can-bo/", site.reception),
        ("dossier", dossier.get_absolute_url(), site.reception),
        ("approvals", "/can-bo/phe-duyet/", site.leader),
        ("approval", dossier.get_absolute_url(), site.leader),
    ]
    pages = {}

    def page_for(who, phone):
        key = (who.pk if who else None, phone)
        if key not in pages:
            context = contexts.new(phone=phone, language=None)
            if who is not None:
                log_in_with_cookie(context, who, site.url)
            pages[key] = context.new_page()
        return pages[key]

    def visit(path, who, phone):
        page = page_for(who, phone)
        response = page.goto(path)
        assert response.ok, f"{path} answered {response.status}"
        return page

    return SimpleNamespace(screens=screens, visit=visit, dossier=dossier)


def test_key_screens_fit_a_375px_phone_without_horizontal_scrolling(tour, contexts):
    overflowing, console = [], []
    for name, path, who in tour.screens:
        seen = len(contexts.errors)
        page = tour.visit(path, who, phone=True)
        screenshot(page, f"{name}-phone", full_page=name in FULL_PAGE_SHOTS)
        if not has_no_horizontal_scroll(page):
            overflowing.append(f"{name} ({path}): {widest_elements(page)}")
        console.extend(f"{name}: {error}" for error in contexts.errors[seen:])
    contexts.errors.clear()  # reported here, page by page, rather than by the fixture
    assert not overflowing, "pages scroll sideways at 375 px:\n" + "\n".join(overflowing)
    assert not console, "console errors (JavaScript, failed loads, CSP violations):\n" + "\n".join(console)


def test_key_screens_have_no_serious_or_critical_axe_violation(tour, axe_source):
    report = []
    for phone in (True, False):
        for name, path, who in tour.screens:
            page = tour.visit(path, who, phone=phone)
            if not phone:
                screenshot(page, f"{name}-desktop")
            violations = axe_violations(page, axe_source)
            if violations:
                size = "phone" if phone else "desktop"
                report.append(f"{name} ({path}, {size}):\n{format_violations(violations)}")
    assert not report, "axe-core found serious or critical violations:\n" + "\n".join(report)


def focused(page):
    """Tag, id, name and type of the focused element, and whether its focus ring is visible."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2)
                         || style.boxShadow !== 'none';
            return {tag: el.tagName.toLowerCase(), id: el.id, name: el.name || '', type: el.type || '',
                    text: (el.innerText || '').trim().slice(0, 60), ring: ring};
        }"""
    )


def tab_to(page, selector, limit=40):
    """Press Tab until the element matching `selector` has the focus (keyboard only)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return focused(page)
        page.keyboard.press("Tab")
    pytest.fail(f"Tab never reached {selector}; the focus is on {focused(page)}")


def test_reception_form_can_be_filled_and_sent_with_the_keyboard_only(site, contexts):
    context = contexts.new()
    log_in_with_cookie(context, site.reception, site.url)
    page = context.new_page()
    page.goto("/can-bo/tiep-nhan/")

    # 1. The procedure: type its code, pick the suggestion with the arrow key and Enter.
    assert tab_to(page, "#id_procedure")["ring"], "no visible focus ring on the procedure box"
    page.keyboard.type(site.birth.code)
    page.locator("#procedure-suggestions [role=option]").first.wait_for()
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert site.birth.name in page.locator("#step-documents").locator("xpath=..").inner_text()

    # 2. The applicant, field after field with Tab.
    for selector, text in [
        ("#id_applicant_name", "Đỗ Thị Lan"),
        ("#id_applicant_id_number", "019185007777"),
        ("#id_applicant_phone", "0345678912"),
        ("#id_applicant_email", "lan@example.com"),
        ("#id_applicant_address", "Tổ 5, phường Phan Đình Phùng"),
    ]:
        state = tab_to(page, selector)
        assert state["ring"], f"no visible focus ring on {selector}"
        page.keyboard.type(text)

    # 3. The channel: the radio group takes the arrow keys; back to "in person".
    tab_to(page, "input[name=channel]:checked")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    assert page.locator("input[name=channel]:checked").get_attribute("value") == "in_person"

    # 4. Tick every document with Space.
    checkboxes = page.locator("input[name=documents]")
    for index in range(checkboxes.count()):
        state = tab_to(page, f"#id_documents_{index}")
        assert state["ring"], f"no visible focus ring on document {index}"
        page.keyboard.press("Space")
    assert all(box.is_checked() for box in checkboxes.all())

    # 5. Send with Enter on the main button.
    state = tab_to(page, "button[name=intent][value=receive]")
    assert state["ring"], "no visible focus ring on the submit button"
    with page.expect_navigation():
        page.keyboard.press("Enter")

    dossier = Dossier.objects.get(applicant_name="Đỗ Thị Lan")
    assert page.locator(".ws-receipt .ws-code").inner_text().strip() == dossier.code
    assert dossier.status == Status.RECEIVED
    assert (dossier.applicant_phone, dossier.applicant_email) == ("0345678912", "lan@example.com")
    assert dossier.documents and all(doc["received"] for doc in dossier.documents)
    assert_fits_width(page)
