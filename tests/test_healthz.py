"""`/healthz`: database and broker status for load balancers, Docker and monitoring."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def filesystem_broker(settings, tmp_path):
    folder = tmp_path / "broker"
    folder.mkdir()
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(folder),
    }
    return folder


@pytest.fixture
def silent_socket():
    """A loopback port that accepts connections (kernel backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def get_healthz(client):
    started = time.perf_counter()
    response = client.get(reverse("healthz"))
    return response, time.perf_counter() - started


@pytest.mark.django_db
def test_healthz_reports_database_ok_as_json(client, filesystem_broker):
    response, _ = get_healthz(client)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["vendor"] == connection.vendor
    assert body["database"]["latency_ms"] >= 0


@pytest.mark.django_db
def test_filesystem_broker_is_ok_when_its_folder_is_writable_and_left_untouched(client, filesystem_broker):
    response, _ = get_healthz(client)

    broker = response.json()["broker"]
    assert broker["ok"] is True
    assert broker["url"] == "filesystem://"
    # The worker consumes files from this folder: the probe must not leave any behind.
    assert list(filesystem_broker.iterdir()) == []


@pytest.mark.django_db
def test_missing_filesystem_broker_folder_degrades_but_keeps_serving(client, filesystem_broker, settings):
    missing = str(filesystem_broker / "missing")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": missing, "data_folder_out": missing}

    response, _ = get_healthz(client)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False


@pytest.mark.django_db
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set (embedded broker run)")
def test_redis_broker_is_ok_against_a_real_redis(client, settings):
    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]

    response, _ = get_healthz(client)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok", body
    assert body["broker"]["ok"] is True
    assert body["broker"]["url"] in {"redis://", "rediss://", "unix://"}


@pytest.mark.django_db
def test_refused_redis_degrades_quickly_without_leaking_credentials(client, settings):
    settings.CELERY_BROKER_URL = "redis://motcua:s3cret-pass@127.0.0.1:1/0"

    response, elapsed = get_healthz(client)

    assert response.status_code == 200
    assert elapsed < 2
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False
    assert body["broker"]["url"] == "redis://"
    content = response.content.decode()
    assert "s3cret-pass" not in content
    assert "motcua" not in content
    assert "127.0.0.1" not in content


@pytest.mark.django_db
def test_redis_that_never_answers_times_out_within_two_seconds(client, settings, silent_socket):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{silent_socket}/0"

    response, elapsed = get_healthz(client)

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["broker"]["ok"] is False
    assert elapsed < 2


def test_healthz_refuses_post(client):
    assert client.post(reverse("healthz")).status_code == 405


@pytest.mark.slow
def test_database_down_answers_503_without_raising(tmp_path):
    # A separate process, so the broken database is the only one Django knows about.
    script = (
        "import json, django\n"
        "django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/healthz')\n"
        "print(json.dumps({'status_code': r.status_code, 'body': r.json()}))\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DATABASE_URL=f"sqlite:///{tmp_path}/no-such-folder/db.sqlite3",
        PYTHONIOENCODING="utf-8",
    )

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status_code"] == 503
    assert answer["body"]["database"]["ok"] is False
    assert answer["body"]["database"]["vendor"] == "sqlite"
    assert answer["body"]["status"] != "ok"
    assert "Traceback" not in result.stderr
