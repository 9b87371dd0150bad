"""The citizen rates a returned dossier from the lookup page on a 375 px phone in one tap; the
lookup page with its rating block and the rating page have no serious or critical axe-core
violation, fit the phone and stay within the citizen pages' weight budget."""

import pytest

from dossiers.services import dossier_act, dossier_create
from ratings.models import Rating, RatingRevision

from .helpers import assert_fits_width, axe_violations, format_violations, screenshot
from .test_page_weight import BUDGET_BYTES, first_visit

pytestmark = pytest.mark.browser


def returned(site):
    """A birth registration received at the demo commune, approved and handed back."""
    documents = [{**doc, "received": True} for doc in site.birth.documents.values("name", "originals", "copies")]
    dossier, pin = dossier_create(
        actor=site.reception, procedure=site.birth, applicant_name="Lê Thị Mai", documents=documents
    )
    dossier_act(dossier=dossier, actor=site.reception, action="assign")
    dossier_act(dossier=dossier, actor=site.specialist, action="propose_result", result="Cấp Giấy khai sinh")
    dossier_act(dossier=dossier, actor=site.leader, action="approve")
    dossier = dossier_act(dossier=dossier, actor=site.reception, action="return_result", collected_by="Lê Thị Mai")
    return dossier, pin


def test_a_citizen_rates_a_returned_dossier_from_the_lookup_page_in_one_tap_on_a_phone(site, contexts):
    dossier, pin = returned(site)
    page = contexts.new(phone=True).new_page()
    page.goto(f"/tra-cuu/?ma={dossier.code}&pin={pin}")
    button = page.get_by_role("button", name="Very satisfied")
    assert button.is_visible()
    box = button.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 200, box  # a thumb's target, the width of the phone
    assert_fits_width(page)
    with page.expect_navigation():
        button.tap()  # the one tap
    assert page.get_by_role("status").inner_text().startswith("Thank you for rating")
    assert page.get_by_role("button", name="Very satisfied").get_attribute("aria-pressed") == "true"
    assert_fits_width(page)
    screenshot(page, "rating-phone", full_page=True)
    rating = Rating.objects.get(pk=dossier.pk)
    assert rating.level == "very_satisfied" and rating.criteria == {} and rating.comment == ""
    assert RatingRevision.objects.get(dossier=dossier).channel == "lookup"
    # The details are optional, on the same page: a criterion and a comment.
    page.get_by_label("Attitude of the officers").select_option("satisfied")
    page.get_by_label("Comment (optional)").fill("Cán bộ hướng dẫn tận tình.")
    with page.expect_navigation():
        page.get_by_role("button", name="Send the details").tap()
    rating.refresh_from_db()
    assert rating.criteria == {"attitude": "satisfied"} and rating.comment == "Cán bộ hướng dẫn tận tình."
    assert rating.level == "very_satisfied" and RatingRevision.objects.filter(dossier=dossier).count() == 2


def test_the_lookup_and_rating_pages_are_accessible_and_light(site, contexts, axe_source):
    dossier, pin = returned(site)
    report = []
    for phone in (True, False):
        page = contexts.new(phone=phone, language=None).new_page()
        page.goto(f"/tra-cuu/?ma={dossier.code}&pin={pin}")
        assert page.locator(".rating__level").count() == 3
        violations = axe_violations(page, axe_source)
        if violations:
            report.append(
                f"lookup with the rating ({'phone' if phone else 'desktop'}):\n{format_violations(violations)}"
            )
        with page.expect_navigation():
            page.locator(".rating__level--ok").click()
        assert page.locator(".rating__details").is_visible()
        violations = axe_violations(page, axe_source)
        if violations:
            report.append(f"rating page ({'phone' if phone else 'desktop'}):\n{format_violations(violations)}")
    assert not report, "axe-core found serious or critical violations:\n" + "\n".join(report)
    # A first visit of the lookup page with the rating block stays within the citizen pages' budget.
    page, transferred, failed = first_visit(contexts, f"/tra-cuu/?ma={dossier.code}&pin={pin}")
    assert not failed and page.locator(".rating").count() == 1
    total = sum(size for _url, size in transferred)
    assert total <= BUDGET_BYTES, f"{total} bytes: {sorted(transferred, key=lambda item: -item[1])[:5]}"


def test_the_language_switch_works_on_the_lookup_page(site, contexts):
    """The lookup page keeps the PIN of its URL out of referrers without "no-referrer", which made
    browsers post its forms with "Origin: null" and the CSRF check refuse the language switch."""
    dossier, pin = returned(site)
    page = contexts.new(phone=True).new_page()
    page.goto(f"/tra-cuu/?ma={dossier.code}&pin={pin}")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.locator("#language-select").select_option("vi")
    with page.expect_navigation():
        page.locator(".language-switch button").click()
    assert page.evaluate("document.documentElement.lang") == "vi"
    assert dossier.code in page.content()  # back on the same lookup, now in Vietnamese
