"""Project-level views: the `/healthz` probe for load balancers, Docker and monitoring."""

import logging
import os
import tempfile
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularSwaggerView

from procedures.api.negotiation import FirstRendererNegotiation

logger = logging.getLogger(__name__)

# A probe must answer fast even when a dependency hangs: the load balancer's own timeout
# is typically 2-5 s, and a slow probe ties up a web worker.
BROKER_TIMEOUT = 0.5
REDIS_SCHEMES = {"redis", "rediss", "unix"}


def _elapsed_ms(started):
    return round((time.perf_counter() - started) * 1000, 1)


def _failure(exc):
    # Only the exception's class: messages can carry host names, user names or paths.
    return type(exc).__name__


def check_database():
    """`SELECT 1` on the default database."""
    result = {"ok": False, "vendor": connection.vendor, "latency_ms": None}
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("healthz: database check failed: %s", exc)
        result["error"] = _failure(exc)
    else:
        result["ok"] = True
    result["latency_ms"] = _elapsed_ms(started)
    return result


def _check_redis(url):
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=BROKER_TIMEOUT,
        socket_timeout=BROKER_TIMEOUT,
        retry=Retry(NoBackoff(), 0),  # redis-py retries with back-off by default: seconds, not 0.5 s
    )
    try:
        client.ping()
    finally:
        client.close()


def _check_filesystem_broker():
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}
    folders = {options.get("data_folder_in"), options.get("data_folder_out")} - {None, ""}
    if not folders:
        raise FileNotFoundError("filesystem broker has no data folder configured")
    for folder in sorted(folders):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"broker folder {folder} does not exist")
        # A real write (os.access ignores read-only mounts for root); an unnamed temporary file
        # whose name never matches kombu's `<id>.<queue>.msg` pattern.
        with tempfile.TemporaryFile(dir=folder, prefix=".healthz-"):
            pass


def check_broker():
    """Can a message be handed to the Celery broker? Never reports the URL's credentials or host."""
    url = settings.CELERY_BROKER_URL or ""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    result = {"ok": False, "url": f"{scheme}://" if scheme else "", "latency_ms": None}
    started = time.perf_counter()
    try:
        if scheme in REDIS_SCHEMES:
            _check_redis(url)
        elif scheme == "filesystem":
            _check_filesystem_broker()
        else:
            raise ValueError("unsupported broker transport")
    except Exception as exc:
        logger.warning("healthz: broker check failed (%s): %s", result["url"] or "no broker", exc)
        result["error"] = _failure(exc)
    else:
        result["ok"] = True
    result["latency_ms"] = _elapsed_ms(started)
    return result


@never_cache
@require_safe
def healthz(request):
    """JSON status of the database and the broker.

    200 while the database answers (status "degraded" when only the broker is down: pages
    still work, background work waits), 503 when the database does not. Never raises.
    """
    try:
        database = check_database()
        broker = check_broker()
    except Exception as exc:  # a bug in the probe itself must not turn into a 500
        logger.exception("healthz: probe failed")
        return JsonResponse({"status": "degraded", "error": _failure(exc)}, status=503)
    ok = database["ok"] and broker["ok"]
    body = {"status": "ok" if ok else "degraded", "database": database, "broker": broker}
    return JsonResponse(body, status=200 if database["ok"] else 503)


class APIDocsView(SpectacularSwaggerView):
    content_negotiation_class = FirstRendererNegotiation
