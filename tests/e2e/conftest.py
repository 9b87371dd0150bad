"""Real-browser tests: Debian's Chromium driven by Playwright's sync API against pytest-django's
`live_server` (a free local port), on the real demo catalogue.

Playwright never downloads a browser here: it launches /usr/bin/chromium (override with
CHROMIUM_PATH). axe-core comes from `var/vendor/axe.min.js`, written by scripts/fetch-axe.py
(run automatically when the file is missing). Screenshots go to test-results/screenshots/.
See docs/testing.md.
"""

import os
import subprocess
import sys
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an event loop in this thread; Django would otherwise refuse ORM
# calls from the test body. Must be set before Playwright starts.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from django.conf import settings  # noqa: E402

from .helpers import DESKTOP, PHONE, ROOT  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
AXE_PATH = ROOT / "var" / "vendor" / "axe.min.js"
# Network schemes: a request with one of these must go to the live server. Others (data:, blob:,
# about:, the browser's own chrome:// pages) never leave the browser.
NETWORK_SCHEMES = ("http", "https", "ws", "wss", "ftp")


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (`make system-deps`) to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def axe_source():
    """axe-core's source. scripts/fetch-axe.py downloads the pinned version from the npm registry
    (sha512-checked) when var/vendor/axe.min.js is missing or another version; otherwise it does
    nothing (no network)."""
    result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(ROOT / "scripts" / "fetch-axe.py")], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(f"cannot fetch axe-core (scripts/fetch-axe.py): {result.stderr.strip()}")
    return AXE_PATH.read_text(encoding="utf-8")


@pytest.fixture
def site(transactional_db, live_server, settings):
    """The live site with the real demo catalogue (Thái Nguyên agencies, 61 procedures, default
    workflows) and the demo officers of the demo commune centre.

    The receipt's QR code carries SITE_URL: point it at the live server so the decoded link opens it.
    """
    from procedures import demo
    from procedures.models import Agency, Procedure

    settings.SITE_URL = live_server.url
    settings.CSRF_TRUSTED_ORIGINS = [live_server.url]
    demo.seed_agencies(demo.load_agencies())
    _tally, codes = demo.seed_procedures()
    demo.add_default_workflows(codes)
    commune = Agency.objects.get(code=demo.demo_commune_code())
    demo.seed_demo_users(commune)
    from django.contrib.auth import get_user_model

    users = {user.username: user for user in get_user_model().objects.all()}
    return SimpleNamespace(
        url=live_server.url,
        commune=commune,
        birth=Procedure.objects.get(code="1.001193"),
        reception=users["tiepnhan"],
        specialist=users["chuyenvien"],
        leader=users["lanhdao"],
    )


def is_same_site(url, base):
    if urlsplit(url).scheme not in NETWORK_SCHEMES:
        return True
    return url == base or url.startswith(base + "/")


@pytest.fixture
def contexts(browser, site):
    """Factory for fresh browser contexts (no cache, no cookies) on the live site.

    `contexts.new(phone=False, language="en")`: English pins the UI to the msgids the assertions
    use (`language=None` keeps the site's default, Vietnamese). Every context records its
    requests and the browser's console errors (JavaScript errors, failed loads, Content-Security-
    Policy violations); the test fails if a request went anywhere but the live server or if the
    console reported an error.
    """
    opened, outside, errors = [], [], []

    def on_console(message):
        # axe-core (served by the test under /__e2e__/) adds a <style> of its own while it checks
        # some pages; the site's policy refusing the test tool's style is not the site's error.
        if message.type == "error" and "/__e2e__/" not in (message.location or {}).get("url", ""):
            errors.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def new(*, phone=False, language="en"):
        context = browser.new_context(base_url=site.url, **(PHONE if phone else DESKTOP))
        context.set_default_timeout(10_000)
        context.on(
            "request", lambda request: None if is_same_site(request.url, site.url) else outside.append(request.url)
        )
        context.on("console", on_console)
        context.on("weberror", lambda error: errors.append(f"{error.page.url if error.page else '?'}: {error.error}"))
        if language:
            context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": site.url}])
        opened.append(context)
        return context

    yield SimpleNamespace(new=new, outside=outside, errors=errors)
    for context in opened:
        context.close()
    assert not outside, f"{len(outside)} requests left the site: {outside[:10]}"
    assert not errors, "the browser console reported errors:\n" + "\n".join(errors[:20])
