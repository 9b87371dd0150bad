"""Printed forms (PDF): the one-stop-shop forms of Circular 03/2025/TT-VPCP (Appendix I).

    render_form(form, dossier, *, pin=None) -> bytes      # WeasyPrint: templates/pdf/<form>.html → PDF
    printable_forms(dossier, events) -> [(form, label)]   # the forms a dossier page offers
    remember_pin(request, dossier.pin_key, pin)           # right after intake, before printing the receipt
    recall_pin(request, dossier.pin_key) -> str | None    # keyed by the dossier's first identifier,
                                                          # which survives the code given at acceptance
    form_pdf(request, code, form)                         # view, URL name dossiers:pdf

Forms (`FORMS`): "receipt" (Mẫu 01), "supplement" (Mẫu 02), "refusal" (Mẫu 03), "extension"
(Mẫu 04), "stop-notice" (Mẫu 05: stop, withdrawal, or closure after 15 days without the
supplement) and "control-slip" (Mẫu 06); the register book (Mẫu 07) is reporting/register.py.
A form that does not apply to the dossier's history (a refusal for a dossier never refused...)
raises Http404. The printed forms are Vietnamese legal documents: their fixed wording lives in
the templates (and in the label tables below), in Vietnamese, on purpose; they are not UI
strings and do not go through gettext. Each form fits one A4 page with up to 8 documents or
items; longer ones flow on, the signatures never alone on a page. See docs/forms.md.

The heading names the issuing agency under its governing body (`Agency.heading_parent`) and the
date line starts with its place name (`Agency.dateline_place`), both editable in the admin.

PIN policy: the PIN exists in clear only when the dossier is created. The reception view keeps it
in the officer's session (`remember_pin`) so the receipt printed right then carries it and the QR
code that opens the citizen lookup with code and PIN. Any other print (another session, a later
reprint once the session forgot it) carries no PIN.
"""

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
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
from .models import Channel, Dossier, Outcome, Stage, Status
from .periods import SUPPLEMENT_WAIT_DAYS

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
# How the result is collected (Decree 118/2025 Art. 22.3), as ticked on the receipt.
RETURN_METHOD_TEXT = {
    Channel.IN_PERSON: "Trực tiếp",
    Channel.POST: "Qua dịch vụ bưu chính",
    Channel.ONLINE: "Trực tuyến",
}
CHANNEL_TEXT = RETURN_METHOD_TEXT  # how the dossier was submitted: the same three ways


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
    """'ngày 02 tháng 3 năm 2026' (the place-and-date line under the motto). Decree 30/2020/NĐ-CP:
    a day below 10 and the months 1 and 2 take a leading zero, the other months do not."""
    value = _local(value)
    if value is None:
        return ""
    month = f"{value.month:02d}" if value.month < 3 else str(value.month)
    return f"ngày {value:%d} tháng {month} năm {value:%Y}"


def fmt_money(amount):
    """75000 → '75.000 đồng'."""
    return f"{amount:,} đồng".replace(",", ".")


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


def _acceptance(dossier):
    """The event that accepted the complete dossier (status 2): the receipt's moment."""
    return _last_event(dossier, "receive") or _last_event(dossier, "supplement_received", to_status=Status.RECEIVED)


def _restart(dossier, until=None):
    """The last restart of the processing period before `until` (an event): a supplement requested
    during processing came back and the period started again from zero (Art. 19.5)."""
    events = dossier.events.filter(action="supplement_received", from_stage=Stage.PROCESSING)
    if until is not None:
        events = events.filter(created_at__lte=until.created_at, id__lt=until.id)
    return events.order_by("-created_at", "-id").first()


def _promised(dossier):
    """The appointment printed on the receipt when the dossier was accepted (the acceptance
    event's due date), or None."""
    accepted = _acceptance(dossier)
    return _local((accepted.data or {}).get("due_at")) if accepted else None


def _documents(dossier):
    rows = []
    for item in dossier.documents or []:
        if not isinstance(item, dict) or item.get("received") is False:
            continue
        name = str(item.get("name") or "").strip()
        if name:
            rows.append({"name": name, "originals": item.get("originals") or 0, "copies": item.get("copies") or 0})
    return rows


def _fee(dossier):
    """The fee line: the procedure's fee text at receipt, else its amount."""
    text = " ".join(str((dossier.procedure_snapshot or {}).get("fee_text") or "").split())
    if text:
        return text
    amount = dossier.procedure.fee_vnd
    if amount is None:
        return ""
    return fmt_money(amount) if amount else "Không thu phí, lệ phí"


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
    accepted = _acceptance(dossier)
    if dossier.received_at is None or accepted is None:
        raise Http404("This dossier has not been accepted: there is no receipt.")
    promised = _promised(dossier)
    restart = _restart(dossier)
    extension = _last_event(dossier, "extend")
    return {
        "agency": dossier.receiving_agency,
        "dateline": fmt_dateline(dossier.received_at),
        "documents": _documents(dossier),
        "processing_days": fmt_processing_days(dossier.procedure_snapshot.get("processing_days")),
        "received_long": fmt_long(dossier.received_at),
        "restarted_long": fmt_long(restart.created_at) if restart else "",
        "due_long": fmt_long(dossier.due_at),
        "due_half": half_of_day(dossier.due_at),
        # A reprint after a restart or an extension also shows the appointment first given.
        "promised_long": fmt_long(promised) if promised and promised != dossier.due_at else "",
        "extended_on": fmt_date(extension.created_at) if extension else "",
        "fee": _fee(dossier),
        "channel": CHANNEL_TEXT.get(dossier.channel, ""),
        "return_methods": [(text, value == dossier.return_method) for value, text in RETURN_METHOD_TEXT.items()],
        "register_book": f"{_local(dossier.received_at):%Y}",
        "register_number": dossier.register_number(),
        "officer": person(accepted.actor),
        **_lookup_block(dossier, pin),
    }


def _same_name(name):
    return " ".join(name.split()).casefold()


def _supplement_items(dossier, event):
    """The missing items as [{"name", "reason"}]: an item may carry its own reason (a dict with
    "name" and "reason"); a document the procedure requires (its snapshot's `required`, true in
    snapshots taken before that flag existed) gets that as its reason."""
    required = {
        _same_name(str(doc.get("name") or ""))
        for doc in (dossier.procedure_snapshot or {}).get("documents") or []
        if isinstance(doc, dict) and doc.get("required", True)
    }
    items = []
    for raw in (event.data or {}).get("missing_documents") or []:
        name, reason = (raw.get("name"), raw.get("reason")) if isinstance(raw, dict) else (raw, "")
        name, reason = str(name or "").strip(), str(reason or "").strip()
        if not name:
            continue
        if not reason and _same_name(name) in required:
            reason = "Chưa nộp; thành phần hồ sơ phải có theo quy định của thủ tục"
        items.append({"name": name, "reason": reason})
    return items


def _supplement(dossier, pin):
    event = _last_event(dossier, "request_supplement")
    if event is None:
        raise Http404("No supplement was requested for this dossier.")
    comment_lines = [line.strip() for line in (event.comment or "").splitlines() if line.strip()]
    items = _supplement_items(dossier, event)
    # At intake the comment is the list itself; during processing it is the reason.
    reason = "" if not items or comment_lines == [item["name"] for item in items] else (event.comment or "").strip()
    at_intake = event.to_stage == Stage.INTAKE
    context = {
        "event": event,
        "at_intake": at_intake,
        "agency": dossier.receiving_agency if at_intake else dossier.competent_agency,
        "dateline": fmt_dateline(event.created_at),
        "submitted": fmt_date(dossier.received_at or dossier.submitted_at),
        "requested_at": fmt_long(event.created_at),
        "items": items or [{"name": line, "reason": ""} for line in comment_lines],
        "reason": reason,
        "wait_days": SUPPLEMENT_WAIT_DAYS,
        "officer": person(event.actor),
    }
    if pin and at_intake and dossier.received_at is None:
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
    original = _local(data.get("original_due_at") or dossier.original_due_at)
    new = data.get("new_due_at") or dossier.due_at
    promised = _promised(dossier)
    restart = _restart(dossier, until=event)
    return {
        "event": event,
        "agency": dossier.competent_agency,
        "dateline": fmt_dateline(event.created_at),
        "received": fmt_date(dossier.received_at),
        # The appointment of the receipt, when the due date no longer is that one (the period
        # restarted after a supplement, or a financial obligation's waiting time was added).
        "promised_long": fmt_long(promised) if promised and promised != original else "",
        "restarted_long": fmt_long(restart.created_at) if restart else "",
        "original_due_long": fmt_long(original),
        "original_due": fmt_date(original),
        "new_due_long": fmt_long(new),
        "new_due": fmt_date(new),
        "new_due_half": half_of_day(new),
        "reason": event.comment,
        # Art. 19.6: the one-stop office is told, to inform the applicant and keep track.
        "desk": dossier.receiving_agency,
        "desk_note": "Bộ phận Một cửa, để theo dõi và thông báo",
        "officer": person(event.actor),
    }


# Mẫu 05 is issued when processing stops for good without a result: a stop decided by the
# competent agency, a withdrawal at the applicant's request (Art. 21), or the closure of a dossier
# whose supplement did not come back within SUPPLEMENT_WAIT_DAYS days (Art. 19.5: the scheduled
# task stops it as the system, with no actor).
STOP_ACTIONS = ("stop", "withdraw")


def _stop_kind(event):
    if event.action == "withdraw":
        return "withdrawal"
    if event.actor_id is None and event.from_status == Status.AWAITING_SUPPLEMENT:
        return "closure"
    return "stop"


def _stop_notice(dossier, pin):
    event = (
        dossier.events.filter(action__in=STOP_ACTIONS).select_related("actor").order_by("-created_at", "-id").first()
    )
    if event is None:
        raise Http404("Processing of this dossier was not stopped.")
    kind = _stop_kind(event)
    at_intake = event.from_stage == Stage.INTAKE
    agency = dossier.receiving_agency if at_intake else dossier.competent_agency
    request = None
    if kind == "closure":
        request = (
            dossier.events.filter(action="request_supplement", created_at__lte=event.created_at)
            .order_by("-created_at", "-id")
            .first()
        )
    return {
        "event": event,
        "kind": kind,
        "agency": agency,
        "dateline": fmt_dateline(event.created_at),
        "submitted": fmt_date(dossier.received_at or dossier.submitted_at),
        "stopped_long": fmt_long(event.created_at),
        "requested": fmt_date(request.created_at) if request else "",
        "wait_days": SUPPLEMENT_WAIT_DAYS,
        "reason": "" if kind == "closure" else event.comment,
        "desk": dossier.receiving_agency,
        "desk_note": "Bộ phận Một cửa, để theo dõi" if agency.pk != dossier.receiving_agency_id else "",
        "officer": person(event.actor) if event.actor_id else "",
    }


def _stage_line(from_value, to_value, labels):
    if from_value in (None, ""):
        return labels.get(to_value, str(to_value))
    return f"{labels.get(from_value, from_value)} → {labels.get(to_value, to_value)}"


def _print_label(action):
    spec = workflow.event_spec(action)
    return spec.print_label if spec and spec.print_label else action


# Actions whose paper goes to the applicant (a request, a notice, the result): the applicant is
# the receiving side of that hand-over on the control slip.
TO_APPLICANT = ("request_supplement", "refuse", "extend", "stop", "withdraw", "request_obligation")
FROM_APPLICANT = ("supplement_received", "obligation_fulfilled")


def _handover_sides(dossier, events, index, names):
    """(giver, receiver) of the hand-over recorded by events[index], for the slip's signatures."""
    event = events[index]
    actor = person(event.actor)
    data = event.data or {}
    sides = data.get("handover")
    if isinstance(sides, dict):
        return _agency_sides(events, index, sides)
    if event.from_status is None or event.action in FROM_APPLICANT:
        return dossier.applicant_name, actor  # the applicant hands the dossier (or the papers) in
    if event.action in ("assign", "reassign") and data.get("assignee"):
        return actor, names.get(data["assignee"], data["assignee"])
    if event.action == "return_result":
        return actor, str(data.get("collected_by") or dossier.applicant_name)
    if event.action in TO_APPLICANT:
        return actor, dossier.applicant_name
    following = next((e for e in events[index + 1 :] if e.actor_id), None)
    return actor, person(following.actor) if following else ""


def _side(user, agency_name):
    """A side of an inter-agency hand-over: the officer and their agency."""
    name = person(user) if user is not None else ""
    return f"{name} ({agency_name})" if name and agency_name else name or agency_name or ""


def _agency_sides(events, index, sides):
    """(giver, receiver) of a hand-over between agencies (inter-agency routing): the officer who
    handed it over and the one who accepted it (the next to act), each with their agency."""
    event = events[index]
    giver_agency, receiver_agency = sides.get("giver_agency_name", ""), sides.get("receiver_agency_name", "")
    if event.action == "accept_handover":
        handed = next((e for e in reversed(events[:index]) if e.action == "hand_over"), None)
        return _side(handed.actor if handed else None, giver_agency), _side(event.actor, receiver_agency)
    following = next((e for e in events[index + 1 :] if e.actor_id), None)
    return _side(event.actor, giver_agency), _side(following.actor if following else None, receiver_agency)


def _control_slip(dossier, pin):
    events = list(dossier.events.select_related("actor").order_by("created_at", "id"))
    assignees = {(e.data or {}).get("assignee") for e in events if e.action in ("assign", "reassign")} - {None, ""}
    User = get_user_model()
    names = {u.get_username(): person(u) for u in User.objects.filter(**{f"{User.USERNAME_FIELD}__in": assignees})}
    rows = []
    for index, event in enumerate(events):
        giver, receiver = _handover_sides(dossier, events, index, names)
        rows.append(
            {
                "at": fmt_datetime(event.created_at),
                "action": _print_label(event.action),
                "handover": _stage_line(event.from_stage or None, event.to_stage, STAGE_TEXT),
                "status": _stage_line(event.from_status, event.to_status, STATUS_TEXT),
                "giver": giver,
                "receiver": receiver,
                "step_due": fmt_datetime(event.step_due_at),
                "outcome": OUTCOME_TEXT.get(event.step_outcome, ""),
                "note": event.comment,
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


@dataclass(frozen=True)
class Form:
    number: str  # "Mẫu số" of Circular 03/2025/TT-VPCP, Appendix I
    template: str
    build: Callable


FORMS = {
    "receipt": Form("01", "pdf/receipt.html", _receipt),
    "supplement": Form("02", "pdf/supplement.html", _supplement),
    "refusal": Form("03", "pdf/refusal.html", _refusal),
    "extension": Form("04", "pdf/extension.html", _extension),
    "stop-notice": Form("05", "pdf/stop_notice.html", _stop_notice),
    "control-slip": Form("06", "pdf/control_slip.html", _control_slip),
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
    if actions & set(STOP_ACTIONS):
        forms.append(("stop-notice", _("Notice that processing stopped (form 05)")))
    forms.append(("control-slip", _("Process control slip (form 06)")))
    return forms


# --- Rendering -------------------------------------------------------------------------------


def render_form(form, dossier, *, pin=None):
    """The PDF bytes of `form` for `dossier`. Http404 for an unknown form or one that does not apply.

    `pin` (only right after intake) is printed, with a QR code of the lookup link including it, on
    the receipt; a PIN that does not match the dossier is ignored, never printed."""
    if form not in FORMS:
        raise Http404("Unknown form.")
    spec = FORMS[form]
    pin = str(pin).strip() if pin else None
    if pin and not dossier.check_pin(pin):
        pin = None
    snapshot = dossier.procedure_snapshot or {}
    context = {
        "dossier": dossier,
        "form_number": spec.number,
        "procedure_name": snapshot.get("name") or dossier.procedure.name,
        "procedure_code": snapshot.get("code") or dossier.procedure.code,
        "returning_agency": dossier.returning_agency,
        "competent_agency": dossier.competent_agency,
        **spec.build(dossier, pin if form in PIN_FORMS else None),
    }
    # The heading and the date line of the issuing agency (Decree 30/2020/NĐ-CP).
    context["heading_parent"] = context["agency"].heading_parent
    context["place"] = context["agency"].dateline_place
    html = render_to_string(spec.template, context)
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
        Dossier.objects.visible_to(request.user)
        .select_related("procedure", "receiving_agency__parent", "competent_agency__parent", "returning_agency")
        .with_code(code),
    )
    pin = None
    if form in PIN_FORMS:
        pin = recall_pin(request, dossier.pin_key)
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
