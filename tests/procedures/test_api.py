from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from rest_framework.test import APIClient

from procedures.models import Procedure

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
PROCEDURES = "/api/v1/procedures/"


@pytest.fixture
def api():
    return APIClient()


def codes(response):
    return [item["code"] for item in response.json()["results"]]


# --- List, filters and search -------------------------------------------------------------


def test_list_is_compact_and_paginated(api, catalogue):
    response = api.get(PROCEDURES)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    birth = next(item for item in body["results"] if item["code"] == "1.001193")
    assert birth == {
        "code": "1.001193",
        "name": "Đăng ký khai sinh",
        "field": {"code": "HT", "name": "Hộ tịch"},
        "level": "commune",
        "service_level": "full",
        "processing_days": 1.0,
        "fee_vnd": 0,
        "url": "http://testserver/api/v1/procedures/1.001193/",
    }


def test_list_hides_unpublished_procedures(api, catalogue):
    Procedure.objects.filter(pk=catalogue.marriage.pk).update(published=False)

    assert "1.000894" not in codes(api.get(PROCEDURES))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"field": "CT"}, {"2.000815"}),
        ({"field": "NOPE"}, set()),
        ({"agency": "000.00.00.H12"}, {"1.001695"}),
        ({"service_level": "full"}, {"1.001193"}),
        ({"search": "khai sinh", "service_level": "partial"}, {"1.001695", "1.004884"}),
    ],
)
def test_list_filters(api, catalogue, params, expected):
    response = api.get(PROCEDURES, params)

    assert response.status_code == 200
    assert set(codes(response)) == expected


@pytest.mark.parametrize("query", ["dang ky khai sinh", "Đăng ký khai sinh", "DANG KY KHAI SINH", "1.001193"])
def test_search_ranks_birth_registration_first(api, catalogue, query):
    assert codes(api.get(PROCEDURES, {"search": query}))[0] == "1.001193"


def test_search_orders_by_relevance(api, catalogue):
    assert codes(api.get(PROCEDURES, {"search": "khai sinh"})) == ["1.001193", "1.004884", "1.001695"]


def test_too_long_search_is_a_400_with_detail(api, catalogue):
    api.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = api.get(PROCEDURES, {"search": "x" * 10_000})

    assert response.status_code == 400
    assert response.json() == {"detail": "The search text is too long: use at most 200 characters."}


def test_unknown_service_level_is_a_400(api, catalogue):
    response = api.get(PROCEDURES, {"service_level": "half"})

    assert response.status_code == 400
    assert list(response.json()) == ["service_level"]


@pytest.mark.parametrize("page", ["abc", "0", "99999999", "-1"])
def test_bad_page_number_is_a_json_404(api, catalogue, page):
    response = api.get(PROCEDURES, {"page": page})

    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("count", [3, 30])
def test_list_runs_a_constant_number_of_queries(api, catalogue, django_assert_num_queries, count):
    for number in range(count):
        Procedure.objects.create(code=f"8.{number:06d}", name=f"Thủ tục {number}", field=catalogue.civil_status)

    api.get(PROCEDURES, {"search": "khai sinh"})  # the first search after a change reads the catalogue
    with django_assert_num_queries(2):  # count + one page with fields
        response = api.get(PROCEDURES, {"search": "thu tuc"})

    assert response.json()["count"] == count


# --- Detail -----------------------------------------------------------------------------------


def test_detail_includes_documents_and_workflow(api, catalogue):
    response = api.get(f"{PROCEDURES}1.001193/")

    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "1.001193"
    assert body["web_url"] == "http://testserver/thu-tuc/1.001193/"
    assert body["agencies"] == [{"code": "000.01.21.H12", "name": "UBND xã Mường Phăng"}]
    assert [d["name"] for d in body["documents"]] == ["Tờ khai đăng ký khai sinh theo mẫu", "Giấy chứng sinh"]
    assert body["documents"][1] == {
        "position": 2,
        "name": "Giấy chứng sinh",
        "originals": 1,
        "copies": 0,
        "note": "Hoặc văn bản thay thế.",
        "template_url": None,
    }
    assert [(s["name"], s["role"], s["time_share"]) for s in body["workflow_steps"]] == [
        ("Tiếp nhận hồ sơ", "reception", 10),
        ("Thẩm định", "specialist", 60),
        ("Phê duyệt", "leader", 20),
        ("Trả kết quả", "reception", 10),
    ]
    assert body["legal_basis"] == "Luật Hộ tịch số 60/2014/QH13."


def test_detail_shows_the_same_day_cutoff(api, catalogue):
    assert api.get(f"{PROCEDURES}2.000815/").json()["same_day_cutoff"] == "15:00:00"


@pytest.mark.parametrize("code", ["9.999999", "1.000894"])
def test_unknown_or_unpublished_procedure_is_a_json_404(api, catalogue, code):
    Procedure.objects.filter(pk=catalogue.marriage.pk).update(published=False)

    response = api.get(f"{PROCEDURES}{code}/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


# --- Due date ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "received_at", "expected"),
    [
        ("1.001193", "2025-12-01T09:00:00+07:00", "2025-12-02T11:30:00+07:00"),
        ("1.001193", "2025-12-01T14:00:00+07:00", "2025-12-02T17:00:00+07:00"),
        ("1.001193", "2025-12-01T02:00:00Z", "2025-12-02T11:30:00+07:00"),
        ("2.000815", "2025-12-01T14:59:00+07:00", "2025-12-01T17:00:00+07:00"),
        ("2.000815", "2025-12-01T16:00:00+07:00", "2025-12-02T17:00:00+07:00"),
    ],
)
def test_due_date(api, catalogue, code, received_at, expected):
    response = api.get(f"{PROCEDURES}{code}/due-date/", {"received_at": received_at})

    assert response.status_code == 200
    assert response.json()["due_at"] == expected


def test_due_date_echoes_received_at_in_local_time(api, catalogue):
    body = api.get(f"{PROCEDURES}1.001193/due-date/", {"received_at": "2025-12-01T02:00:00Z"}).json()

    assert body["received_at"] == "2025-12-01T09:00:00+07:00"


def test_naive_received_at_is_vietnam_time(api, catalogue):
    body = api.get(f"{PROCEDURES}1.001193/due-date/", {"received_at": "2025-12-01T09:00:00"}).json()

    assert body == {"received_at": "2025-12-01T09:00:00+07:00", "due_at": "2025-12-02T11:30:00+07:00"}


def test_unescaped_plus_in_the_offset_is_understood(api, catalogue):
    response = api.get(f"{PROCEDURES}1.001193/due-date/?received_at=2025-12-01T09:00:00+07:00")

    assert response.status_code == 200
    assert response.json()["received_at"] == "2025-12-01T09:00:00+07:00"


@pytest.mark.parametrize("query", ["", "?received_at="])
def test_due_date_defaults_to_now(api, catalogue, query):
    with time_machine.travel(datetime(2025, 12, 1, 16, 0, tzinfo=HCM), tick=False):
        response = api.get(f"{PROCEDURES}2.000815/due-date/{query}")

    assert response.json() == {"received_at": "2025-12-01T16:00:00+07:00", "due_at": "2025-12-02T17:00:00+07:00"}


@pytest.mark.parametrize(
    "value", ["yesterday", "2025-13-01T09:00", "01/12/2025 09:00", "0001-01-01T00:00:00", "9999-12-31T23:59"]
)
def test_malformed_received_at_is_a_readable_400(api, catalogue, value):
    response = api.get(f"{PROCEDURES}1.001193/due-date/", {"received_at": value})

    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["received_at"]
    assert isinstance(body["received_at"][0], str) and body["received_at"][0]


def test_due_date_of_an_unknown_procedure_is_a_json_404(api, catalogue):
    response = api.get(f"{PROCEDURES}9.999999/due-date/")

    assert response.status_code == 404
    assert "detail" in response.json()


# --- Agencies, fields, schema -------------------------------------------------------------------


def test_agencies_and_fields(api, catalogue):
    agencies = api.get("/api/v1/agencies/").json()["results"]
    fields = api.get("/api/v1/fields/").json()["results"]

    assert [a["code"] for a in agencies] == ["000.00.00.H12", "000.01.21.H12"]
    assert agencies[1]["parent"] == "000.00.00.H12"
    assert fields == [{"code": "CT", "name": "Chứng thực"}, {"code": "HT", "name": "Hộ tịch"}]
    assert api.get("/api/v1/agencies/000.01.21.H12/").json()["name"] == "UBND xã Mường Phăng"
    assert api.get("/api/v1/fields/HT/").status_code == 200


def test_catalogue_api_is_read_only(api, catalogue):
    assert api.post(PROCEDURES, {"code": "x"}).status_code in (401, 403, 405)
    assert api.delete(f"{PROCEDURES}1.001193/").status_code in (401, 403, 405)
    assert Procedure.objects.filter(code="1.001193").exists()


def test_schema_documents_the_catalogue(api, db):
    response = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/procedures/{code}/due-date/" in paths
    parameters = {p["name"] for p in paths["/api/v1/procedures/"]["get"]["parameters"]}
    assert {"search", "field", "agency", "service_level", "page"} <= parameters


def test_api_docs_page(client, db):
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.parametrize("params", [{"search": "khai\x00sinh"}, {"field": "\x00"}, {"agency": "\x00"}])
def test_null_characters_in_filters_are_a_400(api, catalogue, params):
    assert api.get(PROCEDURES, params).status_code == 400


@pytest.mark.parametrize(
    "url",
    [f"{PROCEDURES}1.001193%00/", f"{PROCEDURES}1.001193%00/due-date/", "/api/v1/agencies/%00/", "/api/v1/fields/%00/"],
)
def test_null_character_in_a_lookup_is_a_400(api, catalogue, url):
    # Refused before routing, with a readable message (motcua.middleware.RequestGuardMiddleware, issue 13).
    response = api.get(url)
    assert response.status_code == 400 and response.json()["detail"]


def test_a_search_scans_once_and_pages_keep_the_rank_order(api, db, django_assert_num_queries):
    """The ranked search runs once per request (ids, then the page's rows by primary key): no
    COUNT(*) repeating it, and page 2 continues page 1 in rank order."""
    from tests.factories import make_procedure

    for index in range(25):
        make_procedure(code=f"9.{index:06d}", name=f"Cấp giấy phép số {index} " + "mở rộng " * (index % 7))
    make_procedure(code="9.100000", name="Cấp giấy phép")
    api.get(PROCEDURES, {"search": "khai sinh"})  # the first search after a change reads the catalogue
    with django_assert_num_queries(2) as captured:
        first = api.get(PROCEDURES, {"search": "cap giay phep"})
    assert not any("COUNT(" in query["sql"] for query in captured.captured_queries)
    second = api.get(PROCEDURES, {"search": "cap giay phep", "page": 2})
    assert first.json()["count"] == second.json()["count"] == 26
    ranked = list(Procedure.objects.published().filter(search_folded__contains="cap giay phep"))
    ranked.sort(key=lambda procedure: (len(procedure.name), procedure.name, procedure.pk))
    assert codes(first) + codes(second) == [procedure.code for procedure in ranked]
    assert codes(first)[0] == "9.100000"
