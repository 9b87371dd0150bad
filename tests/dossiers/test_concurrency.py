"""Concurrent actions and intake on PostgreSQL: the row lock in `dossier_act` and the daily
sequence in `next_code` must hold under real parallel transactions (Art. 28: codes never repeat).

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/motcua_h9 .venv/bin/pytest tests/dossiers/test_concurrency.py
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from dossiers.models import Dossier, DossierSequence, Status
from dossiers.services import WorkflowConflict, dossier_act, dossier_create, dossier_receive
from tests.factories import Office, vn

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

NOW = vn(2026, 3, 2, 9, 0)


@pytest.fixture(autouse=True)
def _postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: SQLite serialises every write, so these races cannot happen there.")


def run_in_threads(count, workers, target):
    """Run `target(i)` for i in range(count) on `workers` threads that start together. Each
    thread closes its own database connection. Returns the results or exceptions, in order."""
    barrier = threading.Barrier(min(count, workers))

    def call(i):
        try:
            if i < workers:
                barrier.wait(timeout=30)
            return target(i)
        except Exception as exc:  # noqa: BLE001 - returned to the test to be counted
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(call, range(count)))


def test_parallel_approvals_let_exactly_one_through():
    office = Office()
    dossier, _pin = office.to_approval(now=NOW)

    def approve(i):
        copy = Dossier.objects.get(pk=dossier.pk)  # each thread reads it before the others commit
        return dossier_act(dossier=copy, actor=office.leader, action="approve", now=NOW)

    results = run_in_threads(10, 10, approve)

    successes = [r for r in results if isinstance(r, Dossier)]
    conflicts = [r for r in results if isinstance(r, WorkflowConflict)]
    assert len(successes) == 1, results
    assert len(conflicts) == 9, results
    dossier.refresh_from_db()
    assert dossier.status == Status.RESULT_READY
    assert dossier.events.filter(action="approve").count() == 1
    assert dossier.events.count() == 4  # receive, assign, propose_result, approve


def test_parallel_intake_gives_200_distinct_codes_in_sequence():
    office = Office(code="000.01.21.H12")

    def create(i):
        dossier, _pin = dossier_create(
            actor=office.reception, procedure=office.procedure, applicant_name=f"Công dân {i}", now=NOW
        )
        return dossier.code

    results = run_in_threads(200, 20, create)

    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert len(set(results)) == 200
    assert sorted(results) == [f"000.01.21.H12-260302-{n:04d}" for n in range(1, 201)]
    assert Dossier.objects.count() == 200
    assert DossierSequence.objects.get(agency=office.agency).last_value == 200


def test_parallel_submits_of_one_reception_form_create_one_dossier():
    """Ten concurrent submits with the same intake key (a frantic double click behind a slow
    network): one dossier, every caller gets it."""
    office = Office()
    key = "b" * 32

    def submit(i):
        return dossier_receive(actor=office.reception, procedure=office.procedure, applicant_name="An", intake_key=key)

    results = run_in_threads(10, 10, submit)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Dossier.objects.count() == 1
    assert {r[0].pk for r in results} == {Dossier.objects.get().pk}
    assert sum(r[1] is not None for r in results) == 1  # the PIN is given once
