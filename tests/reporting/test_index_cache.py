"""The service index's catalogue shares (reporting.index.catalogue_fractions) are counted once per
catalogue change and kept in the cache (issue 20: ≈ 140 ms of every index page for 5,000
procedures in 30 agencies): one cheap stamp query while nothing changed, fresh figures as soon as
a procedure is added or edited."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from procedures.models import Procedure
from reporting import index, stats
from tests.factories import Office, make_procedure, make_user

pytestmark = pytest.mark.django_db


def test_the_catalogue_shares_are_counted_once_per_catalogue_change(settings):
    settings.INDEX_CATALOGUE_CACHE_SECONDS = 600
    office = Office(code="H56.71")
    superuser = make_user("root", is_superuser=True)
    filters = stats.parse_filters({"from": "2026-03-01", "to": "2026-03-31"}, superuser)
    settings.INDEX_CATALOGUE_CACHE_SECONDS = 0
    expected = index.catalogue_fractions(filters, by_agency=True)
    settings.INDEX_CATALOGUE_CACHE_SECONDS = 600
    assert index.catalogue_fractions(filters, by_agency=True) == expected  # fills the cache
    with CaptureQueriesContext(connection) as queries:
        assert index.catalogue_fractions(filters, by_agency=True) == expected
    assert len(queries.captured_queries) == 1  # the catalogue's stamp only
    total, _per_agency = expected
    # A new published procedure of the office's agency: counted at once.
    make_procedure(agencies=[office.agency])
    new_total, per_agency = index.catalogue_fractions(filters, by_agency=True)
    assert new_total["published_complete"][1] == total["published_complete"][1] + 1
    assert (
        per_agency[office.agency.pk]["published_complete"][1]
        == expected[1][office.agency.pk]["published_complete"][1] + 1
    )
    # An edit (no new row) changes the stamp too.
    Procedure.objects.filter(agencies=office.agency).first().save()
    with CaptureQueriesContext(connection) as queries:
        index.catalogue_fractions(filters, by_agency=True)
    assert len(queries.captured_queries) == 3  # the stamp, then the two grouped queries
