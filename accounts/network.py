"""The client's network address, as the login throttle (django-axes), the audit log and the public
lookup's throttle all see it."""

from django.conf import settings


def client_ip(request):
    """The client's address: REMOTE_ADDR, or, behind `TRUSTED_PROXY_COUNT` reverse proxies, the
    X-Forwarded-For entry the outermost trusted proxy appended (entries further left are
    whatever the client chose to send and cannot be trusted)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-min(proxies, len(forwarded))]
    return remote
