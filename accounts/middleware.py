"""Request-level security: the second factor gate, the audit of denied requests, and the
Content Security Policy with its one documented exception (the Swagger UI page)."""

import logging
from datetime import timedelta
from urllib.parse import urlencode

from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import twofactor
from .models import AuditEntry, normalise_ip
from .network import client_ip

logger = logging.getLogger(__name__)


class TwoFactorMiddleware:
    """An authenticated session that has not passed its second factor reaches only the pages
    needed to pass it (code entry, enrolment, logout, language switch, static files).

    - a user with a confirmed TOTP device is sent to the code page;
    - a leader without one, when REQUIRE_2FA_FOR_LEADERS is on, is sent to enrolment.
    Every login path (our login page, the admin's login page, a test client) ends up here.
    API calls with a session cookie get a JSON 403 instead of a redirect; token-authenticated
    API calls are not session logins and are not gated (see docs/security.md)."""

    OPEN_PREFIXES = ("/static/", "/i18n/", "/healthz", "/favicon")

    def __init__(self, get_response):
        self.get_response = get_response

    def open_paths(self):
        return {
            reverse("accounts:otp-verify"),
            reverse("accounts:two-factor"),
            reverse("logout"),
            reverse("admin:logout"),
        }

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(self.OPEN_PREFIXES)
            and request.path not in self.open_paths()
        ):
            needed = twofactor.pending_step(user)
            if needed:
                return self.deny(request, needed)
        return self.get_response(request)

    def deny(self, request, needed):
        if request.path.startswith("/api/"):
            message = (
                _("Enter the code from your authenticator app first.")
                if needed == twofactor.VERIFY
                else _("Turn on two-factor login first.")
            )
            return JsonResponse({"detail": message}, status=403)
        target = reverse("accounts:otp-verify" if needed == twofactor.VERIFY else "accounts:two-factor")
        if request.method in ("GET", "HEAD"):
            target += "?" + urlencode({"next": request.get_full_path()})
        return redirect(target)


class AuditDeniedMiddleware:
    """Records every 403 answer (a role or scope check said no, a CSRF failure) and every 401
    to a request that presented credentials, with who, where and when (never the query string:
    the citizen lookup carries the PIN there)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        status = response.status_code
        denied = status == 403 or (status == 401 and request.META.get("HTTP_AUTHORIZATION"))
        if denied and self.worth_recording(request, status):
            try:
                AuditEntry.record(AuditEntry.Kind.FORBIDDEN, request=request, status_code=status)
            except Exception:
                logger.exception("audit: could not record a denied request")
        return response

    @staticmethod
    def worth_recording(request, status):
        """Every denial of a logged-in user; for anonymous callers (bad tokens, CSRF failures) the
        first per address and status in AUDIT_ANONYMOUS_DENIALS_SECONDS. Each row takes the global
        chain lock: one anonymous client could otherwise flood the audit log and serialise every
        other writer behind it. The check is a plain read (no lock); the rest are logged only."""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return True
        since = timezone.now() - timedelta(seconds=settings.AUDIT_ANONYMOUS_DENIALS_SECONDS)
        recent = AuditEntry.objects.filter(
            kind=AuditEntry.Kind.FORBIDDEN,
            created_at__gte=since,
            user=None,
            ip_address=normalise_ip(client_ip(request)),
            status_code=status,
        )
        if recent.exists():
            logger.warning("audit: repeated anonymous %s on %s (not recorded again)", status, request.path[:200])
            return False
        return True


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp with the project policy (settings.CONTENT_SECURITY_POLICY), with two narrow
    exceptions:

    - the API documentation page: drf-spectacular's Swagger UI template carries an inline
      <script> and <style>. That page shows no personal data and takes no input but a token.
    - the Django admin: its own scripts (the calendar and clock shortcuts, the two-box permission
      picker, the select2 autocomplete) position their pop-ups with style *attributes*. The admin
      gets `style-src-attr 'unsafe-inline'` only: scripts stay `'self'`, no <style> element is
      allowed, and a style attribute can neither run code nor read the page."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if report_only:
            return parts
        if request.path_info in settings.CSP_RELAXED_PATHS:
            parts.update = {
                **(parts.update or {}),
                "script-src": ["'unsafe-inline'"],
                "style-src": ["'unsafe-inline'"],
                "img-src": ["data:"],
            }
        elif _is_admin(request):
            parts.update = {**(parts.update or {}), "style-src-attr": ["'unsafe-inline'"]}
        return parts


def _is_admin(request):
    """The request was routed to a view of the Django admin (its URL namespace)."""
    match = getattr(request, "resolver_match", None)
    return match is not None and "admin" in match.namespaces
