"""The officers' dossier detail (`GET /api/v1/dossiers/<code>/`) serves a dossier's history from
the cache while it has not changed (issue 20): two queries fewer, the same body, never stale after
a new event, in each language."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.dossiers.test_api import login, url
from tests.factories import Office

pytestmark = pytest.mark.django_db


@pytest.fixture
def office():
    return Office(code="H56.61")


def detail(client, code, language="vi"):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url(code), HTTP_ACCEPT_LANGUAGE=language, HTTP_COOKIE=f"django_language={language}")
    assert response.status_code == 200, response.content
    return response.json(), len(queries.captured_queries)


def test_the_history_comes_from_the_cache_with_two_queries_fewer_and_the_same_body(office, settings):
    dossier, _pin = office.receive()
    office.act(dossier, "assign")
    client = login(office.reception)
    settings.DOSSIER_EVENTS_CACHE_SECONDS = 0
    uncached, uncached_queries = detail(client, dossier.code)
    settings.DOSSIER_EVENTS_CACHE_SECONDS = 600
    detail(client, dossier.code)  # fills the cache
    cached, cached_queries = detail(client, dossier.code)
    assert cached == uncached
    assert list(cached) == list(uncached)  # the same keys in the same order
    assert cached_queries == uncached_queries - 2  # no events, no actors


def test_a_new_event_is_in_the_next_answer(office, settings):
    settings.DOSSIER_EVENTS_CACHE_SECONDS = 600
    dossier, _pin = office.receive()
    client = login(office.reception)
    before, _queries = detail(client, dossier.code)
    office.act(dossier, "assign")
    after, _queries = detail(client, dossier.code)
    assert [event["action"] for event in after["events"]] == [event["action"] for event in before["events"]] + [
        "assign"
    ]


def test_each_language_has_its_own_labels(office, settings):
    settings.DOSSIER_EVENTS_CACHE_SECONDS = 600
    dossier, _pin = office.receive()
    client = login(office.reception)
    vi, _queries = detail(client, dossier.code, "vi")
    en, _queries = detail(client, dossier.code, "en")
    vi_again, _queries = detail(client, dossier.code, "vi")
    assert vi["events"][0]["to_status_label"] != en["events"][0]["to_status_label"]
    assert vi_again["events"] == vi["events"]
