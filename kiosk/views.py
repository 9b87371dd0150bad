"""The lobby kiosk (/kiosk/): the touch screen at the one-stop desk, no login.

Citizens browse the procedures by field (large targets), read what to bring and the appointment
date if they submit now, and scan their receipt's QR code with the desk's USB scanner: the
scanner types the QR's URL (`…/tra-cuu/?ma=<code>&pin=<pin>`) and Enter into the scan field that
every kiosk page keeps focused, and the kiosk shows the dossier's status with the public lookup's
masked view (dossiers.lookup, same throttle). The lookup is a POST, so the PIN never sits in the
kiosk's address bar or history; the pages are not cached and go back to the first screen after
settings.KIOSK_IDLE_SECONDS without a touch (static/js/kiosk.js; a meta refresh without JavaScript).
No outside requests: everything is served from static/.
"""

from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from dossiers import lookup as citizen_lookup
from procedures.deadlines import compute_due_at
from procedures.models import Procedure
from procedures.views import published_fields

MAX_SCAN_LENGTH = 500


def _render(request, template, context, status=200):
    context = {"idle_seconds": settings.KIOSK_IDLE_SECONDS, **context}
    response = render(request, f"kiosk/{template}", context, status=status)
    response["X-Robots-Tag"] = "noindex, nofollow"
    # Not "no-referrer": the browser would then send "Origin: null" with the lookup's POST, which
    # the CSRF check refuses. No kiosk URL carries a PIN.
    response["Referrer-Policy"] = "same-origin"
    return response


@never_cache
@require_safe
def home(request):
    return _render(request, "home.html", {"fields": published_fields()})


@never_cache
@require_safe
def field(request, code):
    procedures = list(Procedure.objects.published().filter(field__code=code).only("code", "name", "field_id"))
    if not procedures or "\x00" in code:
        return _render(request, "home.html", {"fields": published_fields(), "not_found": True}, status=404)
    return _render(request, "field.html", {"field": procedures[0].field, "procedures": procedures})


@never_cache
@require_safe
def procedure(request, code):
    if "\x00" in code:
        code = ""
    item = get_object_or_404(
        Procedure.objects.published().select_related("field").prefetch_related("documents"), code=code
    )
    due_at = compute_due_at(timezone.now(), item.processing_days, cutoff=item.same_day_cutoff)
    return _render(request, "procedure.html", {"procedure": item, "due_at": due_at})


def parse_scan(text):
    """(code, PIN) from what the scanner typed: the receipt QR's URL (`…?ma=<code>&pin=<pin>`),
    or a bare "<code> <pin>"."""
    text = (text or "").strip()[:MAX_SCAN_LENGTH]
    query = parse_qs(urlsplit(text).query) if "?" in text else {}
    if query:
        return citizen_lookup.normalise_code(query.get("ma", [""])[0]), query.get("pin", [""])[0].strip()
    parts = text.split()
    if len(parts) >= 2:
        return citizen_lookup.normalise_code(" ".join(parts[:-1])), parts[-1]
    return "", ""


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def lookup(request):
    """GET: how to scan or type the code and PIN. POST: the dossier's status (masked view)."""
    if request.method != "POST":
        return _render(request, "lookup.html", {})
    if request.POST.get("scan"):
        code, pin = parse_scan(request.POST["scan"])
    else:
        code = citizen_lookup.normalise_code(request.POST.get("ma", ""))
        pin = request.POST.get("pin", "").strip()[: citizen_lookup.MAX_PIN_LENGTH]
    if not code or not pin:
        return _render(request, "lookup.html", {"unreadable": True}, status=400)
    outcome = citizen_lookup.attempt_lookup(request, code, pin)
    if outcome.throttled_message:
        response = _render(request, "lookup.html", {"error": outcome.throttled_message}, status=429)
        response["Retry-After"] = str(outcome.retry_after)
        return response
    if outcome.dossier is None:
        return _render(request, "lookup.html", {"error": citizen_lookup.NOT_FOUND_MESSAGE}, status=404)
    result = citizen_lookup.lookup_result(outcome.dossier)
    return _render(request, "status.html", {"result": result, "dates": citizen_lookup.page_dates(result)})
