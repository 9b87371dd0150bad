"""Light citizen pages: a first visit (fresh browser, empty cache, no cookie) of each citizen page
transfers at most 150 KB (HTML, CSS, JS, fonts, images: everything the browser fetched), and
nothing is loaded from anywhere but the site itself (no CDN, font service or tracker)."""

import pytest

from dossiers.services import dossier_create

from .helpers import assert_fits_width

pytestmark = pytest.mark.browser

BUDGET_BYTES = 150 * 1024


def first_visit(contexts, path):
    """Load `path` in a brand-new phone context; returns (page, [(url, transferred bytes)], failed urls)."""
    page = contexts.new(phone=True, language=None).new_page()
    finished, failed = [], []
    page.on("requestfinished", lambda request: finished.append(request))
    page.on("requestfailed", lambda request: failed.append(request.url))
    response = page.goto(path, wait_until="networkidle")
    assert response.ok, f"{path} answered {response.status}"
    transferred = []
    for request in finished:
        sizes = request.sizes()
        transferred.append((request.url, sizes["responseHeadersSize"] + sizes["responseBodySize"]))
    return page, transferred, failed


def test_citizen_pages_are_light_and_load_nothing_from_outside_the_site(site, contexts):
    documents = [{**doc, "received": True} for doc in site.birth.documents.values("name", "originals", "copies")]
    dossier, pin = dossier_create(
        actor=site.reception, procedure=site.birth, applicant_name="Vũ Thị Hạnh", documents=documents
    )
    pages = {
        "home": "/",
        "catalogue": "/thu-tuc/",
        "search": "/thu-tuc/?q=dang+ky+khai+sinh",
        "procedure": f"/thu-tuc/{site.birth.code}/",
        "lookup": "/tra-cuu/",
        "lookup-result": f"/tra-cuu/?ma={dossier.code}&pin={pin}",
    }
    report, heavy = [], []
    for name, path in pages.items():
        page, transferred, failed = first_visit(contexts, path)
        assert_fits_width(page)
        total = sum(size for _url, size in transferred)
        report.append(f"{name}: {total / 1024:.1f} KB in {len(transferred)} requests")
        assert not failed, f"{name}: requests failed: {failed}"
        outside = [url for url, _size in transferred if not url.startswith(site.url + "/")]
        assert not outside, f"{name} loaded from outside the site: {outside}"
        kinds = {url.rsplit("?", 1)[0].rsplit(".", 1)[-1] for url, _size in transferred}
        assert "css" in kinds, f"{name}: the stylesheet was not counted ({transferred})"
        if total > BUDGET_BYTES:
            biggest = sorted(transferred, key=lambda item: -item[1])[:5]
            heavy.append(f"{name} ({path}): {total} bytes > {BUDGET_BYTES}; biggest: {biggest}")
    print("first-visit transfer sizes:\n  " + "\n  ".join(report))
    assert not heavy, "citizen pages over the 150 KB budget:\n" + "\n".join(heavy)
    # `contexts` also fails the test at teardown if any request at all left the site.
