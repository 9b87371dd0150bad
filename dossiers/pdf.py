"""Printed forms (PDF): the one-stop-shop forms of Circular 01/2018/TT-VPCP and its 2025 successor.

    render_form(form, dossier, *, pin=None) -> bytes      # WeasyPrint: templates/pdf/<form>.html → PDF
    remember_pin(request, code, pin)                      # right after intake, before printing the receipt
    recall_pin(request, code) -> str | None
    form_pdf(request, code, form)                         # view, URL name dossiers:pdf

Forms (`FORMS`): "receipt" (Mẫu 01), "supplement" (Mẫu 02), "refusal" (Mẫu 03), "extension"
(Mẫu 04), "control-slip" (Mẫu 06). A form that does not apply to the dossier's history (a refusal
for a dossier never refused...) raises Http404. The printed forms are Vietnamese legal documents:
their fixed wording lives in the templates (and in the label tables below), in Vietnamese, on
purpose; they are not UI strings and do not go through gettext. See docs/forms.md.

PIN policy: the PIN exists in clear only when the dossier is created. The reception view keeps it
in the officer's session (`remember_pin`) so the receipt printed right then carries it and the QR
code that opens the citizen lookup with code and PIN. Any other print (another session, a later
reprint once the session forgot it) carries no PIN.
"""

import hashlib
import hmac
import secrets
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from . import workflow
from .models import Dossier, Outcome, Stage, Status

SESSION_KEY = "receipt_pins"
MAX_REMEMBERED_PINS = 20

# Forms that print the lookup block (PIN and QR code) when the PIN is known: the receipt, and the
# supplement request handed over at intake instead of a receipt (the citizen still needs the PIN).
PIN_FORMS = ("receipt", "supplement")

# --- Document wording (Vietnamese on purpose: printed legal documents, not UI) -------------------

# The national 10-code status vocabulary as printed on the control slip.
STATUS_TEXT = {
    Status.SUBMITTED_ONLINE: "Mới đăng ký",
    Status.RECEIVED: "Được tiếp nhận",
    Status.REFUSED: "Không được tiếp nhận",
    Status.PROCESSING: "Đang xử lý",
    Status.AWAITING_SUPPLEMENT: "Yêu cầu bổ sung giấy tờ",
    Status.AWAITING_OBLIGATION: "Yêu cầu thực hiện nghĩa vụ tài chính",
    Status.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
    Status.STOPPED: "Dừng xử lý",
    Status.RESULT_READY: "Đã xử lý xong",
    Status.RETURNED: "Đã trả kết quả",
}
STAGE_TEXT = {
    Stage.INTAKE: "Bộ phận tiếp nhận và trả kết quả",
    Stage.PROCESSING: "Chuyên viên thẩm định, xử lý",
    Stage.APPROVAL: "Lãnh đạo phê duyệt",
    Stage.RETURN: "Bộ phận tiếp nhận và trả kết quả (trả kết quả)",
    Stage.CLOSED: "Kết thúc",
}
# Column "Kết quả giải quyết hồ sơ (Trước hạn/đúng hạn/quá hạn)" of Mẫu 06.
OUTCOME_TEXT = {Outcome.EARLY: "Trước hạn", Outcome.ON_TIME: "Đúng hạn", Outcome.LATE: "Quá hạn"}
SYSTEM_ACTOR = "Hệ thống"


# --- Formatting ------------------------------------------------------------------------------


def _local(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
        if value is None:
            return None
    return timezone.localtime(value)


def fmt_date(value):
    """dd/mm/yyyy in Vietnam time."""
    value = _local(value)
    return f"{value:%d/%m/%Y}" if value else ""


def fmt_datetime(value):
    """HH:MM dd/mm/yyyy in Vietnam time."""
    value = _local(value)
    return f"{value:%H:%M %d/%m/%Y}" if value else ""


def fmt_long(value):
    """'09 giờ 00 phút, ngày 02/03/2026' (the forms' time lines)."""
    value = _local(value)
    return f"{value:%H} giờ {value:%M} phút, ngày {value:%d/%m/%Y}" if value else ""


def fmt_dateline(value):
    """'ngày 02 tháng 03 năm 2026' (the place-and-date line under the motto)."""
    value = _local(value)
    return f"ngày {value:%d} tháng {value:%m} năm {value:%Y}" if value else ""


def half_of_day(value):
    """'buổi sáng' / 'buổi chiều': appointments keep the half of the day of acceptance."""
    value = _local(value)
    if value is None:
        return ""
    return "buổi sáng" if value.hour < 12 else "buổi chiều"


def fmt_processing_days(value):
    try:
        days = Decimal(str(value or "0"))
    except InvalidOperation:
        return ""
    if days == 0:
        return "trong ngày làm việc"
    text = f"{days.normalize():f}".replace(".", ",")
    return f"{text} ngày làm việc"


def person(user):
    if user is None:
        return SYSTEM_ACTOR
    return user.get_full_name() or user.get_username()


def lookup_url(code, pin=None):
    """The citizen lookup link printed as a QR code: SITE_URL/tra-cuu/?ma=<code>[&pin=<pin>]."""
    query = {"ma": code}
    if pin:
        query["pin"] = pin
    return f"{settings.SITE_URL.rstrip('/')}{reverse('dossiers:lookup')}?{urlencode(query)}"


def qr_data_uri(url):
    return segno.make(url, error="m").svg_data_uri(scale=4)


# --- Per-form context ------------------------------------------------------------------------


def _last_event(dossier, action, **filters):
    return (
        dossier.events.filter(action=action, **filters).select_related("actor").order_by("-created_at", "-id").first()
    )


def _documents(dossier):
    rows = []
    for item in dossier.documents or []:
        if not isinstance(item, dict) or item.get("received") is False:
            continue
        name = str(item.get("name") or "").strip()
        if name:
            rows.append({"name": name, "originals": item.get("originals") or 0, "copies": item.get("copies") or 0})
    return rows


def _lookup_block(dossier, pin):
    url = lookup_url(dossier.code, pin)
    return {
        "pin": pin,
        "lookup_url": url,
        "lookup_page": f"{settings.SITE_URL.rstrip('/')}{reverse('dossiers:lookup')}",
        "qr": qr_data_uri(url),
    }


def _receipt(dossier, pin):
    # The receipt is issued when the complete dossier is accepted (status 2).
    accepted = _last_event(dossier, "receive") or _last_event(dossier, "supplement_received", to_status=Status.RECEIVED)
    if dossier.received_at is None or accepted is None:
        raise Http404("This dossier has not been accepted: there is no receipt.")
    return {
        "agency": dossier.receiving_agency,
        "dateline": fmt_dateline(dossier.received_at),
        "documents": _documents(dossier),
        "processing_days": fmt_processing_days(dossier.procedure_snapshot.get("processing_days")),
        "received_long": fmt_long(dossier.received_at),
        "due_long": fmt_long(dossier.due_at),
        "due_half": half_of_day(dossier.due_at),
        "officer": person(accepted.actor),
        **_lookup_block(dossier, pin),
    }


def _supplement(dossier, pin):
    event = _last_event(dossier, "request_supplement")
    if event is None:
        raise Http404("No supplement was requested for this dossier.")
    comment_lines = [line.strip() for line in (event.comment or "").splitlines() if line.strip()]
    items = [str(m).strip() for m in (event.data or {}).get("missing_documents") or [] if str(m).strip()]
    # At intake the comment is the list itself; during processing it is the reason.
    reason = "" if not items or comment_lines == items else (event.comment or "").strip()
    context = {
        "event": event,
        "at_intake": event.to_stage == Stage.INTAKE,
        "agency": dossier.receiving_agency if event.to_stage == Stage.INTAKE else dossier.competent_agency,
        "dateline": fmt_dateline(event.created_at),
        "submitted": fmt_date(dossier.received_at or dossier.submitted_at),
        "requested_at": fmt_long(event.created_at),
        "items": items or comment_lines,
        "reason": reason,
        "officer": person(event.actor),
    }
    if pin and event.to_stage == Stage.INTAKE and dossier.received_at is None:
        context.update(_lookup_block(dossier, pin))
    return context


def _refusal(dossier, pin):
    event = _last_event(dossier, "refuse")
    if event is None:
        raise Http404("This dossier was not refused.")
    at_intake = event.from_stage == Stage.INTAKE
    return {
        "event": event,
        "at_intake": at_intake,
        "agency": dossier.receiving_agency if at_intake else dossier.competent_agency,
        "dateline": fmt_dateline(event.created_at),
        "submitted": fmt_date(dossier.received_at or dossier.submitted_at),
        "reason": event.comment,
        "officer": person(event.actor),
    }


def _extension(dossier, pin):
    event = _last_event(dossier, "extend")
    if event is None:
        raise Http404("No extension letter was issued for this dossier.")
    data = event.data or {}
    original = data.get("original_due_at") or dossier.original_due_at
    new = data.get("new_due_at") or dossier.due_at
    return {
        "event": event,
        "agency": dossier.competent_agency,
        "dateline": fmt_dateline(event.created_at),
        "received": fmt_date(dossier.received_at),
        "original_due_long": fmt_long(original),
        "original_due": fmt_date(original),
        "new_due_long": fmt_long(new),
        "new_due": fmt_date(new),
        "new_due_half": half_of_day(new),
        "reason": event.comment,
        "officer": person(event.actor),
    }


def _stage_line(from_value, to_value, labels):
    if from_value in (None, ""):
        return labels.get(to_value, str(to_value))
    return f"{labels.get(from_value, from_value)} → {labels.get(to_value, to_value)}"


def _print_label(action):
    spec = workflow.event_spec(action)
    return spec.print_label if spec and spec.print_label else action


def _control_slip(dossier, pin):
    events = list(dossier.events.select_related("actor").order_by("created_at", "id"))
    assignees = {(e.data or {}).get("assignee") for e in events if e.action in ("assign", "reassign")} - {None, ""}
    User = get_user_model()
    names = {u.get_username(): person(u) for u in User.objects.filter(**{f"{User.USERNAME_FIELD}__in": assignees})}
    rows = []
    for event in events:
        handover = _stage_line(event.from_stage or None, event.to_stage, STAGE_TEXT)
        status = _stage_line(event.from_status, event.to_status, STATUS_TEXT)
        note = event.comment
        assignee = (event.data or {}).get("assignee") if event.action in ("assign", "reassign") else None
        if assignee:
            note = f"Chuyên viên xử lý: {names.get(assignee, assignee)}" + (f". {note}" if note else "")
        rows.append(
            {
                "at": fmt_datetime(event.created_at),
                "action": _print_label(event.action),
                "handover": handover,
                "status": status,
                "actor": person(event.actor),
                "step_due": fmt_datetime(event.step_due_at),
                "outcome": OUTCOME_TEXT.get(event.step_outcome, ""),
                "note": note,
            }
        )
    return {
        "agency": dossier.receiving_agency,
        "dateline": fmt_dateline(timezone.now()),
        "received": fmt_datetime(dossier.received_at),
        "due": fmt_datetime(dossier.due_at),
        "original_due": fmt_datetime(dossier.original_due_at),
        "rows": rows,
    }


FORMS = {
    "receipt": ("pdf/receipt.html", _receipt),
    "supplement": ("pdf/supplement.html", _supplement),
    "refusal": ("pdf/refusal.html", _refusal),
    "extension": ("pdf/extension.html", _extension),
    "control-slip": ("pdf/control_slip.html", _control_slip),
}


def printable_forms(dossier, events):
    """The printed forms (Mẫu 01–06) that apply to this dossier, as (form, label) pairs."""
    actions = {e.action for e in events}
    forms = []
    if dossier.received_at:
        forms.append(("receipt", _("Receipt (form 01)")))
    if "request_supplement" in actions:
        forms.append(("supplement", _("Supplement request (form 02)")))
    if "refuse" in actions:
        forms.append(("refusal", _("Refusal notice (form 03)")))
    if "extend" in actions:
        forms.append(("extension", _("Apology and extension letter (form 04)")))
    forms.append(("control-slip", _("Process control slip (form 06)")))
    return forms


# --- Rendering -------------------------------------------------------------------------------


def render_form(form, dossier, *, pin=None):
    """The PDF bytes of `form` for `dossier`. Http404 for an unknown form or one that does not apply.

    `pin` (only right after intake) is printed, with a QR code of the lookup link including it, on
    the receipt; a PIN that does not match the dossier is ignored, never printed."""
    if form not in FORMS:
        raise Http404("Unknown form.")
    template, build = FORMS[form]
    pin = str(pin).strip() if pin else None
    if pin and not dossier.check_pin(pin):
        pin = None
    snapshot = dossier.procedure_snapshot or {}
    context = {
        "dossier": dossier,
        "procedure_name": snapshot.get("name") or dossier.procedure.name,
        "procedure_code": snapshot.get("code") or dossier.procedure.code,
        "returning_agency": dossier.returning_agency,
        "competent_agency": dossier.competent_agency,
        **build(dossier, pin if form in PIN_FORMS else None),
    }
    html = render_to_string(template, context)
    # Only inline data: URIs (the QR code) may be loaded: no file or network access from a PDF.
    fetcher = URLFetcher(allowed_protocols={"data"})
    return HTML(string=html, base_url=settings.SITE_URL, url_fetcher=fetcher).write_pdf()


# --- PIN in the officer's session ----------------------------------------------------------------


def _pin_pad(nonce, code):
    """A one-time pad for a 6-digit PIN: HMAC-SHA256 (the PIN hash's key) of a random nonce and the
    code, as a number below 10**6. The session stores (PIN + pad) mod 10**6 and the nonce: the
    session table (and its backups) never hold a PIN in clear, and without the server key the
    stored number says nothing about it (the PIN hash in the dossier row already needs that key)."""
    key = (settings.PIN_HASH_KEY or settings.SECRET_KEY).encode()
    digest = hmac.new(key, f"receipt-pin:{nonce}:{code}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % 10**6


def remember_pin(request, code, pin):
    """Keep the just-issued PIN, masked (`_pin_pad`), in the session so the receipt printed right
    now can carry it, for RECEIPT_PIN_SECONDS. Only the MAX_REMEMBERED_PINS most recent are kept."""
    stored = request.session.get(SESSION_KEY)
    pins = dict(stored) if isinstance(stored, dict) else {}
    pins.pop(code, None)
    nonce = secrets.token_hex(16)
    masked = (int(pin) + _pin_pad(nonce, code)) % 10**6
    pins[code] = [nonce, masked, int(timezone.now().timestamp())]
    while len(pins) > MAX_REMEMBERED_PINS:
        pins.pop(next(iter(pins)))
    request.session[SESSION_KEY] = pins


def recall_pin(request, code):
    stored = request.session.get(SESSION_KEY)
    entry = stored.get(code) if isinstance(stored, dict) else None
    if not (isinstance(entry, list) and len(entry) == 3):
        return None  # nothing remembered (or a clear PIN from before issue 13: not used)
    nonce, masked, issued = entry
    if timezone.now().timestamp() - issued > settings.RECEIPT_PIN_SECONDS:
        return None
    return f"{(int(masked) - _pin_pad(nonce, code)) % 10**6:06d}"


# --- View ------------------------------------------------------------------------------------


@require_safe
@login_required
def form_pdf(request, code, form):
    """GET /can-bo/ho-so/<code>/in/<form>.pdf — inline PDF, 404 outside the user's agencies."""
    if form not in FORMS:
        raise Http404("Unknown form.")
    dossier = get_object_or_404(
        Dossier.objects.visible_to(request.user).select_related(
            "procedure", "receiving_agency__parent", "competent_agency__parent", "returning_agency"
        ),
        code=code,
    )
    pin = None
    if form in PIN_FORMS:
        pin = recall_pin(request, dossier.code)
        if pin is None:
            from . import lookup  # the lookup's throttle (lookup imports nothing of the PDFs)

            pin, refused = lookup.pin_from_query(request, dossier, request.GET.get("pin"))
            if refused is not None:
                response = HttpResponse(
                    lookup.throttled_message(refused.retry_after, refused.code_locked),
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(refused.retry_after)
                return response
    content = render_form(form, dossier, pin=pin)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, f"{form}-{dossier.code}.pdf")
    response["Cache-Control"] = "private, no-store"
    return response
