"""The replica router (motcua/db_router.py) and its settings: without DATABASE_REPLICA_URL nothing
changes; with it, only the reporting views' reads go to a replica that answers and is fresh enough.
The whole deployment (PgBouncer, a real streaming replica stopped under load) is the scale-out
drill: bench/scaleout.py, run by .ci/run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.db.utils import ConnectionHandler
from django.test import override_settings
from django.urls import resolve

from dossiers.models import Dossier
from motcua import db_router
from reporting.models import StatCounter

ROOT = Path(__file__).resolve().parent.parent


def settings_of(tmp_path, **variables):
    """DATABASES, DATABASE_ROUTERS and the last middleware of a fresh process with `variables`."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "DATABASE_REPLICA_URL": "",
        "DATABASE_PGBOUNCER": "",
        "REDIS_URL": "",
        **variables,
    }
    code = (
        "import json, django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'motcua.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(json.dumps({'databases': s.DATABASES, 'routers': s.DATABASE_ROUTERS, 'last': s.MIDDLEWARE[-1]},"
        " default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_without_a_replica_the_settings_change_nothing(tmp_path):
    found = settings_of(tmp_path, DATABASE_URL="postgres://motcua@127.0.0.1:5432/motcua")

    assert list(found["databases"]) == ["default"]
    assert found["routers"] == []
    assert found["last"] != "motcua.db_router.ReplicaReadsMiddleware"
    assert "DISABLE_SERVER_SIDE_CURSORS" not in found["databases"]["default"]


@pytest.mark.slow
def test_pgbouncer_and_replica_settings(tmp_path):
    found = settings_of(
        tmp_path,
        DATABASE_URL="postgres://motcua@127.0.0.1:6432/motcua",
        DATABASE_PGBOUNCER="1",
        DATABASE_REPLICA_URL="postgres://motcua@10.0.0.12:5432/motcua",
    )

    default, replica = found["databases"]["default"], found["databases"]["replica"]
    assert default["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert default["OPTIONS"] == {"prepare_threshold": None}
    assert (replica["HOST"], replica["PORT"]) == ("10.0.0.12", 5432)
    assert replica["TEST"]["MIRROR"] == "default"
    assert replica["OPTIONS"]["connect_timeout"] == 2
    assert found["routers"] == ["motcua.db_router.ReplicaRouter"]
    assert found["last"] == "motcua.db_router.ReplicaReadsMiddleware"


def replica_health(**replica):
    """A ReplicaHealth on its own connection to the test database (a primary: current by
    definition), or to `replica`'s overrides (an address where nothing listens). The handler is a
    separate one, so its connection is not the test's."""
    handler = ConnectionHandler({"default": {**connection.settings_dict, **replica}})
    return db_router.ReplicaHealth(alias="default", connection_handler=handler), handler


def in_replica_view(function):
    token = db_router._view_state.set({"wrote": False, "replica_used": False})
    try:
        return function()
    finally:
        db_router._view_state.reset(token)


def test_reporting_urls_are_the_replica_views():
    for path in ("/thong-ke/", "/thong-ke/ho-so.xlsx", "/thong-ke/chi-so/", "/api/v1/stats/", "/api/v1/stats/index/"):
        assert db_router.replica_view(resolve(path)), path
    for path in ("/can-bo/", "/api/v1/lookup/", "/api/v1/dossiers/"):
        assert not db_router.replica_view(resolve(path)), path


@pytest.mark.django_db(transaction=True)
@override_settings(REPLICA_CHECK_SECONDS=60)
def test_an_unreachable_replica_leaves_every_read_on_the_primary():
    health, handler = replica_health(
        ENGINE="django.db.backends.postgresql", HOST="127.0.0.1", PORT=9, NAME="motcua", OPTIONS={"connect_timeout": 2}
    )
    router = db_router.ReplicaRouter(health)

    assert in_replica_view(lambda: router.db_for_read(StatCounter)) == "default"
    assert health.usable is False
    assert "OperationalError" in health.reason
    # Remembered: the next read does not try again within REPLICA_CHECK_SECONDS.
    checked = health.checked_at
    assert in_replica_view(lambda: router.db_for_read(Dossier)) == "default"
    assert health.checked_at == checked
    handler.close_all()


postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the lag query is PostgreSQL's (DATABASE_URL=postgres://…)"
)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_reporting_reads_go_to_a_fresh_replica_everything_else_to_the_primary():
    health, handler = replica_health()
    router = db_router.ReplicaRouter(health)
    User = get_user_model()

    assert router.db_for_read(StatCounter) == "default"  # outside a reporting view
    assert in_replica_view(lambda: router.db_for_read(StatCounter)) == "replica"
    assert in_replica_view(lambda: router.db_for_read(Dossier)) == "replica"
    # Users, sessions, tokens and roles are always read where they are written.
    assert in_replica_view(lambda: router.db_for_read(User)) == "default"
    assert in_replica_view(lambda: router.db_for_read(Session)) == "default"

    def after_a_write():
        assert router.db_for_write(StatCounter) == "default"
        return router.db_for_read(StatCounter)

    assert in_replica_view(after_a_write) == "default"  # read your own writes

    def in_a_transaction():
        with transaction.atomic():
            return router.db_for_read(StatCounter)

    assert in_replica_view(in_a_transaction) == "default"
    assert router.allow_migrate("replica", "dossiers") is False
    assert router.allow_migrate("default", "dossiers") is True
    handler.close_all()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_replica_behind_the_bound_is_not_used():
    health, handler = replica_health()
    router = db_router.ReplicaRouter(health)

    with override_settings(REPLICA_MAX_LAG_SECONDS=-1, REPLICA_CHECK_SECONDS=0):
        assert in_replica_view(lambda: router.db_for_read(StatCounter)) == "default"
        assert "too stale" in health.reason
    with override_settings(REPLICA_MAX_LAG_SECONDS=30, REPLICA_CHECK_SECONDS=0):
        assert in_replica_view(lambda: router.db_for_read(StatCounter)) == "replica"
    handler.close_all()


def test_the_default_settings_have_no_router():
    # The suite itself runs without DATABASE_REPLICA_URL.
    assert settings.DATABASE_REPLICA_URL == ""
    assert settings.DATABASE_ROUTERS == []
    assert "motcua.db_router.ReplicaReadsMiddleware" not in settings.MIDDLEWARE


class RecordingRouter:
    """Sends every read to the primary and remembers which models were asked about."""

    def __init__(self):
        self.reads = []

    def db_for_read(self, model, **hints):
        self.reads.append(model)
        return "default"


@pytest.mark.django_db
def test_the_hand_written_counter_query_asks_the_router_where_to_read(settings):
    """The progress table's counter statement is raw SQL: it must still be read where the router
    sends the counters (the replica in a reporting view), like the ORM's queries."""
    from datetime import date

    from reporting import stats

    recording = RecordingRouter()
    settings.DATABASE_ROUTERS = [recording]
    filters = stats.Filters(
        start=date(2026, 3, 1), end=date(2026, 3, 31), agency=None, field=None, exact=False, agency_ids=None
    )
    assert stats.counter_sums(filters) == {}
    assert StatCounter in recording.reads
