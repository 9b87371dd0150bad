"""The per handling agency table (reporting/handling.py) charges late dossiers in one grouped
query whose size does not grow with the number of late dossiers (issue 20: it loaded every late
dossier's steps into Python through an IN list of their ids, 216 ms of the dashboard at 100,000
dossiers), with the same answer as `holder_at`."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reporting import handling, stats
from tests.dossiers.test_interagency import Department, T, act, crossing_procedure
from tests.factories import Office, make_user

pytestmark = pytest.mark.django_db


def test_late_dossiers_are_charged_in_one_query_of_constant_size():
    commune, department = Office(), Department()
    procedure = crossing_procedure(commune, department)
    superuser = make_user("root", is_superuser=True)
    sizes = []
    for count in (1, 4):
        for _ in range(count):
            d, _pin = commune.receive(procedure=procedure, now=T)
            d = act(d, "hand_over", commune.reception, T + timedelta(minutes=10))
            d = act(d, "accept_handover", department.specialist, T + timedelta(minutes=20))
        late = d.due_at + timedelta(hours=1)
        filters = stats.parse_filters(
            {"from": "2026-03-01", "to": "2026-04-30"}, superuser, today=late.date() + timedelta(days=1)
        )
        with CaptureQueriesContext(connection) as queries:
            rows = {row["agency"]: row for row in handling.handling_table(filters)["rows"]}
        sizes.append((len(queries.captured_queries), sum(len(q["sql"]) for q in queries.captured_queries)))
        # Every dossier is running past its due date, held by the department since its acceptance.
        held = rows[department.agency.code]["late_dossiers"]
        assert held == (1 if count == 1 else 5)
        assert rows.get(commune.agency.code, {}).get("late_dossiers", 0) == 0
    assert sizes[0] == sizes[1]
