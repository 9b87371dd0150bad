"""Issue 15 in real browsers: the desk (required documents ask first, the search by phone, the
appointment date before saving, accept and forward), the leader's phone (the decision on the
first 375×667 screen, the error where the finger is, login lands on the approvals), the admin at
1366 px, and the statistics' date pickers. axe-core checks every new or changed page."""

import re

import pytest

from .helpers import assert_fits_width, axe_violations, format_violations, log_in, log_in_with_cookie, screenshot
from .test_accessibility import awaiting_approval

pytestmark = pytest.mark.browser

SMALL_PHONE = {"width": 375, "height": 667}
OFFICE_PC = {"width": 1366, "height": 768}


def expected_400(contexts):
    """Forget the console's report of the 400 a refused form answers (that is the point)."""
    contexts.errors[:] = [e for e in contexts.errors if "status of 400" not in e]


def no_serious_violations(page, axe_source, name):
    violations = axe_violations(page, axe_source)
    assert not violations, f"{name}: axe-core found:\n{format_violations(violations)}"


# --- The leader on a phone -------------------------------------------------------------------


def test_the_leader_decides_on_the_first_phone_screen(site, contexts, axe_source):
    dossier, _pin = awaiting_approval(site)
    page = contexts.new(phone=True, language=None).new_page()
    page.set_viewport_size(SMALL_PHONE)
    log_in(page, site.leader, next_url="")
    assert page.url.endswith("/can-bo/phe-duyet/"), f"a leader lands on the approvals, not {page.url}"
    page.goto(dossier.get_absolute_url())
    approve = page.locator("form.ws-decide__approve button[type=submit]")
    box = approve.bounding_box()
    bottom = box["y"] + box["height"]
    assert bottom <= SMALL_PHONE["height"], f"the approve button ends at {bottom} px"
    assert box["height"] >= 44
    assert_fits_width(page)
    screenshot(page, "approval-phone-first-screen")
    no_serious_violations(page, axe_source, "approval (phone)")

    # "Trả lại" with an empty reason: the error shows where the finger is, without scrolling.
    page.locator("#send-back-comment").evaluate("el => el.removeAttribute('required')")  # a browser without it
    with page.expect_navigation():
        page.locator("form.ws-decide__back button[type=submit]").click()
    error = page.locator("#send-back-error")
    assert error.is_visible()
    top = error.bounding_box()["y"]
    assert 0 <= top <= SMALL_PHONE["height"] - 40, f"the error is at {top} px, off the screen"
    expected_400(contexts)
    screenshot(page, "approval-phone-send-back-error")
    no_serious_violations(page, axe_source, "approval error (phone)")

    page.locator("#send-back-comment").fill("")
    with page.expect_navigation():
        approve.click()
    assert page.url.endswith("/can-bo/phe-duyet/")
    dossier.refresh_from_db()
    assert dossier.status == 9


# --- The desk --------------------------------------------------------------------------------


def test_the_desk_asks_before_accepting_without_a_required_document(site, contexts, axe_source):
    page = contexts.new(language=None).new_page()
    page.set_viewport_size(OFFICE_PC)
    log_in(page, site.reception, next_url=f"/can-bo/tiep-nhan/?procedure={site.birth.code}")
    # The appointment date is shown before saving, refreshed from the due-date API (dd/mm/yyyy).
    preview = page.locator("#due-preview time")
    page.wait_for_load_state("networkidle")
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", preview.inner_text().strip())
    page.locator("#id_applicant_name").fill("Phan Thị Lan")
    page.locator("#id_applicant_phone").fill("0903 111 222")
    page.locator("#id_return_method_1").check()  # by post
    # Only the first document is ticked: the others are required.
    page.locator("input[name=documents]").first.check()
    with page.expect_navigation():
        page.get_by_role("button", name="Tiếp nhận và in biên nhận").click()
    expected_400(contexts)
    confirm = page.locator("#confirm-incomplete")
    assert confirm.is_visible()
    assert "Chưa đánh dấu giấy tờ bắt buộc" in confirm.inner_text()
    assert_fits_width(page)
    screenshot(page, "reception-asks-confirmation", full_page=True)
    no_serious_violations(page, axe_source, "reception with the confirmation")
    from dossiers.models import Dossier

    assert not Dossier.objects.exists()
    page.locator("#id_confirm_incomplete").check()
    page.locator("#id_forward_to").select_option(label=site.specialist.get_full_name())
    with page.expect_navigation():
        page.get_by_role("button", name="Tiếp nhận và in biên nhận").click()
    dossier = Dossier.objects.get()
    assert (dossier.assignee, dossier.return_method) == (site.specialist, "post")
    assert site.specialist.get_full_name() in page.locator(".messages, [role=status], .alert").first.inner_text()


def test_an_officer_finds_a_dossier_by_phone_number(site, contexts, axe_source):
    dossier, _pin = awaiting_approval(site)  # the applicant's phone is 0987654321
    context = contexts.new(language=None)
    log_in_with_cookie(context, site.reception, site.url)
    page = context.new_page()
    page.set_viewport_size(OFFICE_PC)
    page.goto("/can-bo/")
    page.locator("#id_code").fill("0987 654 321")
    with page.expect_navigation():
        page.locator("#id_code").press("Enter")
    row = page.locator("table.ws-table tbody tr")
    assert row.count() == 1
    assert dossier.code in row.inner_text() and "Hoàng Văn Bình" in row.inner_text()
    assert_fits_width(page)
    screenshot(page, "workspace-search-by-phone")
    no_serious_violations(page, axe_source, "search results")
    # Without diacritics, by part of the name.
    page.locator("#id_code").fill("hoang van")
    with page.expect_navigation():
        page.locator("#id_code").press("Enter")
    assert dossier.code in page.locator("table.ws-table").inner_text()


# --- The admin -------------------------------------------------------------------------------


@pytest.fixture
def admin_page(site, contexts):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.get(username="admin")
    context = contexts.new(language=None)
    log_in_with_cookie(context, root, site.url)
    page = context.new_page()
    page.set_viewport_size(OFFICE_PC)
    return page


def test_the_admin_is_vietnamese_and_branded(admin_page, axe_source):
    page = admin_page
    page.goto("/admin/")
    assert "Quản trị Một Cửa" in page.locator("#site-name").inner_text()
    links = page.locator("a.changelink").all_inner_texts()
    assert links and set(links) == {"Thay đổi"}, set(links)
    text = page.locator("#content-main").inner_text()
    for english in ("Tokens", "Access attempts", "TOTP devices", "Knox", "Axes", "Otp_Totp"):
        assert english not in text, english
    assert "Mã truy cập API" in text and "các lần thử đăng nhập" in text.lower()
    screenshot(page, "admin-index")
    no_serious_violations(page, axe_source, "admin index")
    page.goto("/admin/axes/accessattempt/")
    assert "Show counts" not in page.content()
    page.goto("/admin/auth/group/add/")
    options = page.locator("#id_permissions_from option").all_inner_texts()
    assert any("Có thể thêm hồ sơ" in option for option in options), options[:5]
    assert not any("Can add" in option for option in options)


def test_admin_autocomplete_finds_agencies_without_diacritics(admin_page):
    page = admin_page
    url = "/admin/autocomplete/?app_label=procedures&model_name=membership&field_name=agency&term=thai+nguyen"
    response = page.request.get(url)
    assert response.ok
    names = [row["text"] for row in response.json()["results"]]
    assert names and all("Thái Nguyên" in name for name in names), names


def test_the_add_procedure_page_fits_1366_px_and_names_its_autocomplete_fields(admin_page, contexts, axe_source):
    page = admin_page
    page.goto("/admin/procedures/procedure/add/")
    page.wait_for_load_state("networkidle")
    assert_fits_width(page)
    screenshot(page, "admin-add-procedure", full_page=True)
    # select2's combobox (the field, one choice) and search box (the agencies, many) carry the
    # fields' labels: what a screen reader announces, and what axe-core checks.
    field = page.get_by_role("combobox", name=re.compile("lĩnh vực", re.I))
    agencies = page.get_by_role("searchbox", name=re.compile("cơ quan", re.I))
    assert field.count() == 1 and agencies.count() == 1
    agencies.fill("thai nguyen")
    page.locator(".select2-results__option--highlighted", has_text="Thái Nguyên").wait_for()
    page.keyboard.press("Enter")  # chosen with the keyboard; the search box keeps its name
    page.locator(".select2-selection__choice", has_text="Thái Nguyên").wait_for()
    assert page.locator("#id_agencies option:checked").count() == 1
    assert page.get_by_role("searchbox", name=re.compile("cơ quan", re.I)).count() == 1
    no_serious_violations(page, axe_source, "admin add procedure")
    # The "clear all" cross (hidden from screen readers only) still clears them.
    page.locator(".select2-selection--multiple .select2-selection__clear").click()
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('#id_agencies option:checked')")
    # Django's own admin scripts (the calendar and clock shortcuts, select2) set style attributes:
    # the admin's policy allows exactly those (style-src-attr), so the console stays clean.


# --- Statistics ------------------------------------------------------------------------------


def test_statistics_dates_are_dd_mm_yyyy_and_a_reversed_period_says_so(site, contexts, axe_source):
    awaiting_approval(site)
    context = contexts.new(language=None)
    context.add_init_script("Object.defineProperty(navigator, 'language', {get: () => 'en-US'})")
    log_in_with_cookie(context, site.leader, site.url)
    page = context.new_page()
    page.set_viewport_size(OFFICE_PC)
    page.goto("/thong-ke/")
    start = page.locator("#st-from")
    assert start.get_attribute("type") == "text"
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", start.input_value()), start.input_value()
    assert_fits_width(page)
    # The Decision 766 table itself does not scroll sideways at 1366 px either.
    widths = page.evaluate(
        "() => { const t = document.querySelector('table.st-table');"
        " return [t.scrollWidth, t.parentElement.clientWidth]; }"
    )
    assert widths[0] <= widths[1], f"the progress table is {widths[0]} px wide in a {widths[1]} px box"
    screenshot(page, "statistics-1366", full_page=True)
    no_serious_violations(page, axe_source, "statistics")

    page.locator("details.st-filters-box > summary").click()
    page.locator("#st-period").select_option("custom")
    start.fill("20/11/2026")
    page.locator("#st-to").fill("01/11/2026")
    with page.expect_navigation():
        page.locator("#st-to").press("Enter")
    expected_400(contexts)
    error = page.locator("#st-to-error")
    assert "đảo ngược" in error.inner_text(), error.inner_text()
    assert "sau hôm nay" not in page.locator("main").inner_text()
    no_serious_violations(page, axe_source, "statistics with a period error")


def test_the_sms_template_shows_its_length_and_message_count(admin_page, contexts, axe_source):
    page = admin_page
    page.goto("/admin/notifications/notificationtemplate/add/?kind=citizen.received&channel=sms")
    page.locator("#id_channel").select_option("sms")
    counter = page.locator("#sms-counter")
    assert counter.is_visible()
    assert counter.get_attribute("data-encoding") == "gsm7"  # the default SMS text has no diacritics
    assert counter.get_attribute("data-parts") == "1"
    page.locator("#id_body").fill("Hồ sơ đã được tiếp nhận. " * 4)
    assert counter.get_attribute("data-encoding") == "ucs2"
    assert int(counter.get_attribute("data-parts")) >= 2
    assert "UCS-2" in counter.inner_text()
    assert_fits_width(page)
    screenshot(page, "admin-sms-template")
    no_serious_violations(page, axe_source, "admin SMS template")
