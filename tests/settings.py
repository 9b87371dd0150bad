"""Test settings: the project's settings with test-friendly defaults for unset variables.

DATABASE_URL and REDIS_URL pass through, so the same suite runs on SQLite (default) and on
PostgreSQL + Redis (`.ci/run`)."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_COOKIES", "0")
# The test client speaks plain HTTP; the redirect itself is tested in tests/test_settings.py.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("STATICFILES_STORAGE", "django.contrib.staticfiles.storage.StaticFilesStorage")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Leaders' mandatory two-factor login is exercised in tests/accounts (which turn it on).
os.environ.setdefault("REQUIRE_2FA_FOR_LEADERS", "0")
os.environ.setdefault("REQUIRE_2FA_FOR_STAFF", "0")
# The national portal's sandbox is mounted (tests/interop point the client at it on a live
# server); synchronisation itself stays off unless a test sets DVCQG_URL.
os.environ.setdefault("DVCQG_SANDBOX", "1")
os.environ.setdefault("DVCQG_URL", "")
# The lookup throttle's counters stay in the database table the lookup tests inspect; the Redis
# store is tested on its own (tests/dossiers/test_throttle_redis.py).
os.environ.setdefault("LOOKUP_THROTTLE_BACKEND", "database")
# The cache outlives a test's rolled-back rows (SQLite reuses their ids): the dossier detail's
# cached history is tested on its own (tests/dossiers/test_api_events_cache.py).
os.environ.setdefault("DOSSIER_EVENTS_CACHE_SECONDS", "0")
os.environ.setdefault("QUEUE_COUNTS_CACHE_SECONDS", "0")  # tested in tests/dossiers/test_selectors.py
os.environ.setdefault("INDEX_CATALOGUE_CACHE_SECONDS", "0")  # tested in tests/reporting/test_index_cache.py
os.environ.setdefault("STATS_PAGE_CACHE_SECONDS", "0")  # tested in tests/reporting/test_stats_page_cache.py

# Each test process (and each pytest-xdist worker, `make test` runs several) keeps its own cache,
# Celery broker and Redis database, so a test that counts what is in the cache or queues a task
# never sees another worker's. Subprocesses a test starts inherit the choice through the
# environment (a real Celery worker must share the test's broker).
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if os.environ.get("MOTCUA_TEST_WORKER") != _worker:
    os.environ["MOTCUA_TEST_WORKER"] = _worker
    os.environ["MOTCUA_TEST_VAR"] = _var = tempfile.mkdtemp(prefix=f"motcua-test-var-{_worker or 'main'}-")
    atexit.register(shutil.rmtree, _var, ignore_errors=True)  # by the process that made it
    # Media and the demo's sample file too, unless set outside the tests (the controller's own
    # temporary folders are replaced: they were made by this code for another process).
    for _name, _path in (("MEDIA_ROOT", "media"), ("DEMO_SAMPLE_FILE", "demo-sample.txt")):
        if "/motcua-test-var-" in os.environ.get(_name, "/motcua-test-var-"):
            os.environ[_name] = os.path.join(_var, _path)
    _index = int(_worker[2:]) if _worker[2:].isdigit() else 0
    if _index and os.environ.get("REDIS_URL"):
        # gw0 keeps REDIS_URL's database, gw1 the one below it, and so on (.ci/run flushes them).
        _url = urlsplit(os.environ["REDIS_URL"])
        _database = int(_url.path.strip("/") or 0)
        os.environ["REDIS_URL"] = urlunsplit(_url._replace(path=f"/{(_database - _index) % 16}"))
_TEST_VAR = Path(os.environ["MOTCUA_TEST_VAR"])

from motcua.settings import *  # noqa: E402,F403

if not REDIS_URL:  # noqa: F405
    CACHES["default"]["LOCATION"] = str(_TEST_VAR / "cache")  # noqa: F405
    _broker = _TEST_VAR / "celery-broker"
    (_broker / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker),
        "data_folder_out": str(_broker),
        "processed_folder": str(_broker),
        "control_folder": str(_broker / "control"),
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(_TEST_VAR / "celerybeat-schedule")

if "bench" not in INSTALLED_APPS:  # noqa: F405
    INSTALLED_APPS = [*INSTALLED_APPS, "bench"]  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test logins

WHITENOISE_AUTOREFRESH = True  # no collectstatic in tests
