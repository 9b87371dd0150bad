"""The officers' search (`DossierQuerySet.search`) reads indexes, never the whole dossier table
(issue 20): every arm of its OR has an index on PostgreSQL — equality on the phone and the ID number,
trigram indexes for `LIKE '%…%'` on the folded name, the code and the provisional reference (a
single arm without one turned each search into a scan of the table: 1.5 s at 100,000 dossiers)."""

import pytest
from django.db import connection

from dossiers.models import Dossier
from tests.factories import Office

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans and trigram indexes are PostgreSQL's"),
]


@pytest.mark.parametrize("text", ["0912345678", "nguyen van", "260302-0001", "H56.51-2603", "012345678901"])
def test_the_officers_search_reads_no_dossier_table_scan(text):
    office = Office(code="H56.51")
    for _ in range(3):
        office.receive()
    queryset = Dossier.objects.visible_to(office.reception).search(text).order_by("-submitted_at", "-id")[:51]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        # The test table is tiny, where reading it whole is cheapest: forbid that to see whether
        # indexes can answer every condition.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # One bitmap of all the conditions' index scans, then the dossiers it found.
    assert "BitmapOr" in plan and "Bitmap Heap Scan on dossiers_dossier" in plan, plan
    assert "Seq Scan on dossiers_dossier" not in plan, plan
