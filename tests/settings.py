"""Test settings: the project's settings with test-friendly defaults for unset variables.

DATABASE_URL and REDIS_URL pass through, so the same suite runs on SQLite (default) and on
PostgreSQL + Redis (`.ci/run`)."""

import os
import tempfile

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_COOKIES", "0")
# The test client speaks plain HTTP; the redirect itself is tested in tests/test_settings.py.
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("STATICFILES_STORAGE", "django.contrib.staticfiles.storage.StaticFilesStorage")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="motcua-test-media-"))
os.environ.setdefault("DEMO_SAMPLE_FILE", os.path.join(tempfile.mkdtemp(prefix="motcua-test-var-"), "demo-sample.txt"))
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

from motcua.settings import *  # noqa: E402,F403

if "bench" not in INSTALLED_APPS:  # noqa: F405
    INSTALLED_APPS = [*INSTALLED_APPS, "bench"]  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test logins

WHITENOISE_AUTOREFRESH = True  # no collectstatic in tests
