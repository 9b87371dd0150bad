"""Helpers of the browser tests: logging in, layout and accessibility checks, screenshots."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = ROOT / "test-results" / "screenshots"
PASSWORD = "motcua-demo"
# A small phone (iPhone SE/mini class) with touch, and an office PC.
PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}


def log_in(page, user, password=PASSWORD, next_url="/can-bo/"):
    """Log in through the login form, as an officer would."""
    page.goto(f"/dang-nhap/?next={next_url}")
    page.locator("#id_username").fill(user.get_username())
    page.locator("#id_password").fill(password)
    with page.expect_navigation():
        page.locator("form.stacked-form button[type=submit]").click()
    assert "/dang-nhap/" not in page.url, f"login failed for {user}: still on {page.url}"


def log_in_with_cookie(context, user, base_url):
    """A session for `user` without the form (faster): Django's test client makes the session."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": base_url}])


def has_no_horizontal_scroll(page):
    """True when the page is no wider than the viewport we asked for.

    Compared with the configured viewport width, not `window.innerWidth`: with `is_mobile`
    Chromium zooms out a too-wide page like a phone does, and innerWidth grows with it."""
    width = page.viewport_size["width"]
    return page.evaluate(
        "(width) => document.documentElement.scrollWidth <= width && window.innerWidth <= width", width
    )


def widest_elements(page, limit=5):
    """The innermost elements sticking out to the right of the viewport (for failure messages)."""
    return page.evaluate(
        """([width, limit]) => {
            const out = [];
            for (const el of document.body.querySelectorAll('*')) {
                const right = el.getBoundingClientRect().right;
                if (right > width + 0.5) {
                    const cls = typeof el.className === 'string' ? el.className.trim().split(/\\s+/)[0] : '';
                    out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (cls ? '.' + cls : '')
                             + ' right=' + Math.round(right));
                }
            }
            return out.slice(-limit);
        }""",
        [page.viewport_size["width"], limit],
    )


def assert_fits_width(page):
    __tracebackhide__ = True
    if not has_no_horizontal_scroll(page):
        sizes = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        pytest.fail(
            f"{page.url} scrolls horizontally at {page.viewport_size['width']} px "
            f"(scrollWidth, innerWidth = {sizes}): {widest_elements(page)}"
        )


AXE_URL_PATH = "/__e2e__/axe.min.js"


def axe_violations(page, source, impacts=("serious", "critical")):
    """Run axe-core in the page; the violations of the given impacts as plain dicts.

    axe is served to the page as a same-origin script (a Playwright route, never reaching the
    server), so the site's Content-Security-Policy (`script-src 'self'`) stays fully enforced."""
    origin = re.match(r"^[a-z]+://[^/]+", page.url).group(0)
    if not getattr(page, "_axe_routed", False):
        page.route(
            origin + AXE_URL_PATH,
            lambda route: route.fulfill(status=200, body=source, content_type="application/javascript"),
        )
        page._axe_routed = True
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(url=origin + AXE_URL_PATH)
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + (n.failureSummary || '').replace(/\\s+/g, ' '))
            }));
        }"""
    )
    return [v for v in violations if v["impact"] in impacts]


def format_violations(violations):
    return "\n".join(
        f"  [{v['impact']}] {v['id']}: {v['help']}\n" + "\n".join(f"      {node}" for node in v["nodes"][:5])
        for v in violations
    )


def screenshot(page, name, *, full_page=False):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def act(page, action, **inputs):
    """Submit one action form of the dossier page (opening its fold first when it is folded)."""
    form = page.locator(f"form[action$='/hanh-dong/{action}/']").first
    if not form.is_visible():
        page.locator("details.ws-fold", has=form).locator("summary").click()
    for name, value in inputs.items():
        form.locator(f"[name={name}]").fill(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert page.locator(".alert--error").count() == 0, page.locator(".alert--error").all_inner_texts()
