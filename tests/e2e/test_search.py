"""Issue 15 in the browser: the citizens' searches that used to find nothing, the result count and
"did you mean" on the catalogue page; the lookup forgives the code's case and dashes; under
`make run`'s demo mode a missing page is our Vietnamese 404. (On PostgreSQL with DATABASE_URL.)"""

import pytest

from dossiers.services import dossier_create

from .helpers import axe_violations, format_violations, screenshot

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("query", ["đăng kí khai sinh", "lam giay khai sinh", "khai sinh cho con", "khai sihn"])
def test_the_searches_that_found_nothing_find_birth_registration_in_the_top_three(site, contexts, query):
    page = contexts.new(phone=True, language=None).new_page()
    page.goto("/")
    page.get_by_role("searchbox").fill(query)
    with page.expect_navigation():
        page.get_by_role("searchbox").press("Enter")

    titles = page.locator(".procedure-list .procedure-card__title").all_inner_texts()
    assert site.birth.name in [title.strip() for title in titles[:3]], titles[:5]
    assert page.locator(".result-count").inner_text().startswith("Tìm thấy ")


def test_a_misspelled_search_offers_did_you_mean_and_the_page_stays_accessible(site, contexts, axe_source):
    page = contexts.new(phone=True, language=None).new_page()
    page.goto("/thu-tuc/?q=khai+sihn")
    suggestion = page.locator(".did-you-mean a")
    assert suggestion.inner_text() == "khai sinh"
    screenshot(page, "search-did-you-mean-phone")
    violations = axe_violations(page, axe_source)
    assert not violations, format_violations(violations)
    with page.expect_navigation():
        suggestion.click()
    assert site.birth.name in page.locator(".procedure-list").inner_text()


def test_the_lookup_finds_a_code_typed_in_lower_case_with_spaces(site, contexts):
    documents = [{**doc, "received": True} for doc in site.birth.documents.values("name", "originals", "copies")]
    dossier, pin = dossier_create(
        actor=site.reception, procedure=site.birth, applicant_name="Vũ Văn Nam", documents=documents
    )
    page = contexts.new(phone=True, language=None).new_page()
    page.goto("/tra-cuu/")
    page.locator("input[name=ma]").fill(" " + dossier.code.lower().replace("-", " ") + " ")
    page.locator("input[name=pin]").fill(pin)
    with page.expect_navigation():
        page.locator("input[name=pin]").press("Enter")

    assert dossier.code in page.locator("main").inner_text()


def test_demo_mode_shows_our_404_page(site, browser, settings):
    settings.DEBUG = True
    settings.FRIENDLY_ERROR_PAGES = True
    # Not `contexts`: the console's "failed to load resource (404)" is the point here.
    context = browser.new_context(base_url=site.url)
    page = context.new_page()
    response = page.goto("/khong-co-trang-nay/")

    assert response.status == 404
    assert page.get_by_role("heading", level=1).inner_text() == "Không tìm thấy trang"
    context.close()
