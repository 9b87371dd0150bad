"""The citizen lookup and the PIN, second red-team round (issue 13, findings 4, 7, 9 and 14).

4. The throttle counted only per address (10 addresses × 11 guesses = 100 guesses at one code)
   in a fixed window (a burst at its end and one at the start of the next). Now the code itself
   locks after LOOKUP_CODE_MAX_FAILURES, the desk is told, and both windows slide.
7. Receipt PINs sat in clear in django_session and nothing cleared expired sessions.
9. `receipt.pdf?pin=` was an unthrottled PIN oracle for officers.
14. A wrong PIN and an unknown code took different work.
"""

import re
import statistics
import time
from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from dossiers import lookup
from dossiers.pdf import SESSION_KEY, recall_pin, remember_pin
from notifications.models import Notification
from notifications.tasks import clear_expired_sessions
from tests.factories import Office, api_token, vn

API = "/api/v1/lookup/"
START = vn(2026, 3, 2, 9, 0)


@pytest.fixture
def office(db):
    return Office(code="000.55.66.H12")


@pytest.fixture
def frozen():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def wrong(pin, n=1):
    return f"{(int(pin) + n) % 10**6:06d}"


def test_guesses_from_many_addresses_lock_the_code_and_tell_the_desk(client, office, frozen, settings):
    dossier, pin = office.receive()
    tried = checked = 0
    for address in range(10):
        for guess in range(11):
            response = client.get(
                API,
                {"code": dossier.code, "pin": wrong(pin, 1 + address * 11 + guess)},
                REMOTE_ADDR=f"10.1.0.{address}",
            )
            tried += 1
            checked += response.status_code == 404
            assert response.status_code in (404, 429)
    print(f"\nper-code lock: {tried} guesses from 10 addresses, {checked} checked")
    assert checked == settings.LOOKUP_CODE_MAX_FAILURES  # was 100
    # The right PIN from a fresh address is refused too while the code is locked, with a plain reason.
    locked = client.get(API, {"code": dossier.code, "pin": pin}, REMOTE_ADDR="10.2.0.1")
    assert locked.status_code == 429 and "khóa" in locked.json()["detail"] and locked["Retry-After"]
    # The desk (reception of the receiving agency) is told once, and the lock is audited once.
    notices = Notification.objects.filter(kind="lookup_locked", dossier=dossier)
    assert list(notices.values_list("recipient", flat=True)) == [office.reception.pk]
    assert AuditEntry.objects.filter(kind="lookup_locked").count() == 1
    # Other codes are not affected; the lock ends when the window has slid past the failures.
    other, other_pin = office.receive()
    assert client.get(API, {"code": other.code, "pin": other_pin}, REMOTE_ADDR="10.2.0.1").status_code == 200
    frozen.shift(timedelta(seconds=2 * settings.LOOKUP_CODE_WINDOW_SECONDS))
    assert client.get(API, {"code": dossier.code, "pin": pin}, REMOTE_ADDR="10.2.0.1").status_code == 200


def test_bursts_across_the_window_boundary_do_not_double_the_budget(client, office, frozen, settings):
    settings.LOOKUP_CODE_MAX_FAILURES = 1000  # the address limit alone
    dossier, pin = office.receive()
    frozen.move_to(START + timedelta(seconds=settings.LOOKUP_WINDOW_SECONDS - 5))
    first = [client.get(API, {"code": dossier.code, "pin": wrong(pin, n)}).status_code for n in range(1, 11)]
    frozen.shift(timedelta(seconds=10))  # just after the fixed window's boundary
    second = [client.get(API, {"code": dossier.code, "pin": wrong(pin, n)}).status_code for n in range(11, 21)]
    assert first == [404] * 10
    assert second.count(404) == 0  # a fixed window let ten more through


def test_a_wrong_pin_and_an_unknown_code_do_the_same_work(client, office, frozen):
    dossier, pin = office.receive()

    def statements(code, guess, address):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(API, {"code": code, "pin": guess}, REMOTE_ADDR=address).status_code == 404
        # The statements' shapes: literals (codes, addresses, hashes) replaced by "?".
        return [re.sub(r"'[^']*'|\b\d+\b", "?", q["sql"]) for q in queries.captured_queries]

    statements(dossier.code, wrong(pin), "10.3.0.1")  # both clients' first attempts (window clean-up)
    statements("000.55.66.H12-260302-9999", wrong(pin), "10.3.0.2")
    assert statements(dossier.code, wrong(pin, 2), "10.3.0.1") == statements(
        "000.55.66.H12-260302-9999", wrong(pin, 2), "10.3.0.2"
    )


@pytest.mark.slow
def test_a_wrong_pin_and_an_unknown_code_take_the_same_time(office, settings):
    settings.LOOKUP_MAX_FAILURES = 10**6
    settings.LOOKUP_CODE_MAX_FAILURES = 10**6
    dossier, pin = office.receive()
    timings = {"wrong": [], "unknown": []}
    for n in range(300):
        for kind, code in (("wrong", dossier.code), ("unknown", f"000.55.66.H12-260302-{n:04d}9")):
            started = time.perf_counter()
            lookup.find_dossier(code, wrong(pin, n + 1))
            timings[kind].append(time.perf_counter() - started)
    wrong_ms, unknown_ms = (statistics.median(timings[k]) * 1000 for k in ("wrong", "unknown"))
    print(f"\nfind_dossier median: wrong PIN {wrong_ms:.3f} ms, unknown code {unknown_ms:.3f} ms")
    assert abs(wrong_ms - unknown_ms) < 0.25 * max(wrong_ms, unknown_ms)


def test_the_receipt_pin_parameter_is_throttled_like_the_lookup(office, frozen, settings):
    dossier, pin = office.receive()
    api = Client()
    token = api_token(office.reception)
    statuses = [
        api.get(
            f"/api/v1/dossiers/{dossier.code}/receipt.pdf", {"pin": wrong(pin, n)}, HTTP_AUTHORIZATION=f"Token {token}"
        ).status_code
        for n in range(1, settings.LOOKUP_MAX_FAILURES + 3)
    ]
    assert statuses[: settings.LOOKUP_MAX_FAILURES] == [200] * settings.LOOKUP_MAX_FAILURES
    assert set(statuses[settings.LOOKUP_MAX_FAILURES :]) == {429}
    right = api.get(f"/api/v1/dossiers/{dossier.code}/receipt.pdf", {"pin": pin}, HTTP_AUTHORIZATION=f"Token {token}")
    assert right.status_code == 429 and right["Retry-After"]
    # The page's PDF too (another officer's address).
    web = Client()
    web.force_login(office.reception)
    url = reverse("dossiers:pdf", args=[dossier.code, "receipt"])
    for n in range(settings.LOOKUP_MAX_FAILURES):
        web.get(url, {"pin": wrong(pin, 100 + n)}, REMOTE_ADDR="10.4.0.1")
    assert web.get(url, {"pin": pin}, REMOTE_ADDR="10.4.0.1").status_code == 429
    # Without `?pin=` the receipt is always printed (no guess, no count).
    assert web.get(url, REMOTE_ADDR="10.4.0.1").status_code == 200


def test_no_pin_in_clear_in_the_session_table(client, office):
    dossier, pin = office.receive()
    client.force_login(office.reception)
    session = client.session
    request = RequestFactory().get("/")
    request.session = session
    remember_pin(request, dossier.code, pin)
    session.save()
    row = Session.objects.get(session_key=session.session_key)
    assert pin not in row.session_data and pin not in str(row.get_decoded())
    assert pin not in str(row.get_decoded()[SESSION_KEY])
    assert recall_pin(request, dossier.code) == pin
    # The receipt printed right now still carries it.
    response = client.get(reverse("dossiers:pdf", args=[dossier.code, "receipt"]))
    assert response.status_code == 200


def test_a_remembered_pin_is_forgotten_after_its_time(office, settings):
    request = RequestFactory().get("/")
    from django.contrib.sessions.backends.db import SessionStore

    request.session = SessionStore()
    remember_pin(request, "CODE-1", "012345")
    assert recall_pin(request, "CODE-1") == "012345"
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.RECEIPT_PIN_SECONDS + 1)):
        assert recall_pin(request, "CODE-1") is None


def test_the_tick_clears_expired_sessions(client, office):
    client.force_login(office.reception)
    key = client.session.session_key
    other = Client()
    other.force_login(office.specialist)
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    clear_expired_sessions()  # the first step of every tick (notifications.tasks.run_tick)
    assert not Session.objects.filter(session_key=key).exists()
    assert Session.objects.filter(session_key=other.session.session_key).exists()
