"""The settings refuse unsafe production values and pass Django's deployment checklist."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def manage(tmp_path, *args, **variables):
    """Run `manage.py` with a clean environment: only PATH, HOME and `variables`.

    Variables a developer's `.env` might set are passed as empty strings when the test
    means "not set" (the settings read `.env` without overriding the environment)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONIOENCODING": "utf-8",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "REDIS_URL": "",
        **variables,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def assert_refused_with_one_line(result, mentioning):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert mentioning in lines[0]


def test_debug_off_without_secret_key_refuses_to_start(tmp_path):
    result = manage(tmp_path, "check", DEBUG="0", SECRET_KEY="", ALLOWED_HOSTS="example.org")

    assert_refused_with_one_line(result, "SECRET_KEY")


@pytest.mark.skipif((ROOT / ".env").exists(), reason="a local .env may set DEBUG")
def test_unset_debug_counts_as_off(tmp_path):
    result = manage(tmp_path, "check", SECRET_KEY="", ALLOWED_HOSTS="example.org")

    assert_refused_with_one_line(result, "SECRET_KEY")


def test_debug_off_with_empty_allowed_hosts_refuses_to_start(tmp_path):
    result = manage(tmp_path, "check", DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="")

    assert_refused_with_one_line(result, "ALLOWED_HOSTS")


def test_debug_on_alone_starts(tmp_path):
    result = manage(tmp_path, "check", DEBUG="1")

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    result = manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="motcua.example.gov.vn",
        SITE_URL="https://motcua.example.gov.vn",
        SECURE_SSL_REDIRECT="1",
        SECURE_HSTS_SECONDS="31536000",
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_old_backend_paths_from_before_the_split_still_work():
    """Operators' .env files may name the e-mail/SMS back ends at their pre-split paths (issue 12):
    they keep working for one release, with a deprecation warning."""
    import subprocess
    import sys

    env = {
        "DEBUG": "1",
        "EMAIL_BACKEND": "dossiers.mail.IdempotentFileEmailBackend",
        "SMS_BACKEND": "dossiers.sms.HTTPSMSBackend",
        "PATH": "/usr/bin:/bin",
    }
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='motcua.settings'; django.setup();"
        "from django.conf import settings; from django.utils.module_loading import import_string;"
        "print(settings.EMAIL_BACKEND, settings.SMS_BACKEND); import_string(settings.SMS_BACKEND);"
        "import_string(settings.EMAIL_BACKEND)"
    )
    result = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    email, sms = result.stdout.split()
    assert (email, sms) == ("notifications.mail.IdempotentFileEmailBackend", "notifications.sms.HTTPSMSBackend")
    assert "SMS_BACKEND=dossiers.sms.HTTPSMSBackend is deprecated" in result.stderr


def test_production_defaults_alone_pass_the_deployment_checklist(tmp_path):
    """Issue 13 (extra): with nothing but the required variables, `check --deploy` is clean: the
    SSL redirect, HSTS and secure cookies are on by default (W008 was the SSL redirect)."""
    result = manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="motcua.example.gov.vn",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "W008" not in result.stdout + result.stderr


def test_production_defaults_secure_every_cookie_and_redirect_to_https(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.LANGUAGE_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS > 0)"
    )
    result = manage(
        tmp_path,
        "shell",
        "--no-imports",
        "-c",
        code,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="example.org",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"] * 5
    # An operator behind a proxy that speaks plain HTTP to the app may turn them off, explicitly.
    result = manage(
        tmp_path,
        "shell",
        "--no-imports",
        "-c",
        code,
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="example.org",
        SECURE_SSL_REDIRECT="0",
        SECURE_COOKIES="0",
    )
    assert result.stdout.split()[:4] == ["False"] * 4
