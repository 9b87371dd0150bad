"""Security headers on real responses, production cookie and HSTS settings, and templates that
the strict Content Security Policy does not break. (`check --deploy` itself: tests/test_settings.py.)"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import Office

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def office(db):
    return Office()


def csp(response):
    header = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/", "/tra-cuu/", "/can-bo/", "/dang-nhap/", "/thu-tuc/"])
def test_pages_carry_a_strict_content_security_policy_and_the_other_headers(client, office, path):
    client.force_login(office.reception)

    response = client.get(path, secure=True)

    assert response.status_code == 200, path
    policy = csp(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval, no CDN
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # The lookup page (code + PIN in its URL) sends only the origin as a referrer, never the URL.
    assert response.headers["Referrer-Policy"] in ("same-origin", "strict-origin")
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_hsts_is_sent_on_https_responses(client, db, settings):
    settings.SECURE_HSTS_SECONDS = 31536000

    response = client.get("/", secure=True)

    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_the_api_docs_page_is_the_only_relaxed_policy(client, db):
    docs = client.get(reverse("api-docs"))
    home = client.get("/")

    assert docs.status_code == 200
    assert "'unsafe-inline'" in csp(docs)["script-src"]
    assert csp(docs)["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in home.headers["Content-Security-Policy"]


def test_the_admin_allows_style_attributes_only(client, db):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root-csp", "root@example.com", "x-Very-long-1")
    client.force_login(root)

    page = client.get("/admin/procedures/procedure/add/")
    admin = csp(page)
    officer_page = csp(client.get("/can-bo/"))

    assert page.status_code == 200

    assert admin["style-src-attr"] == ["'unsafe-inline'"]  # Django's own pop-ups and select2
    assert admin["script-src"] == ["'self'"] and admin["style-src"] == ["'self'"]
    assert "style-src-attr" not in officer_page


def test_the_lockout_and_two_factor_pages_carry_the_policy(client, office):
    client.force_login(office.specialist)
    response = client.get(reverse("accounts:two-factor"))

    assert response.status_code == 200
    assert csp(response)["script-src"] == ["'self'"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def served_templates():
    # PDF templates are rendered by WeasyPrint, never served as HTML.
    return [p for p in (ROOT / "templates").rglob("*.html") if "pdf" not in p.relative_to(ROOT / "templates").parts]


def test_no_served_template_has_inline_script_or_event_handlers():
    offenders = [
        str(path.relative_to(ROOT))
        for path in served_templates()
        if INLINE_SCRIPT.search(path.read_text()) or EVENT_HANDLER.search(path.read_text())
    ]

    assert offenders == []


@pytest.mark.slow
def test_production_settings_turn_on_secure_cookies_hsts_and_2fa_for_leaders(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SECURE_HSTS_SECONDS > 0, "
        "s.SESSION_EXPIRE_AT_BROWSER_CLOSE, s.REQUIRE_2FA_FOR_LEADERS, s.X_FRAME_OPTIONS)"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "motcua.example.gov.vn",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "REDIS_URL": "",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["True", "True", "True", "True", "True", "True", "DENY"]
