"""The benchmark's floor: the cheapest possible Django response through the full middleware stack
(sessions, locale, CSRF, authentication, messages, security headers…), with no query. Every
endpoint's latency is reported as a multiple of this one (docs/performance.md)."""

from django.conf import settings
from django.http import Http404, JsonResponse

CONSTANT = {"status": "ok", "floor": "constant JSON through the middleware stack"}


def constant_json(request):
    if not settings.BENCH_FLOOR:
        raise Http404
    return JsonResponse(CONSTANT)
