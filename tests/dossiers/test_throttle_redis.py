"""The lookup throttle with its counters in Redis (LOOKUP_THROTTLE_BACKEND, issue 20): the same
limits, sliding windows, per-code lock and equal work as the database table, with no SQL statement
for the counters, and the database as the fallback when Redis fails. Needs a Redis (REDIS_URL)."""

import threading
import uuid
from datetime import timedelta

import pytest
import redis
import time_machine
from django.conf import settings as django_settings
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dossiers import throttle
from dossiers.models import ThrottleCounter
from tests.factories import Office, vn

MONDAY_9 = vn(2026, 3, 2, 9, 0)
API = "/api/v1/lookup/"

pytestmark = pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs a Redis server (REDIS_URL)")


@pytest.fixture
def frozen():
    with time_machine.travel(MONDAY_9, tick=False) as traveller:
        yield traveller


@pytest.fixture
def in_redis(settings, monkeypatch):
    """Counters in Redis, under keys of this test only (nothing to clear afterwards: they expire)."""
    settings.LOOKUP_THROTTLE_BACKEND = "redis"
    monkeypatch.setattr(throttle, "REDIS_PREFIX", f"motcua:test-throttle:{uuid.uuid4().hex}:")
    return redis.Redis.from_url(settings.REDIS_URL)


@pytest.fixture
def office(db):
    return Office(code="H56.41")


def wrong(pin, n=1):
    return f"{(int(pin) + n) % 10**6:06d}"


def lookup(client, code, pin, **extra):
    return client.get(API, {"code": code, "pin": pin}, **extra)


def test_a_lookup_costs_three_statements_one_script_call_and_no_counter_row(
    client, office, frozen, in_redis, monkeypatch
):
    """The dossier with its PIN hash, its events, its agencies (the citizen's history is not cached
    in tests: tests/dossiers/test_lookup_cache.py): the counters' upserts, previous-window read and
    give-back (4 statements with the table) are one Redis script call, the give-back of the right
    PIN included."""
    dossier, pin = office.receive()
    lookup(client, dossier.code, pin)
    calls = []
    for name in ("_redis_attempt", "_redis_give_back"):
        real = getattr(throttle, name)
        monkeypatch.setattr(
            throttle, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k)
        )
    with CaptureQueriesContext(connection) as queries:
        assert lookup(client, dossier.code, pin).status_code == 200
    assert len(queries.captured_queries) == 3, [q["sql"] for q in queries.captured_queries]
    assert calls == ["_redis_attempt"]
    assert not ThrottleCounter.objects.exists()
    # The successful lookups gave their reservations back.
    address = throttle._redis_key("lookup:127.0.0.1", throttle.window_start(MONDAY_9))
    assert int(in_redis.get(address)) == 0


def test_after_the_limit_even_the_right_pin_is_refused_until_the_window_slides(
    client, office, frozen, in_redis, settings
):
    settings.LOOKUP_MAX_FAILURES = 3
    dossier, pin = office.receive()
    assert [lookup(client, dossier.code, wrong(pin, n)).status_code for n in range(1, 4)] == [404] * 3
    refused = lookup(client, dossier.code, pin)
    assert refused.status_code == 429 and refused["Retry-After"] == "900"
    frozen.shift(timedelta(seconds=2 * settings.LOOKUP_WINDOW_SECONDS))
    assert lookup(client, dossier.code, pin).status_code == 200
    assert not ThrottleCounter.objects.exists()


def test_bursts_across_the_window_boundary_do_not_double_the_budget(client, office, frozen, in_redis, settings):
    settings.LOOKUP_CODE_MAX_FAILURES = 1000  # the address limit alone
    dossier, pin = office.receive()
    frozen.move_to(MONDAY_9 + timedelta(seconds=settings.LOOKUP_WINDOW_SECONDS - 5))
    first = [lookup(client, dossier.code, wrong(pin, n)).status_code for n in range(1, 11)]
    frozen.shift(timedelta(seconds=10))
    second = [lookup(client, dossier.code, wrong(pin, n)).status_code for n in range(11, 21)]
    assert first == [404] * 10
    assert second.count(404) == 0


def test_guesses_from_many_addresses_lock_the_code(client, office, frozen, in_redis, settings):
    dossier, pin = office.receive()
    checked = 0
    for address in range(5):
        for guess in range(5):
            response = lookup(
                client, dossier.code, wrong(pin, 1 + address * 5 + guess), REMOTE_ADDR=f"10.4.0.{address}"
            )
            assert response.status_code in (404, 429)
            checked += response.status_code == 404
    assert checked == settings.LOOKUP_CODE_MAX_FAILURES
    locked = lookup(client, dossier.code, pin, REMOTE_ADDR="10.5.0.1")
    assert locked.status_code == 429 and "khóa" in locked.json()["detail"]
    other, other_pin = office.receive()
    assert lookup(client, other.code, other_pin, REMOTE_ADDR="10.5.0.1").status_code == 200


def test_a_mistyped_code_has_its_own_larger_allowance(client, office, frozen, in_redis, settings):
    settings.LOOKUP_MAX_FAILURES = 3
    dossier, pin = office.receive()
    for number in range(10):
        assert lookup(client, f"{dossier.code[:-4]}{9000 + number}", pin).status_code == 404
    assert lookup(client, dossier.code, pin).status_code == 200


def test_a_wrong_pin_and_an_unknown_code_do_the_same_work(client, office, frozen, in_redis, monkeypatch):
    dossier, pin = office.receive()
    calls = []
    real = throttle._redis_attempt
    monkeypatch.setattr(throttle, "_redis_attempt", lambda *a, **k: calls.append(len(a[0])) or real(*a, **k))
    answers, statements = [], []
    for code, typed_pin, address in (
        (dossier.code, wrong(pin), "10.6.0.1"),
        (f"{dossier.code[:-4]}9999", pin, "10.6.0.2"),
    ):
        with CaptureQueriesContext(connection) as queries:
            response = lookup(client, code, typed_pin, REMOTE_ADDR=address)
        answers.append((response.status_code, response.json()))
        statements.append([q["sql"].split()[0] for q in queries.captured_queries])
    assert answers[0] == answers[1]
    assert statements[0] == statements[1] == ["SELECT"]  # the PIN row only: no counter statement
    assert calls == [2, 2]  # one script call with the address and the code each time


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor == "sqlite", reason="concurrent writers need PostgreSQL")
def test_a_burst_of_concurrent_guesses_gets_no_more_than_the_limit_through(in_redis):
    office = Office(code="H56.42")
    dossier, pin = office.receive()
    barrier, statuses, lock = threading.Barrier(30), [], threading.Lock()

    def run():
        try:
            barrier.wait()
            status = Client().get(API, {"code": dossier.code, "pin": wrong(pin)}).status_code
            with lock:
                statuses.append(status)
        finally:
            connections.close_all()

    with time_machine.travel(MONDAY_9, tick=False):
        threads = [threading.Thread(target=run) for _ in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert sorted(statuses) == [404] * 10 + [429] * 20


def test_when_redis_fails_the_database_counts(client, office, frozen, in_redis, settings):
    """An outage never opens the lookup: the attempts are counted in the table."""
    settings.LOOKUP_MAX_FAILURES = 2
    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    dossier, pin = office.receive()
    assert [lookup(client, dossier.code, wrong(pin, n)).status_code for n in (1, 2)] == [404, 404]
    assert lookup(client, dossier.code, pin).status_code == 429
    assert ThrottleCounter.objects.get(key="lookup:127.0.0.1").count >= 2
