"""The citizen lookup (GET /api/v1/lookup/ and the page /tra-cuu/): code + PIN, nothing without
the right PIN, no personal data beyond a masked name, and a per-address throttle that holds under
concurrent requests."""

import json
import random
import threading
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection, connections
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from dossiers import lookup as lookup_module
from dossiers import throttle
from dossiers.api.serializers import LookupQuerySerializer
from dossiers.models import ThrottleCounter
from tests.factories import Office, vn

MONDAY_9 = vn(2026, 3, 2, 9, 0)  # Monday 2 March 2026 (a 15-minute window starts at 09:00)
API = "/api/v1/lookup/"
PAGE = "/tra-cuu/"


@pytest.fixture
def frozen():
    with time_machine.travel(MONDAY_9, tick=False) as traveller:
        yield traveller


@pytest.fixture
def office(db):
    return Office(code="H56.33")


@pytest.fixture
def english(client):
    """The visitor of `client` chose English with the language switch (Accept-Language is ignored)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def wrong(pin):
    return "000000" if pin != "000000" else "111111"


def lookup(client, code, pin, **extra):
    return client.get(API, {"code": code, "pin": pin}, **extra)


# --- What the citizen sees ----------------------------------------------------------------------------


def test_the_right_code_and_pin_show_status_procedure_dates_and_a_masked_name(client, office, frozen):
    dossier, pin = office.receive()
    response = lookup(client, dossier.code, pin)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == dossier.code
    assert body["status"] == 2 and body["status_label"] and body["status_text"]
    assert body["procedure"] == {"code": office.procedure.code, "name": office.procedure.name}
    assert body["applicant"] == "N***** V** An"
    assert body["received_at"] and body["due_at"]
    assert body["finished_at"] is None and body["returned_at"] is None
    assert body["returning_agency"]["name"] == office.agency.name
    assert [entry["at"] for entry in body["timeline"]] == [body["received_at"]]
    assert response["Cache-Control"] == "no-store"


def test_the_answer_carries_no_personal_data_officer_names_or_internal_comments(client, office, frozen):
    dossier, pin = office.receive()
    office.act(dossier, "assign", comment="Ghi chú nội bộ: chuyển anh Tuấn")
    dossier = office.act(dossier, "propose_result", result="Cấp giấy khai sinh")
    office.act(dossier, "send_back", comment="Sai ngày sinh, kiểm tra lại nội bộ")
    content = lookup(client, dossier.code, pin).content.decode()
    for secret in (
        "Nguyễn Văn An",
        "001099012345",
        "0912345678",
        "an@example.com",
        "Thôn 1",
        office.reception.username,
        office.specialist.username,
        office.leader.username,
        "nội bộ",
        "Cấp giấy khai sinh",
    ):
        assert secret not in content


def test_a_wrong_pin_and_an_unknown_code_get_the_same_404(client, office, english):
    dossier, pin = office.receive()
    wrong_pin = lookup(client, dossier.code, wrong(pin))
    unknown = lookup(client, "H56.33-260302-9999", pin)
    assert wrong_pin.status_code == unknown.status_code == 404
    assert wrong_pin.content == unknown.content
    assert wrong_pin.json() == {"detail": "No dossier matches this code and PIN."}


def test_missing_code_or_pin_is_a_400_and_is_not_counted(client, office):
    assert client.get(API).status_code == 400
    assert client.get(API, {"code": "X"}).status_code == 400
    assert not ThrottleCounter.objects.exists()


def test_a_supplement_request_tells_what_to_bring(client, office, frozen):
    dossier, pin = office.receive(missing_documents=["Giấy chứng sinh (bản chính)", "Bản sao CCCD của mẹ"])
    body = lookup(client, dossier.code, pin).json()
    assert body["status"] == 5
    assert body["missing_documents"] == ["Giấy chứng sinh (bản chính)", "Bản sao CCCD của mẹ"]
    assert body["timeline"][0]["details"] == body["missing_documents"]


def test_the_timeline_explains_each_step_and_gives_a_refusals_reason(client, office, frozen):
    dossier, pin = office.receive()
    office.act(dossier, "assign")
    frozen.shift(timedelta(hours=1))
    office.act(dossier, "refuse", comment="Người yêu cầu không đủ điều kiện đăng ký")
    body = lookup(client, dossier.code, pin).json()
    assert body["status"] == 3
    assert len(body["timeline"]) == 3
    assert all(entry["text"] for entry in body["timeline"])
    assert body["timeline"][-1]["details"] == ["Người yêu cầu không đủ điều kiện đăng ký"]
    assert body["finished_at"]


# --- Throttling -------------------------------------------------------------------------------------


def test_after_ten_failures_even_the_right_pin_gets_429_with_retry_after(client, office, frozen, english, settings):
    settings.LOOKUP_CODE_MAX_FAILURES = 100  # this test is about the address (the code: tests/security)
    dossier, pin = office.receive()
    for _ in range(10):
        assert lookup(client, dossier.code, wrong(pin)).status_code == 404
    response = lookup(client, dossier.code, pin)
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "Too many unsuccessful lookups" in response.json()["detail"]
    # Another address is not affected.
    assert lookup(client, dossier.code, pin, REMOTE_ADDR="203.0.113.9").status_code == 200
    # The window slides (issue 13): right after the fixed window's end the failures still count...
    frozen.shift(timedelta(minutes=15))
    assert lookup(client, dossier.code, pin).status_code == 429
    # ...and once it has slid past them the client starts afresh; windows no estimate reads are deleted.
    frozen.shift(timedelta(minutes=30))
    assert lookup(client, dossier.code, pin).status_code == 200
    assert not ThrottleCounter.objects.filter(window_start__lt=MONDAY_9).exists()


def test_retry_after_counts_down_to_the_end_of_the_window(client, office, settings, frozen):
    settings.LOOKUP_MAX_FAILURES = 1
    dossier, pin = office.receive()
    lookup(client, dossier.code, wrong(pin))
    frozen.shift(timedelta(minutes=10, seconds=30))
    assert lookup(client, dossier.code, pin)["Retry-After"] == str(4 * 60 + 30)


def test_successful_lookups_do_not_count(client, office, settings, frozen):
    settings.LOOKUP_MAX_FAILURES = 3
    dossier, pin = office.receive()
    for _ in range(10):
        assert lookup(client, dossier.code, pin).status_code == 200
    for _ in range(3):
        assert lookup(client, dossier.code, wrong(pin)).status_code == 404
    assert lookup(client, dossier.code, pin).status_code == 429


def test_the_limit_and_window_come_from_settings(client, office, settings, frozen):
    settings.LOOKUP_MAX_FAILURES = 2
    settings.LOOKUP_WINDOW_SECONDS = 60
    dossier, pin = office.receive()
    lookup(client, dossier.code, wrong(pin))
    lookup(client, dossier.code, wrong(pin))
    response = lookup(client, dossier.code, pin)
    assert response.status_code == 429 and response["Retry-After"] == "60"
    frozen.shift(timedelta(seconds=120))  # the sliding window has passed both windows' failures
    assert lookup(client, dossier.code, pin).status_code == 200


def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(client, office, settings, frozen):
    settings.LOOKUP_MAX_FAILURES = 2
    dossier, pin = office.receive()
    for n in range(2):
        lookup(client, dossier.code, wrong(pin), HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    # Rotating a forged header does not escape the limit…
    assert lookup(client, dossier.code, pin, HTTP_X_FORWARDED_FOR="198.51.100.77").status_code == 429
    # …but behind one trusted proxy the address it appended is the client.
    settings.TRUSTED_PROXY_COUNT = 1
    forwarded = "10.9.9.9, 198.51.100.5"
    assert lookup(client, dossier.code, pin, HTTP_X_FORWARDED_FOR=forwarded).status_code == 200
    for _ in range(2):
        lookup(client, dossier.code, wrong(pin), HTTP_X_FORWARDED_FOR=forwarded)
    assert lookup(client, dossier.code, pin, HTTP_X_FORWARDED_FOR=forwarded).status_code == 429
    assert lookup(client, dossier.code, pin, HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.6").status_code == 200


def test_ipv6_clients_are_counted_per_64_network(rf):
    first = rf.get("/", REMOTE_ADDR="2001:db8:1:2::1")
    second = rf.get("/", REMOTE_ADDR="2001:db8:1:2:ffff::9")
    other = rf.get("/", REMOTE_ADDR="2001:db8:1:3::1")
    assert throttle.client_key(first) == throttle.client_key(second) == "lookup:2001:db8:1:2::/64"
    assert throttle.client_key(other) != throttle.client_key(first)
    assert throttle.client_key(rf.get("/", REMOTE_ADDR="::ffff:192.0.2.1")) == "lookup:192.0.2.1"


def test_the_page_and_the_api_share_the_counter(client, office, settings, frozen):
    settings.LOOKUP_MAX_FAILURES = 2
    dossier, pin = office.receive()
    client.get(PAGE, {"ma": dossier.code, "pin": wrong(pin)})
    lookup(client, dossier.code, wrong(pin))
    assert lookup(client, dossier.code, pin).status_code == 429
    assert client.get(PAGE, {"ma": dossier.code, "pin": pin}).status_code == 429


postgres_only = pytest.mark.skipif(
    connection.vendor == "sqlite", reason="concurrent writers need PostgreSQL (SQLite serialises the whole file)"
)


def hammer(count, make_request):
    """Run `count` requests at once from as many threads; returns their status codes."""
    barrier = threading.Barrier(count)
    statuses = []
    lock = threading.Lock()

    def run():
        try:
            barrier.wait()
            status = make_request()
            with lock:
                statuses.append(status)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_thirty_concurrent_failures_are_all_counted(settings):
    settings.LOOKUP_MAX_FAILURES = 1000
    settings.LOOKUP_CODE_MAX_FAILURES = 1000  # the per-code lock (security round 2) is tested elsewhere
    office = Office(code="H56.35")
    dossier, pin = office.receive()
    with time_machine.travel(MONDAY_9, tick=False):
        statuses = hammer(30, lambda: Client().get(API, {"code": dossier.code, "pin": wrong(pin)}).status_code)
    assert statuses == [404] * 30
    assert ThrottleCounter.objects.get(key="lookup:127.0.0.1").count == 30


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_burst_of_concurrent_guesses_gets_no_more_than_the_limit_through():
    office = Office(code="H56.36")
    dossier, pin = office.receive()
    with time_machine.travel(MONDAY_9, tick=False):
        statuses = hammer(30, lambda: Client().get(API, {"code": dossier.code, "pin": wrong(pin)}).status_code)
    assert sorted(statuses) == [404] * 10 + [429] * 20


# --- The page ----------------------------------------------------------------------------------------


def test_the_page_shows_a_form_with_labels_and_a_numeric_pin_field(client, db, english):
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="lookup-code">' in html and '<label for="lookup-pin">' in html
    assert 'name="ma"' in html and 'name="pin"' in html
    assert 'inputmode="numeric"' in html and 'autocomplete="off"' in html
    assert not ThrottleCounter.objects.exists()


def test_the_receipt_qr_link_shows_the_status_directly(client, office, frozen, english):
    dossier, pin = office.receive(now=MONDAY_9)
    response = client.get(PAGE, {"ma": dossier.code, "pin": pin})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Received, waiting to be processed" in html
    assert dossier.code in html
    assert office.procedure.name in html
    assert "N***** V** An" in html and "Nguyễn Văn An" not in html
    assert "02/03/2026" in html and "morning" in html
    assert response["Referrer-Policy"] == "strict-origin"  # the origin only: never the PIN in the URL
    assert "no-store" in response["Cache-Control"]


def test_the_page_lists_what_to_bring_for_a_supplement(client, office, frozen):
    dossier, pin = office.receive(missing_documents=["Giấy chứng sinh (bản chính)"])
    html = client.get(PAGE, {"ma": dossier.code, "pin": pin}).content.decode()
    assert "Giấy chứng sinh (bản chính)" in html


def test_the_page_gives_one_generic_message_for_a_wrong_pin_or_an_unknown_code(client, office, english):
    dossier, pin = office.receive()
    code = dossier.code
    wrong_pin = client.get(PAGE, {"ma": code, "pin": wrong(pin)})
    unknown = client.get(PAGE, {"ma": code[:-1] + ("8" if code[-1] != "8" else "9"), "pin": pin})
    assert wrong_pin.status_code == unknown.status_code == 404
    for response in (wrong_pin, unknown):
        assert "No dossier matches this code and PIN." in response.content.decode()
        assert "Received, waiting" not in response.content.decode()


def test_the_page_asks_for_both_fields(client, office, english):
    response = client.get(PAGE, {"ma": "H56.33-260302-0001"})
    assert response.status_code == 200
    assert "Enter both the dossier code and the PIN" in response.content.decode()
    assert not ThrottleCounter.objects.exists()


def test_a_throttled_page_is_a_friendly_429(client, office, settings, frozen):
    settings.LOOKUP_MAX_FAILURES = 1
    dossier, pin = office.receive()
    client.get(PAGE, {"ma": dossier.code, "pin": wrong(pin)})
    response = client.get(PAGE, {"ma": dossier.code, "pin": pin}, HTTP_ACCEPT_LANGUAGE="vi")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert 'role="alert"' in html
    assert "N***** V** An" not in html


def test_a_nul_byte_in_the_code_is_a_readable_400(client, office):
    # Refused before the view (motcua.middleware.RequestGuardMiddleware, issue 13).
    assert client.get(PAGE, {"ma": "H56.33\x00", "pin": "123456"}).status_code == 400


def test_a_lookup_costs_a_constant_few_queries(client, office, frozen, django_assert_max_num_queries):
    """The dossier with its PIN hash, previous windows (address and code, one read), the address
    and code counter upserts, one give-back, events, the two agencies (without the cached history,
    tests/dossiers/test_lookup_cache.py): whatever the timeline's length. (The first attempt of a
    client in a window also clears finished windows; on SQLite, which cannot tell an inserted row
    from an updated one, every attempt after a give-back does.)"""
    dossier, pin = office.receive()
    lookup(client, dossier.code, pin)
    most = 7 if connection.vendor == "postgresql" else 8
    with django_assert_max_num_queries(most):
        assert lookup(client, dossier.code, pin).status_code == 200
    for action, params in (("assign", {}), ("propose_result", {"result": "Cấp giấy khai sinh"}), ("approve", {})):
        office.act(dossier, action, **params)
    with django_assert_max_num_queries(most):
        body = lookup(client, dossier.code, pin).json()
    assert len(body["timeline"]) == 3  # received, passed on, result ready (the proposal is internal)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="UNLOGGED tables are a PostgreSQL feature")
def test_the_counters_table_is_unlogged_on_postgresql(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = %s", [ThrottleCounter._meta.db_table])
        assert cursor.fetchone() == ("u",)


def test_the_api_body_is_what_the_documented_serializer_writes(client, office, frozen):
    """The lookup writes its JSON itself (the hottest public request); it must stay exactly what
    LookupResultSerializer, the schema's description of it, would write."""
    from dossiers.api.serializers import LookupResultSerializer

    waiting, _pin = office.receive(missing_documents=["Giấy chứng sinh (bản chính)"])
    dossier, pin = office.receive()
    frozen.shift(timedelta(hours=2))
    office.act(dossier, "assign")
    frozen.shift(timedelta(days=20))  # overdue
    dossier.refresh_from_db()
    for language in ("vi", "en"):
        with translation.override(language):
            for each in (waiting, dossier):
                result = lookup_module.lookup_result(each)
                assert lookup_module.lookup_json(result) == LookupResultSerializer(result).data
    body = lookup(client, dossier.code, pin).json()
    with translation.override("vi"):
        assert body == json.loads(json.dumps(LookupResultSerializer(lookup_module.lookup_result(dossier)).data))


# --- Forgiving codes (issue 15) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        lambda code: code.lower(),
        lambda code: f"  {code}  ",
        lambda code: code.replace("-", " "),
        lambda code: code.replace("-", " – "),
        lambda code: code.replace("-", "--").lower(),
    ],
    ids=["lower case", "spaces around", "spaces for dashes", "en dashes", "double dashes"],
)
def test_the_code_is_found_however_its_case_and_dashes_are_typed(client, office, frozen, typed):
    dossier, pin = office.receive()

    assert lookup(client, typed(dossier.code), pin).json()["code"] == dossier.code
    page = client.get(PAGE, {"ma": typed(dossier.code), "pin": pin})
    assert page.status_code == 200 and dossier.code in page.content.decode()


def test_a_mistyped_code_does_not_count_towards_the_lockout(client, office, settings, frozen):
    settings.LOOKUP_MAX_FAILURES = 3
    dossier, pin = office.receive()
    for number in range(10):
        assert lookup(client, f"{dossier.code[:-4]}{9000 + number}", pin).status_code == 404
        assert client.get(PAGE, {"ma": f"X-{number}", "pin": pin}).status_code == 404

    assert lookup(client, dossier.code, pin).status_code == 200


def test_a_wrong_pin_for_an_existing_code_still_counts(client, office, settings, frozen):
    settings.LOOKUP_MAX_FAILURES = 3
    dossier, pin = office.receive()
    for _ in range(3):
        assert lookup(client, dossier.code.lower(), wrong(pin)).status_code == 404

    assert lookup(client, dossier.code, pin).status_code == 429


def test_a_wrong_pin_and_an_unknown_code_still_look_the_same(client, office, frozen, django_assert_num_queries):
    dossier, pin = office.receive()
    # Warm up: both counters of this client have their row in this window (the first attempt of
    # a window also clears old windows).
    # (A wrong PIN: on SQLite a given-back attempt makes the next one look like a window's first.)
    lookup(client, dossier.code, wrong(pin))
    lookup(client, f"{dossier.code[:-4]}9998", pin)
    answers, counts = [], []
    for code, typed_pin in ((dossier.code, wrong(pin)), (f"{dossier.code[:-4]}9999", pin)):
        with CaptureQueriesContext(connection) as queries:
            response = lookup(client, code, typed_pin)
        answers.append((response.status_code, response.json(), sorted(response.headers.items())))
        counts.append([query["sql"].split()[0] for query in queries.captured_queries])

    assert answers[0] == answers[1]
    assert counts[0] == counts[1]  # the same statements, in the same order


def test_the_plain_query_shortcut_accepts_exactly_what_the_serializer_accepts():
    """`lookup.plain_query` lets the API skip `LookupQuerySerializer` for a plainly valid query:
    whatever it accepts, the serializer accepts with the same values (random and edge inputs)."""
    rng = random.Random(20)
    alphabet = ["a", "H", "5", ".", "-", " ", "\t", "\n", "\x00", "\ud800", "ễ", "\u00a0"]
    samples = [{}, {"code": "X"}, {"pin": "1"}, {"code": "", "pin": "1"}, {"code": " ", "pin": " 1 "}]
    samples += [{"code": "C" * n, "pin": "1" * m} for n in (63, 64, 65) for m in (11, 12, 13)]
    for _ in range(3000):
        samples.append(
            {
                name: "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 12, 13, 64, 66])))
                for name in ("code", "pin")
                if rng.random() < 0.95
            }
        )
    accepted = 0
    for params in samples:
        query = QueryDict(mutable=True)
        query.update(params)
        serializer = LookupQuerySerializer(data=query)
        plain = lookup_module.plain_query(query)
        if plain is not None:
            accepted += 1
            assert serializer.is_valid(), (params, serializer.errors)
            assert plain == (serializer.validated_data["code"], serializer.validated_data["pin"])
    assert accepted > 50  # the shortcut is taken


def test_the_api_shortcut_answers_byte_for_byte_what_drfs_view_answers(rf, office, frozen, settings):
    """`plain_lookup` answers the plain lookups without DRF (the hottest public request): for each
    case the same status, headers and body bytes as DRF's own view, and DRF answers the rest."""
    from dossiers.api.views import LookupView, plain_lookup

    settings.LOOKUP_MAX_FAILURES = 3
    settings.LOOKUP_CODE_MAX_FAILURES = 100
    dossier, pin = office.receive()
    shortcut_view = LookupView.as_view()
    drf_view = shortcut_view.__wrapped__  # DRF's view, as `as_view` made it

    def both(params, address, **headers):
        answers = []
        for view in (shortcut_view, drf_view):
            request = rf.get(API, params, REMOTE_ADDR=address, **headers)
            response = view(request)
            if hasattr(response, "render"):
                response.render()
            answers.append((response.status_code, sorted(response.items()), response.content))
        return answers

    right = {"code": dossier.code.lower(), "pin": f" {pin} "}
    cases = [
        (right, "198.51.100.1", {}, 200),
        (right, "198.51.100.1", {"HTTP_ACCEPT": "text/html, application/json;q=0.9"}, 200),
        ({"code": dossier.code, "pin": wrong(pin)}, "198.51.100.2", {}, 404),
        ({"code": "KHONG-CO", "pin": pin}, "198.51.100.3", {"HTTP_ACCEPT": "*/*"}, 404),
    ]
    for params, address, headers, status in cases:
        shortcut, drf = both(params, address, **headers)
        assert shortcut[0] == status and shortcut == drf, (params, headers)
    # The address of the wrong PIN has now tried 2 wrong PINs: one more locks it, for both views.
    both({"code": dossier.code, "pin": wrong(pin)}, "198.51.100.2")
    shortcut, drf = both(right, "198.51.100.2")
    assert shortcut[0] == 429 and shortcut == drf
    assert ("Retry-After", "900") in shortcut[1] and ("Cache-Control", "no-store") in shortcut[1]

    def taken(params, method="get", **extra):
        return plain_lookup(getattr(rf, method)(API, params, REMOTE_ADDR="198.51.100.9", **extra)) is not None

    assert taken(right) and taken(right, HTTP_ACCEPT="application/json")
    # DRF answers whatever it would treat differently: its 400s, HEAD, ?format=, an Accept with a
    # parameter it honours (indent) or without JSON (406), and an officer's session.
    assert not taken({"code": dossier.code})
    assert not taken(right, method="head")
    assert not taken({**right, "format": "json"})
    assert not taken(right, HTTP_ACCEPT="application/json; indent=4")
    assert not taken(right, HTTP_ACCEPT="text/html")
    assert not taken(right, HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}=abc")
    assert both(right, "198.51.100.4", HTTP_ACCEPT="text/html")[1][0] == 406
