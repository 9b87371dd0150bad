"""The statistics page keeps its figures a short while (STATS_PAGE_CACHE_SECONDS, issue 20): the
same figures until they expire, with the moment they were computed, never another caller's scope,
filters or language, and the API always live."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.reporting.test_stats import MARCH, NOW, Province, api, english


@pytest.fixture
def province(db, settings):
    settings.STATS_PAGE_CACHE_SECONDS = 30
    cache.clear()
    yield Province()
    cache.clear()


def received(page):
    """The key number "Received" of a page's HTML."""
    marker = 'data-summary="received">'
    start = page.index(marker) + len(marker)
    return int(page[start : page.index("<", start)])


def page(client, params=MARCH):
    response = client.get("/thong-ke/", params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_figures_are_kept_until_they_expire_and_say_when_they_were_computed(province, settings):
    province.populate(province.a, 3)
    client = english(Client())
    client.force_login(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        first = page(client)
        province.populate(province.a, 2, day=3)
        second = page(client)
        live = api(province.supervisor).get("/api/v1/stats/", MARCH).json()["total"]["received"]
    assert received(first) == received(second) == 3
    assert "Figures as of 10:00:00 20/05/2026." in second
    assert live == 5, "the API is always computed live"

    settings.STATS_PAGE_CACHE_SECONDS = 1
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        assert received(page(client)) == 5
        province.populate(province.a, 1, day=4)
    time.sleep(1.2)  # Redis expires keys in real time, the file cache by time.time()
    with time_machine.travel(NOW + timedelta(seconds=2), tick=False):
        later = page(client)
    assert received(later) == 6
    assert "Figures as of 10:00:02 20/05/2026." in later


def test_zero_computes_the_figures_for_every_page(province, settings):
    settings.STATS_PAGE_CACHE_SECONDS = 0
    province.populate(province.a, 3)
    client = Client()
    client.force_login(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        assert received(page(client)) == 3
        province.populate(province.a, 2, day=3)
        assert received(page(client)) == 5


def test_kept_figures_are_never_shown_to_another_scope_filter_or_language(province):
    province.populate(province.a, 3)
    province.populate(province.b, 2)
    supervisor, leader = Client(), english(Client())
    supervisor.force_login(province.supervisor)
    leader.force_login(province.b.leader)
    with time_machine.travel(NOW, tick=False):
        province_page = page(supervisor)
        leader_page = page(leader)
        one_commune = page(supervisor, {**MARCH, "agency": "H57.01", "exact": "1"})
        english_page = page(english(supervisor))
        fields_page = page(supervisor, {**MARCH, "group": "agency_field"})
    assert received(province_page) == 5
    assert received(leader_page) == 2 and 'data-agency="H57.01"' not in leader_page
    assert received(one_commune) == 3
    assert "Số liệu tính lúc" in province_page and "Figures as of" in english_page
    assert received(english_page) == 5 and "Progress table" in english_page
    table = '<table class="st-table" data-group="agency_field">'
    assert table in fields_page and table not in province_page


def test_kept_figures_read_no_statistics_table(province):
    province.populate(province.a, 3)
    client = Client()
    client.force_login(province.supervisor)
    with time_machine.travel(NOW, tick=False):
        with CaptureQueriesContext(connection) as computed:
            first = page(client)
        with CaptureQueriesContext(connection) as kept:
            second = page(client)
    tables = ("reporting_stat", "dossiers_dossier", "dossiers_consultation")
    assert any(table in q["sql"] for q in computed.captured_queries for table in tables)
    assert not [q["sql"] for q in kept.captured_queries if any(table in q["sql"] for table in tables)]
    assert len(kept.captured_queries) < len(computed.captured_queries)
    assert received(first) == received(second) == 3
