"""The citizen's dossier lookup: `/tra-cuu/?ma=<code>&pin=<pin>` (the receipt's QR code opens
exactly that URL) and the data behind `GET /api/v1/lookup/`.

Nothing is shown without the right code *and* PIN; a wrong PIN and an unknown code give the same
answer after the same work (a PIN hash is computed either way). Attempts are throttled per
client address (`dossiers.throttle`). The citizen sees the status in plain words, the dates, a
timeline without officer names or internal comments (except the list of documents to bring and
a refusal's reason, which they need) and a masked name.
"""

import hmac
import re
import unicodedata
from dataclasses import dataclass

from django.db import connection
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from rest_framework import serializers

from procedures.models import Agency

from . import sealing, signals, throttle, workflow
from .models import Dossier, Status, hash_pin

NOT_FOUND_MESSAGE = gettext_lazy("No dossier matches this code and PIN.")
# Compared with when the code is unknown, so that case does the same work as a wrong PIN.
UNKNOWN_PIN_HASH = "0" * 64
MAX_CODE_LENGTH = 64
MAX_PIN_LENGTH = 12

# The columns of the dossier row a lookup reads (the lookup is the hottest public request: one
# table, no more than it shows; the agencies' and the procedure's names come with the citizen's
# history, `citizen_history`, cached under the chain head).
DOSSIER_FIELDS = (
    "code",
    "provisional_code",
    "pin_hash",
    "status",
    "procedure",
    "procedure_snapshot",
    "applicant_name",
    "submitted_at",
    "received_at",
    "due_at",
    "finished_at",
    "returned_at",
    "supplement_requests",
    "receiving_agency",
    "returning_agency",
    "chain_head",
)
EVENT_FIELDS = ("dossier_id", "action", "from_status", "from_stage", "comment", "data", "created_at")

# The status in the words a citizen would use.
STATUS_TEXT = {
    Status.SUBMITTED_ONLINE: gettext_lazy("Submitted online, waiting to be checked by the office"),
    Status.RECEIVED: gettext_lazy("Received, waiting to be processed"),
    Status.REFUSED: gettext_lazy("Refused"),
    Status.PROCESSING: gettext_lazy("Being processed"),
    Status.AWAITING_SUPPLEMENT: gettext_lazy("Waiting for you to bring more documents"),
    Status.AWAITING_OBLIGATION: gettext_lazy("Waiting for you to pay the fee or tax"),
    Status.WITHDRAWN: gettext_lazy("Withdrawn"),
    Status.STOPPED: gettext_lazy("Processing stopped"),
    Status.RESULT_READY: gettext_lazy("The result is ready to collect"),
    Status.RETURNED: gettext_lazy("The result has been handed over"),
}


def throttled_message(retry_after, code_locked=False):
    minutes = max(1, -(-int(retry_after) // 60))
    if code_locked:
        return ngettext(
            "Too many wrong PINs were tried for this dossier code, so its lookup is locked for now and the "
            "office has been told. Please try again in %(minutes)d minute, or ask the office.",
            "Too many wrong PINs were tried for this dossier code, so its lookup is locked for now and the "
            "office has been told. Please try again in %(minutes)d minutes, or ask the office.",
            minutes,
        ) % {"minutes": minutes}
    return ngettext(
        "Too many unsuccessful lookups from your connection. Please try again in %(minutes)d minute.",
        "Too many unsuccessful lookups from your connection. Please try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


_DASHES = re.compile(r"[\s\-\u2010-\u2015\u2212_/]+")


def normalise_code(text):
    """A dossier code as the citizen typed it → as it is stored: upper case, the dashes (and
    spaces, en dashes, slashes typed instead) as one "-" ("000.00.01.h55 – 251203 0001" →
    "000.00.01.H55-251203-0001"). Codes are built from agency codes (upper case) and digits."""
    text = unicodedata.normalize("NFKC", str(text or ""))[: MAX_CODE_LENGTH * 2]
    return _DASHES.sub("-", text).strip("-").upper()[:MAX_CODE_LENGTH]


_SURROGATES = re.compile("[\ud800-\udfff]")


def plain_query(params, max_code=MAX_CODE_LENGTH, max_pin=MAX_PIN_LENGTH):
    """(code, pin) of a lookup's query string when it is plainly valid (both present, not blank
    after trimming, within their lengths, no NUL or surrogate character), else None: then the
    API's `LookupQuerySerializer` validates it and words the 400. Exactly what that serializer
    accepts and gives (a test compares them), without building it on every lookup (≈ 1 ms)."""
    code, pin = params.get("code"), params.get("pin")
    if not isinstance(code, str) or not isinstance(pin, str):
        return None
    code, pin = code.strip(), pin.strip()
    if not (0 < len(code) <= max_code and 0 < len(pin) <= max_pin):
        return None
    if "\x00" in code or "\x00" in pin or _SURROGATES.search(code) or _SURROGATES.search(pin):
        return None
    return code, pin


def find_dossier(code, pin):
    """The dossier with this code if `pin` is its PIN, else None.

    A wrong PIN and an unknown code cost the same work: one indexed read that finds a row or none
    (`_lookup_row`), one PIN hash, one constant-time comparison (with a dummy hash when the code
    is unknown). Only a right PIN turns the row into a dossier."""
    code = (code or "").strip()[:MAX_CODE_LENGTH]
    row = _lookup_row(code)
    return _dossier_of(row) if _pin_matches(row, code, pin) else None


def _row_statement():
    """(SQL, attribute names, converters) of `_lookup_row`'s statement. The ORM writes it once per
    process, the same one `with_code(code).only(*DOSSIER_FIELDS)` would compile on every lookup
    (≈ 0.6 ms of the web worker's CPU on the hottest public request)."""
    statement = _ROW_STATEMENTS.get(connection.vendor)
    if statement is None:
        compiler = (
            Dossier.objects.with_code("").only(*DOSSIER_FIELDS).order_by()[:1].query.get_compiler(connection=connection)
        )
        sql, params = compiler.as_sql()
        if len(params) != 2:  # the code, for each of the two columns
            raise RuntimeError(f"the lookup's statement takes {len(params)} parameters, not 2")
        columns = [column for column, _sql, _alias in compiler.select]
        statement = (sql, [column.target.attname for column in columns], compiler.get_converters(columns))
        _ROW_STATEMENTS[connection.vendor] = statement
    return statement


_ROW_STATEMENTS = {}  # {database vendor: `_row_statement()`}


def _lookup_row(code):
    """{attribute: value as the database gave it} of the dossier known by `code` (the columns a
    lookup shows and its PIN hash), or None: one statement whatever the PIN (issue 20: a read of
    the PIN row, then of the dossier, was one more round trip). Only a right PIN makes a Dossier
    of it (`_dossier_of`), so a wrong PIN costs what an unknown code costs."""
    if "\x00" in code:  # PostgreSQL refuses NUL bytes in text parameters; no code contains one
        code = ""
    sql, names, _converters = _row_statement()
    with connection.cursor() as cursor:
        cursor.execute(sql, [code, code])
        row = cursor.fetchone()
    return None if row is None else dict(zip(names, row, strict=True))


def _dossier_of(row):
    """The Dossier of a `_lookup_row` row: the fields' converters applied, the other columns
    deferred (as the ORM's own iteration does)."""
    _sql, names, converters = _row_statement()
    values = [row[name] for name in names]
    for position, (functions, expression) in converters.items():
        for convert in functions:
            values[position] = convert(values[position], expression, connection)
    return Dossier.from_db(connection.alias, names, values)


def _pin_matches(row, code, pin):
    """Whether `pin` is the PIN of the dossier of `row` (None: the code is unknown, compared with
    a dummy hash so that case does the same work)."""
    pin = (pin or "").strip()[:MAX_PIN_LENGTH]
    # The PIN is hashed with the dossier's first identifier (`Dossier.pin_key`): its provisional
    # reference when it got its code at acceptance, else its code.
    if row is None:
        stored, key = UNKNOWN_PIN_HASH, code
    else:
        stored, key = row["pin_hash"], row["provisional_code"] or row["code"]
    return hmac.compare_digest(stored, hash_pin(key, pin)) and row is not None


@dataclass
class Outcome:
    """One lookup: the dossier (right code and PIN), or nothing, or a refusal (throttled)."""

    dossier: Dossier | None = None
    throttled_message: str = ""
    retry_after: int = 0


def attempt_lookup(request, code, pin):
    """A throttled lookup of `code` (already `normalise_code`d) and `pin`, for the page, the API
    and the kiosk.

    Only a wrong PIN for an existing code counts towards the address's lockout: a code that
    exists in no dossier (a citizen's typo) is counted on the address's separate, larger
    allowance for unknown codes (`throttle.UNKNOWN_CODE_FACTOR`). Both do the same statements
    and get the same answer; a PIN cannot be guessed for a code that does not exist."""
    code = (code or "")[:MAX_CODE_LENGTH]
    row = _lookup_row(code)
    right = _pin_matches(row, code, pin)
    # The PIN is checked first so that the attempt is counted, and a right one given back, in one
    # call (one Redis script): the same counts and answers as reserving, then giving back.
    attempt = throttle.begin_attempt(request, code=code, known=row is not None, correct=right)
    if not attempt.allowed:
        if attempt.lock_started:
            code_locked(request, code)
        return Outcome(
            throttled_message=throttled_message(attempt.retry_after, attempt.code_locked),
            retry_after=attempt.retry_after,
        )
    return Outcome(dossier=_dossier_of(row) if right else None)


def pin_from_query(request, dossier, candidate):
    """An officer's `?pin=` on a receipt (to print it in the QR code): `(pin, None)` when it is the
    dossier's PIN, `(None, None)` when not, `(None, attempt)` when refused. Every try counts like a
    citizen's lookup (per address and per code, `dossiers.throttle`): the receipt was an unthrottled
    PIN oracle, answering a different PDF for the right PIN."""
    candidate = (candidate or "").strip()[:MAX_PIN_LENGTH]
    if not candidate:
        return None, None
    attempt = throttle.begin_attempt(request, code=dossier.code)
    if not attempt.allowed:
        if attempt.lock_started:
            code_locked(request, dossier.code)
        return None, attempt
    if not dossier.check_pin(candidate):
        return None, None
    attempt.succeeded()
    return candidate, None


def code_locked(request, code):
    """The lookup of `code` has just been locked (too many wrong PINs from anywhere): audit it and
    tell the dossier's desk (`dossiers.signals.lookup_locked`), once per lock."""
    from accounts.models import AuditEntry

    dossier = Dossier.objects.with_code(code).first() if "\x00" not in code else None
    AuditEntry.record(AuditEntry.Kind.LOOKUP_LOCKED, request=request, code=code[:MAX_CODE_LENGTH], known=bool(dossier))
    if dossier is not None:
        signals.lookup_locked.send(sender=Dossier, dossier=dossier)


def half_day(moment):
    """'morning' or 'afternoon' (buổi sáng / buổi chiều) of a datetime, in local time."""
    if moment is None:
        return ""
    if timezone.localtime(moment).hour < 12:
        return pgettext("half of the day", "morning")
    return pgettext("half of the day", "afternoon")


def _short_date(value):
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return ""
    return date_format(timezone.localtime(moment), "d/m/Y")


def _lines(text):
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _missing_items(event):
    return [str(item) for item in (event.data or {}).get("missing_documents") or [] if str(item).strip()] or _lines(
        event.comment
    )


def _timeline_entry(event, dossier):
    """(sentence, details) for one event, or None for events the citizen does not need
    (internal hand-overs, proposals, attachments): the sentence is the action's `citizen` text
    in the workflow table (dossiers/workflow.py)."""
    spec = workflow.event_spec(event.action)
    text = spec.citizen_text(event) if spec is not None else None
    if text is None:
        return None
    if spec.citizen_agency == "event":  # inter-agency routing: the agency the event names
        agency_name = str((event.data or {}).get("agency_name") or "")
    else:
        agency_name = getattr(dossier, f"{spec.citizen_agency}_agency").name
    text = str(text)
    if "%(" in text:
        text = text % {"agency": agency_name, "date": _short_date((event.data or {}).get("new_due_at"))}
    if spec.citizen_details == "missing":
        details = _missing_items(event)
    elif spec.citizen_details == "comment":
        details = _lines(event.comment)
    else:
        details = []
    return text, details


def citizen_timeline(dossier, events=None):
    """[{at, text, details}] in chronological order."""
    entries = []
    for event in events if events is not None else dossier.events.all():
        entry = _timeline_entry(event, dossier)
        if entry is not None:
            entries.append({"at": event.created_at, "text": entry[0], "details": entry[1]})
    return entries


def citizen_history(dossier):
    """What only the dossier's events, procedure and agencies decide of the citizen's view, in the
    current language: {procedure, returning_agency, timeline, missing_documents (those of the
    newest request for more documents)}. Cached under the dossier's chain head, like the officers'
    history (`Dossier.history_key`): a new event gives a new key, so the timeline is never older
    than the dossier (issue 20: reading the events and joining three tables were most of a
    lookup's statements' cost). Kept DOSSIER_EVENTS_CACHE_SECONDS, which bounds how long a renamed
    agency or a changed office phone number can show."""
    return dossier.cached_history("dossier-citizen", lambda: _citizen_history(dossier))


def _citizen_history(dossier):
    events = list(dossier.events.only(*EVENT_FIELDS))
    requests = [e for e in events if e.action == "request_supplement"]
    # Both agencies in one query (the timeline names the receiving one).
    agencies = Agency.objects.only("name", "address", "phone").in_bulk(
        {dossier.receiving_agency_id, dossier.returning_agency_id}
    )
    dossier.receiving_agency = agencies[dossier.receiving_agency_id]
    dossier.returning_agency = agencies[dossier.returning_agency_id]
    snapshot = dossier.procedure_snapshot or {}
    agency = dossier.returning_agency
    return {
        "procedure": {
            "code": str(snapshot.get("code") or dossier.procedure.code),
            "name": str(snapshot.get("name") or dossier.procedure.name),
        },
        "returning_agency": {"name": agency.name, "address": agency.address, "phone": agency.phone},
        "timeline": [
            {**entry, "text": str(entry["text"]), "details": [str(d) for d in entry["details"]]}
            for entry in citizen_timeline(dossier, events)
        ],
        "missing_documents": _missing_items(requests[-1]) if requests else [],
    }


def lookup_result(dossier):
    """What the citizen may see of their dossier (the API body and the page's context)."""
    history = citizen_history(dossier)
    return {
        "code": dossier.code,
        "status": dossier.status,
        "status_label": str(Status(dossier.status).label),
        "status_text": str(STATUS_TEXT[dossier.status]),
        "procedure": history["procedure"],
        "applicant": dossier.masked_applicant_name,
        "submitted_at": dossier.submitted_at,
        "received_at": dossier.received_at,
        "due_at": dossier.due_at,
        "finished_at": dossier.finished_at,
        "returned_at": dossier.returned_at,
        "overdue": dossier.is_overdue(),
        # The same judgement as the officers' API and the statistics (`models.judge`).
        "outcome": str(dossier.outcome),
        "missing_documents": history["missing_documents"] if dossier.status == Status.AWAITING_SUPPLEMENT else [],
        "returning_agency": history["returning_agency"],
        "timeline": history["timeline"],
        # The signed electronic result, once the citizen may have it (dossiers/sealing.py).
        **sealing.public_links(dossier),
    }


# The serializer's own date-time field (ISO 8601 in the current time zone), used on its own.
_json_moment = serializers.DateTimeField().to_representation


def lookup_json(result):
    """`lookup_result()` as the API sends it: exactly what `LookupResultSerializer` would write
    (a test keeps them equal), without building that serializer's 30 fields on every lookup, the
    hottest public request."""
    moments = ("submitted_at", "received_at", "due_at", "finished_at", "returned_at")
    return {
        **result,
        **{name: _json_moment(result[name]) for name in moments},
        "procedure": {key: str(value) for key, value in result["procedure"].items()},
        "missing_documents": [str(item) for item in result["missing_documents"]],
        "returning_agency": {key: str(value) for key, value in result["returning_agency"].items()},
        "timeline": [
            {"at": _json_moment(entry["at"]), "text": str(entry["text"]), "details": [str(d) for d in entry["details"]]}
            for entry in result["timeline"]
        ],
    }


def _page_dates(result):
    """The dates the page lists, each with its half of the day ("nhận sáng trả sáng")."""
    labels = (
        ("submitted_at", _("Submitted on")) if result["received_at"] is None else ("received_at", _("Received on")),
        ("due_at", _("Appointment date")),
        ("finished_at", _("Finished on")),
        ("returned_at", _("Result handed over on")),
    )
    return [
        {"label": label, "at": result[name], "half": half_day(result[name])} for name, label in labels if result[name]
    ]


# The lobby kiosk (kiosk/) lists the same dates.
page_dates = _page_dates


# The PIN travels in the URL (the receipt's QR): keep it out of caches, referrers and indexes.
# "strict-origin" sends only our origin as the referrer, never the path and query; "no-referrer"
# would make browsers post the page's own forms (the language switch) with "Origin: null", which
# the CSRF check refuses.
PRIVATE_REFERRER_POLICY = "strict-origin"


def _private(response):
    response["Referrer-Policy"] = PRIVATE_REFERRER_POLICY
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@never_cache
@require_safe
def lookup_page(request):
    """The lookup form; with `?ma=<code>&pin=<pin>` it shows the dossier (or one generic error)."""
    code = normalise_code(request.GET.get("ma", ""))
    pin = request.GET.get("pin", "").strip()[:MAX_PIN_LENGTH]
    context = {"code": code, "submitted": bool(code or pin)}
    status = 200
    if code and pin:
        outcome = attempt_lookup(request, code, pin)
        if outcome.throttled_message:
            context["throttled_message"] = outcome.throttled_message
            response = render(request, "dossiers/lookup.html", context, status=429)
            response["Retry-After"] = str(outcome.retry_after)
            return _private(response)
        if outcome.dossier is None:
            context["error"] = NOT_FOUND_MESSAGE
            status = 404
        else:
            context["result"] = result = lookup_result(outcome.dossier)
            context["dates"] = _page_dates(result)
    elif code or pin:
        context["error"] = _("Enter both the dossier code and the PIN printed on your receipt.")
    return _private(render(request, "dossiers/lookup.html", context, status=status))
