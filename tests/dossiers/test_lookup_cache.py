"""The citizen's lookup serves the part of its answer that only the dossier's events decide (the
timeline, the documents still missing, the procedure's and the office's names) from the cache
while the dossier's history has not changed (issue 20): no read of the events or the agencies, the
same body, never stale after a new event, in each language."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import Office

pytestmark = pytest.mark.django_db
API = "/api/v1/lookup/"


@pytest.fixture(autouse=True)
def own_cache(settings):
    """A cache of this test only (the shared one outlives the test's rolled-back rows)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


@pytest.fixture
def office():
    return Office(code="H56.62")


def lookup(client, code, pin, language="vi"):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            API, {"code": code, "pin": pin}, HTTP_ACCEPT_LANGUAGE=language, HTTP_COOKIE=f"django_language={language}"
        )
    assert response.status_code == 200, response.content
    return response.json(), [query["sql"] for query in queries.captured_queries]


def reads(statements, table):
    return [sql for sql in statements if sql.startswith("SELECT") and f'FROM "{table}"' in sql]


def test_the_history_comes_from_the_cache_without_reading_events_or_agencies(client, office, settings):
    dossier, pin = office.receive()
    office.act(dossier, "assign")
    settings.DOSSIER_EVENTS_CACHE_SECONDS = 0
    uncached, uncached_statements = lookup(client, dossier.code, pin)
    assert reads(uncached_statements, "dossiers_dossierevent")
    settings.DOSSIER_EVENTS_CACHE_SECONDS = 600
    lookup(client, dossier.code, pin)  # fills the cache
    cached, cached_statements = lookup(client, dossier.code, pin)
    assert cached == uncached
    assert list(cached) == list(uncached)  # the same keys in the same order
    assert not reads(cached_statements, "dossiers_dossierevent")
    assert not reads(cached_statements, "procedures_agency")
    assert len(reads(cached_statements, "dossiers_dossier")) == 1  # the dossier's row with its PIN hash
    assert len(cached_statements) < len(uncached_statements)


def test_a_new_event_is_in_the_next_answer(client, office, settings):
    settings.DOSSIER_EVENTS_CACHE_SECONDS = 600
    dossier, pin = office.receive()
    office.act(dossier, "assign")
    before, _statements = lookup(client, dossier.code, pin)
    office.act(dossier, "request_supplement", comment="Bản sao giấy khai sinh")
    after, _statements = lookup(client, dossier.code, pin)
    assert len(after["timeline"]) == len(before["timeline"]) + 1
    assert after["status"] != before["status"]
    assert after["missing_documents"] == ["Bản sao giấy khai sinh"]
    assert before["missing_documents"] == []


def test_each_language_has_its_own_texts(client, office, settings):
    settings.DOSSIER_EVENTS_CACHE_SECONDS = 600
    dossier, pin = office.receive()
    vi, _statements = lookup(client, dossier.code, pin, "vi")
    en, _statements = lookup(client, dossier.code, pin, "en")
    vi_again, _statements = lookup(client, dossier.code, pin, "vi")
    assert vi["timeline"][0]["text"] != en["timeline"][0]["text"]
    assert vi_again == vi
