import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import get_template
from django.urls import reverse

from procedures.models import Agency, Field, Procedure, RequiredDocument
from procedures.views import MAX_PAGE, PAGE_SIZE

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
LIST_URL = "/thu-tuc/"


def text_of(response):
    """The page's visible text with tags removed and white space collapsed."""
    html = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html)


def listed_codes(response):
    return [p.code for p in response.context["procedures"]]


def make_procedures(count, field, agency):
    for number in range(count):
        procedure = Procedure.objects.create(
            code=f"8.{number:06d}", name=f"Thủ tục thử nghiệm số {number:03d}", field=field, fee_vnd=1000 * number
        )
        procedure.agencies.add(agency)


# --- Home ----------------------------------------------------------------------------


def test_home_page_has_the_search_box_and_field_links(client, catalogue):
    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'action="/thu-tuc/"' in html
    assert 'name="q"' in html
    assert "?field=HT" in html and "Hộ tịch" in html
    assert "?field=CT" in html and "Chứng thực" in html
    assert 'href="/tra-cuu/"' in html
    assert 'href="/can-bo/"' in html


def test_home_page_is_vietnamese_by_default(client, catalogue):
    response = client.get("/")

    assert '<html lang="vi">' in response.content.decode()
    assert "Trang chủ" in text_of(response)  # "Home", from Django's Vietnamese catalogue


def test_english_is_chosen_with_the_language_cookie(client, catalogue):
    client.cookies["django_language"] = "en"

    response = client.get("/")

    assert '<html lang="en">' in response.content.decode()
    assert "Home" in text_of(response)
    assert "Trang chủ" not in text_of(response)


def test_language_switch_form_sets_the_language(client, catalogue):
    page = client.get("/")
    assert 'action="/i18n/setlang/"' in page.content.decode()

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/thu-tuc/"})

    assert response.status_code == 302
    assert response["Location"] == "/thu-tuc/"
    assert '<html lang="en">' in client.get("/thu-tuc/").content.decode()


def test_header_has_a_skip_link_and_one_local_stylesheet(client, catalogue):
    html = client.get("/").content.decode()

    assert 'href="#main"' in html and 'id="main"' in html
    assert 'name="viewport"' in html
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', html) == ["/static/css/motcua.css"]
    assert "http://" not in html and "https://" not in html


# --- List ----------------------------------------------------------------------------


def test_list_shows_published_procedures_only(client, catalogue):
    catalogue.marriage.published = False
    catalogue.marriage.save()

    response = client.get(LIST_URL)

    assert response.status_code == 200
    assert set(listed_codes(response)) == {"1.001193", "1.001695", "1.004884", "2.000815"}


def test_list_shows_code_field_time_fee_and_service_level(client, catalogue):
    text = text_of(client.get(LIST_URL, {"q": "chứng thực"}))

    assert "2.000815" in text
    assert "Chứng thực bản sao từ bản chính" in text
    assert "Chứng thực" in text
    assert "2.000 đ" in text
    assert str(Procedure.ServiceLevel.NONE.label) in text


def test_list_search_puts_the_best_match_first(client, catalogue):
    response = client.get(LIST_URL, {"q": "dang ky khai sinh"})

    assert listed_codes(response)[0] == "1.001193"
    assert "1.000894" not in listed_codes(response)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"field": "CT"}, {"2.000815"}),
        ({"agency": "000.00.00.H12"}, {"1.001695"}),
        ({"service_level": "full"}, {"1.001193"}),
        ({"q": "khai sinh", "service_level": "partial"}, {"1.001695", "1.004884"}),
        ({"field": "HT", "agency": "000.01.21.H12", "q": "ket hon"}, {"1.000894"}),
    ],
)
def test_list_filters(client, catalogue, params, expected):
    response = client.get(LIST_URL, params)

    assert response.status_code == 200
    assert set(listed_codes(response)) == expected


def test_list_search_without_results_says_so(english_client, catalogue):
    response = english_client.get(LIST_URL, {"q": "giấy phép lái xe"})

    assert response.status_code == 200
    assert listed_codes(response) == []
    assert "No procedure matches your search" in text_of(response)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"field": "NOPE"}, "This field is not in the catalogue."),
        ({"agency": "NOPE"}, "This agency is not in the catalogue."),
        ({"service_level": "half"}, "Unknown online service level."),
    ],
)
def test_list_unknown_filter_value_is_a_readable_400(english_client, catalogue, params, message):
    response = english_client.get(LIST_URL, params)

    assert response.status_code == 400
    assert message in text_of(response)


def test_list_too_long_search_text_is_a_readable_400(english_client, catalogue):
    response = english_client.get(LIST_URL, {"q": "khai sinh " * 1000})

    assert response.status_code == 400
    assert "The search text is too long: use at most 200 characters." in text_of(response)


@pytest.mark.parametrize(
    ("page", "message"),
    [
        ("abc", "The page number must be a whole number."),
        ("1.5", "The page number must be a whole number."),
        ("0", "The page number must be at least 1."),
        ("-3", "The page number must be at least 1."),
        (str(10**9), f"The page number must be at most {MAX_PAGE}."),
        ("9" * 400, f"The page number must be at most {MAX_PAGE}."),
    ],
)
def test_list_bad_page_number_is_a_readable_400(english_client, catalogue, page, message):
    response = english_client.get(LIST_URL, {"page": page})

    assert response.status_code == 400
    assert message in text_of(response)


def test_list_page_past_the_end_is_empty_not_an_error(english_client, catalogue):
    response = english_client.get(LIST_URL, {"page": MAX_PAGE})

    assert response.status_code == 200
    assert listed_codes(response) == []
    assert "There are no more results." in text_of(response)


def test_list_pages_with_previous_and_next_links(client, catalogue):
    make_procedures(PAGE_SIZE + 5, catalogue.civil_status, catalogue.commune)  # 4 + 25 in the field
    all_codes = list(Procedure.objects.order_by("name_sort").values_list("code", flat=True))

    first = client.get(LIST_URL, {"field": "HT"})
    second = client.get(LIST_URL, {"field": "HT", "page": 2})

    assert listed_codes(first) == [c for c in all_codes if c != "2.000815"][:PAGE_SIZE]
    assert listed_codes(second) == [c for c in all_codes if c != "2.000815"][PAGE_SIZE:]
    assert 'rel="next" href="?field=HT&amp;page=2"' in first.content.decode()
    assert 'rel="prev"' not in first.content.decode()
    assert 'rel="prev" href="?field=HT&amp;page=1"' in second.content.decode()
    assert 'rel="next"' not in second.content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_list_runs_a_constant_number_of_queries(client, catalogue, django_assert_num_queries, count):
    make_procedures(count, catalogue.civil_status, catalogue.commune)

    client.get(LIST_URL, {"q": "khai sinh"})  # the first search after a change reads the catalogue

    # Fields for the filter, agencies for the filter, one page of procedures (and the result
    # count when there is more than a page).
    with django_assert_num_queries(3 if count < PAGE_SIZE else 4):
        response = client.get(LIST_URL, {"q": "thu nghiem"})

    assert len(listed_codes(response)) == min(count, PAGE_SIZE)


def test_list_of_a_field_lists_only_that_fields_procedures(client, catalogue):
    other = Field.objects.create(code="DD", name="Đất đai")
    Procedure.objects.create(code="1.999999", name="Đăng ký đất đai lần đầu", field=other)

    response = client.get(LIST_URL, {"field": "DD"})

    assert listed_codes(response) == ["1.999999"]


# --- Detail --------------------------------------------------------------------------


def test_detail_shows_every_published_section(client, catalogue):
    response = client.get(reverse("procedures:detail", args=["1.001193"]))

    assert response.status_code == 200
    text = text_of(response)
    for expected in [
        "Đăng ký khai sinh",
        "1.001193",
        "Hộ tịch",
        "UBND xã Mường Phăng",
        "Ngay trong ngày làm việc",  # processing time as published
        "Miễn lệ phí đăng ký khai sinh đúng hạn.",
        "Nộp hồ sơ tại Bộ phận Một cửa UBND xã.",
        "Tờ khai đăng ký khai sinh theo mẫu",
        "Giấy chứng sinh",
        "Hoặc văn bản thay thế.",
        "Giấy khai sinh (bản chính).",
        "Luật Hộ tịch số 60/2014/QH13.",
        "Quyết định 1872/QĐ-BTP",
    ]:
        assert expected in text, expected


def test_detail_formats_the_fee_in_dong(client, catalogue):
    text = text_of(client.get(reverse("procedures:detail", args=["1.001695"])))

    assert "75.000 đ" in text


def test_detail_fee_in_english(client, catalogue):
    client.cookies["django_language"] = "en"

    text = text_of(client.get(reverse("procedures:detail", args=["1.001695"])))

    assert "VND 75,000" in text


@pytest.mark.parametrize(
    ("code", "now", "expected"),
    [
        # 1 working day from Monday morning: Tuesday morning (same half of the day).
        ("1.001193", datetime(2025, 12, 1, 9, 0, tzinfo=HCM), "Thứ 3 02/12/2025"),
        # Same-day certification before the 15:00 cut-off: today.
        ("2.000815", datetime(2025, 12, 1, 14, 0, tzinfo=HCM), "Thứ 2 01/12/2025"),
        # After the cut-off: the next working day.
        ("2.000815", datetime(2025, 12, 1, 16, 0, tzinfo=HCM), "Thứ 3 02/12/2025"),
        # Friday after the cut-off: Monday.
        ("2.000815", datetime(2025, 12, 5, 15, 30, tzinfo=HCM), "Thứ 2 08/12/2025"),
        # Before the 2 September holidays (Mon 1 and Tue 2 September 2025 are off).
        ("1.001695", datetime(2025, 8, 29, 9, 0, tzinfo=HCM), "Thứ 6 05/09/2025"),
    ],
)
def test_detail_shows_the_due_date_if_submitted_today(client, catalogue, code, now, expected):
    with time_machine.travel(now, tick=False):
        response = client.get(reverse("procedures:detail", args=[code]))

    text = text_of(response)
    line = re.search(r"Nộp hôm nay — ngày hẹn trả dự kiến: ([^()]+\([^)]+\))", text)
    assert line, text
    assert line.group(1).startswith(expected)


def test_detail_due_date_names_the_half_of_the_day(client, catalogue):
    client.cookies["django_language"] = "en"
    with time_machine.travel(datetime(2025, 12, 1, 9, 0, tzinfo=HCM), tick=False):
        morning = text_of(client.get(reverse("procedures:detail", args=["1.001193"])))
    with time_machine.travel(datetime(2025, 12, 1, 14, 0, tzinfo=HCM), tick=False):
        afternoon = text_of(client.get(reverse("procedures:detail", args=["1.001193"])))

    assert "expected result date: Tuesday 02/12/2025 (morning)" in morning
    assert "expected result date: Tuesday 02/12/2025 (afternoon)" in afternoon


def test_detail_of_an_unknown_code_is_a_friendly_404(client, catalogue):
    response = client.get("/thu-tuc/9.999999/")

    assert response.status_code == 404
    assert 'action="/thu-tuc/"' in response.content.decode()  # the 404 page offers a search


@pytest.mark.parametrize("change", [{"published": False}, {"effective_to": "2000-01-01"}])
def test_detail_of_an_unpublished_procedure_is_404(client, catalogue, change):
    Procedure.objects.filter(pk=catalogue.marriage.pk).update(**change)

    assert client.get(reverse("procedures:detail", args=["1.000894"])).status_code == 404


def test_detail_runs_a_constant_number_of_queries(client, catalogue, django_assert_num_queries):
    small, large = catalogue.birth_again, catalogue.birth
    for number in range(10):
        RequiredDocument.objects.create(procedure=large, name=f"Giấy tờ {number}")
        large.agencies.add(Agency.objects.create(code=f"A{number}", name=f"Cơ quan {number}"))

    # Procedure + field, agencies, documents, calendar overrides.
    with django_assert_num_queries(4):
        client.get(reverse("procedures:detail", args=[small.code]))
    with django_assert_num_queries(4):
        response = client.get(reverse("procedures:detail", args=[large.code]))
    assert "Cơ quan 9" in text_of(response)


def test_form_template_can_be_downloaded(client, catalogue):
    document = RequiredDocument.objects.create(
        procedure=catalogue.birth,
        name="Tờ khai",
        template=SimpleUploadedFile("to-khai-khai-sinh.docx", b"form bytes"),
    )
    detail = client.get(reverse("procedures:detail", args=["1.001193"])).content.decode()
    url = reverse("procedures:document-template", args=["1.001193", document.pk])
    assert f'href="{url}"' in detail

    response = client.get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"form bytes"
    assert "attachment" in response["Content-Disposition"]


def test_form_template_download_refuses_missing_or_mismatched_documents(client, catalogue):
    without_template = RequiredDocument.objects.create(procedure=catalogue.birth, name="Giấy tờ")
    other = RequiredDocument.objects.create(
        procedure=catalogue.marriage, name="Tờ khai", template=SimpleUploadedFile("a.pdf", b"x")
    )

    assert (
        client.get(reverse("procedures:document-template", args=["1.001193", without_template.pk])).status_code == 404
    )
    assert client.get(reverse("procedures:document-template", args=["1.001193", other.pk])).status_code == 404


# --- Other templates -----------------------------------------------------------------


def test_login_page_is_vietnamese(client, db):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    text = text_of(response)
    assert "Đăng nhập" in text
    assert "Tên đăng nhập" in text and "Mật khẩu" in text


def test_failed_login_shows_the_error(client, django_user_model):
    django_user_model.objects.create_user("tiepnhan", password="right-password")

    response = client.post(reverse("login"), {"username": "tiepnhan", "password": "wrong"})

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_server_error_page_renders_without_a_request():
    html = get_template("500.html").render()

    assert "Server error" in html or "Lỗi máy chủ" in html
    assert "/static/css/motcua.css" in html


@pytest.mark.parametrize("name", ["400.html", "403.html", "404.html"])
def test_error_pages_extend_the_base_template(rf, name):
    html = get_template(name).render({}, rf.get("/"))

    assert "/static/css/motcua.css" in html
    assert 'id="main"' in html


def test_stylesheet_is_small_and_self_contained(settings):
    css = (settings.BASE_DIR / "static" / "css" / "motcua.css").read_text()

    assert len(css.encode()) < 20_000
    assert "@import" not in css and "url(" not in css


@pytest.mark.parametrize("days", [Decimal("0"), Decimal("0.5"), Decimal("1.5"), Decimal("15")])
def test_processing_time_is_shown_in_working_days(client, catalogue, days):
    client.cookies["django_language"] = "en"
    Procedure.objects.filter(pk=catalogue.marriage.pk).update(processing_days=days)

    text = text_of(client.get(reverse("procedures:detail", args=["1.000894"])))

    expected = {
        "0": "Same working day",
        "0.5": "Half a working day",
        "1.5": "1.5 working days",
        "15": "15 working days",
    }
    assert expected[str(days)] in text


@pytest.mark.parametrize("params", [{"q": "khai\x00sinh"}, {"field": "\x00"}, {"agency": "\x00"}])
def test_list_null_characters_are_a_400(client, catalogue, params):
    assert client.get(LIST_URL, params).status_code == 400


def test_detail_with_a_null_character_in_the_code_is_a_readable_400(client, catalogue):
    # Refused before routing (motcua.middleware.RequestGuardMiddleware, issue 13).
    assert client.get("/thu-tuc/1.001193%00/").status_code == 400


def test_home_lists_fields_in_vietnamese_alphabetical_order(client, catalogue):
    from procedures.models import Field

    for number, (code, name) in enumerate((("DD", "Đất đai"), ("TS", "Thủy sản"), ("DT", "Dân tộc"))):
        field = Field.objects.create(code=code, name=name)
        Procedure.objects.create(code=f"7.{number}", name=f"Thủ tục {name}", field=field)

    page = text_of(client.get("/"))
    positions = [page.index(name) for name in ("Chứng thực", "Dân tộc", "Đất đai", "Hộ tịch", "Thủy sản")]

    assert positions == sorted(positions)


def test_list_without_search_is_in_vietnamese_alphabetical_order(client, catalogue):
    Procedure.objects.create(code="7.1", name="Gia hạn tạm trú", field=catalogue.civil_status)

    listed = listed_codes(client.get(LIST_URL))

    # Chứng thực …, Đăng ký …, Gia hạn …: "Đ" between "D" and "E", not after "Z".
    assert listed[0] == "2.000815" and listed[-1] == "7.1"


def test_list_search_says_how_many_were_found(client, catalogue):
    page = text_of(client.get(LIST_URL, {"q": "khai sinh"}))

    assert "Tìm thấy 3 thủ tục" in page


def test_list_offers_did_you_mean_for_a_misspelled_search(client, catalogue):
    response = client.get(LIST_URL, {"q": "ket hun"})
    html = response.content.decode()

    assert "Có phải bạn muốn tìm:" in text_of(response)
    assert 'href="?q=ket+h%C3%B4n"' in html
