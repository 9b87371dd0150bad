"""A citizen signs in with the national account at the sandbox's OIDC provider (real browser,
real HTTP: Authlib's client fetches the discovery document, exchanges the code and checks the
signed ID token on the live server) and sees their own dossiers, never another's."""

import pytest

from dossiers.services import dossier_create

pytestmark = pytest.mark.browser


def test_a_citizen_signs_in_with_the_national_account_and_sees_only_their_dossiers(site, contexts, settings):
    settings.DVCQG_OIDC_ISSUER = f"{site.url}/sandbox/dvcqg/oidc"
    settings.DVCQG_OIDC_CLIENT_ID = "motcua-sandbox"
    settings.DVCQG_OIDC_CLIENT_SECRET = "sandbox-client-secret"
    mine, _pin = dossier_create(
        actor=site.reception, procedure=site.birth, applicant_name="Nguyễn Văn An", applicant_id_number="001090000001"
    )
    theirs, _pin = dossier_create(
        actor=site.reception, procedure=site.birth, applicant_name="Trần Thị Bình", applicant_id_number="001090000002"
    )
    page = contexts.new(phone=True).new_page()
    page.goto("/tra-cuu/")
    with page.expect_navigation():
        page.get_by_role("link", name="Sign in with the national account").click()
    assert "/sandbox/dvcqg/oidc/authorize" in page.url
    page.get_by_label("Nguyễn Văn An — số định danh 001090000001").check()
    page.get_by_label("Mật khẩu").fill("motcua-demo")
    with page.expect_navigation():
        page.get_by_role("button", name="Đăng nhập").click()
    assert page.url.endswith("/cong-dan/ho-so/")
    body = page.locator("main").inner_text()
    assert mine.code in body and theirs.code not in body
    page.get_by_role("link", name=mine.code).click()
    assert mine.code in page.locator("h1").inner_text()
    # Another's dossier, even by its exact code: not found.
    # (requested with the page's cookies, outside the page: a 404 page would log a console error)
    assert page.request.get(f"{site.url}/cong-dan/ho-so/{theirs.code}/").status == 404
    page.goto("/cong-dan/ho-so/")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert page.goto("/cong-dan/ho-so/").url.startswith(f"{site.url}/sandbox/dvcqg/oidc/authorize")
