"""A citizen on a small phone finds a procedure and reads what to bring and when the result is due."""

import re

import pytest
from django.utils import dateformat, timezone

from procedures.deadlines import compute_due_at

from .helpers import assert_fits_width, screenshot

pytestmark = pytest.mark.browser


def test_citizen_on_a_phone_searches_without_diacritics_and_reads_the_procedure(site, contexts):
    page = contexts.new(phone=True).new_page()

    page.goto("/")
    assert_fits_width(page)
    page.get_by_role("searchbox").fill("dang ky khai sinh")
    page.get_by_role("searchbox").press("Enter")
    page.wait_for_url(re.compile(r"/thu-tuc/\?q=dang"))
    assert_fits_width(page)

    with page.expect_navigation():
        page.get_by_role("link", name=site.birth.name, exact=True).click()
    assert page.url.endswith(f"/thu-tuc/{site.birth.code}/")
    assert_fits_width(page)
    assert page.get_by_role("heading", level=1).inner_text() == site.birth.name

    documents = page.locator("table.documents tbody th[scope=row]").all_inner_texts()
    assert documents == [document.name for document in site.birth.documents.all()]
    assert documents, "the birth registration lists its documents"

    due_line = page.locator(".due-date__line")
    expect_due = compute_due_at(timezone.now(), site.birth.processing_days, cutoff=site.birth.same_day_cutoff)
    assert due_line.is_visible()
    assert "Submit today" in due_line.inner_text()
    assert dateformat.format(timezone.localtime(expect_due), "d/m/Y") in due_line.inner_text()
    screenshot(page, "citizen-procedure-phone-en", full_page=True)
