"""Faults: with Redis gone the site keeps serving and loses nothing; after PostgreSQL drops
every connection the next request reconnects by itself. (A worker killed mid-task:
tests/dossiers/test_celery_integration.py; a real PostgreSQL restart: drill in docs/security.md.)"""

import socket
from wsgiref.util import setup_testing_defaults

import psycopg
import pytest
import redis
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.urls import reverse

from dossiers.models import Dossier
from notifications.models import Notification
from tests.factories import Office, api_token


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
def redis_down(settings):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    return url


def test_with_redis_down_pages_api_and_transitions_work_and_nothing_is_lost(client, db, redis_down):
    with pytest.raises(redis.exceptions.ConnectionError):  # the shared cache really is unreachable
        cache.get("probe")
    office = Office()
    auth = {"HTTP_AUTHORIZATION": f"Token {api_token(office.reception)}"}

    for path in ("/", "/thu-tuc/", "/tra-cuu/", reverse("login")):
        assert client.get(path).status_code == 200, path
    created = client.post(
        "/api/v1/dossiers/",
        {
            "procedure": office.procedure.code,
            "applicant_name": "Lê Văn Cường",
            "applicant_phone": "0901234567",
            "applicant_email": "cuong@example.com",
            "channel": "in_person",
            "documents": [],
        },
        content_type="application/json",
        **auth,
    )
    assert created.status_code == 201, created.content
    code, pin = created.json()["code"], created.json()["pin"]
    assigned = client.post(f"/api/v1/dossiers/{code}/actions/assign/", {"comment": ""}, **auth)
    assert assigned.status_code == 200, assigned.content
    client.force_login(office.specialist)
    assert client.get(reverse("dossiers:workspace")).status_code == 200
    assert client.get("/api/v1/lookup/", {"code": code, "pin": pin}).status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "degraded"

    dossier = Dossier.objects.get(code=code)
    assert [e.action for e in dossier.events.order_by("id")][-1] == "assign"
    # Messages wait in the database outbox until a worker can deliver them.
    assert Notification.objects.filter(dossier=dossier).exists()


def wsgi_get(path):
    """A request through the real WSGI handler, which (unlike the test client) runs Django's
    per-request connection housekeeping, as gunicorn does."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_HOST": "localhost"}
    setup_testing_defaults(environ)
    status = []
    result = WSGIHandler()(environ, lambda s, headers, exc_info=None: status.append(s))
    try:
        body = b"".join(result)
    finally:
        result.close()  # as the server does: sends request_finished
    return int(status[0].split()[0]), body


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL connection recovery")
@pytest.mark.django_db(transaction=True)
def test_after_postgresql_drops_every_connection_the_next_request_succeeds():
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True  # motcua/settings.py
    Office()
    assert wsgi_get("/thu-tuc/")[0] == 200
    our_pid = connection.connection.info.backend_pid  # kept between requests (CONN_MAX_AGE)

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    assert killed, "at least the site's own connection was terminated"

    status, _body = wsgi_get("/thu-tuc/")

    assert status == 200
    assert connection.connection.info.backend_pid != our_pid  # a new connection, no restart
    health_status, health = wsgi_get("/healthz")
    assert health_status == 200 and b'"ok": true' in health
