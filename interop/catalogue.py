"""The national catalogue compared with ours, and the admin's approved differences applied
through the catalogue's importer (procedures/importing.py: upsert by code, versions kept).

`review()` fetches the catalogue (on demand from the admin, or nightly by `interop.tasks.catalogue`),
compares it with our procedures and stores the differences in a `CatalogueReview`; nothing changes
in our catalogue until an admin applies them (`apply`)."""

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from procedures.importing import import_records
from procedures.models import Procedure

from . import fields as F
from .client import Portal
from .models import CatalogueReview, ProcedureMapping

# Our importer's columns ← the catalogue's fields.
COLUMNS = {
    "name": F.C_NAME,
    "level": F.C_LEVEL,
    "processing_days": F.C_PROCESSING_DAYS,
    "fee_vnd": F.C_FEE_VND,
    "fee_text": F.C_FEE_TEXT,
    "legal_basis": F.C_LEGAL_BASIS,
    "result": F.C_RESULT,
}


def _days(value):
    try:
        return str(Decimal(str(value)).normalize())
    except (InvalidOperation, ValueError):
        return str(value)


def _plain(column, value):
    if value in (None, ""):
        return ""
    if column == "processing_days":
        return _days(value)
    if column == "fee_vnd":
        return str(int(value)) if str(value).isdigit() or isinstance(value, int) else str(value)
    return str(value).strip()


def record(entry, our_code):
    """The importer's row for a national catalogue entry (only the columns it carries)."""
    row = {"code": our_code}
    for column, name in COLUMNS.items():
        if name in entry:
            row[column] = entry[name]
    fields = entry.get(F.C_FIELDS) or []
    if fields:
        row["field_code"] = fields[0].get(F.C_FIELD_CODE, "")
        row["field_name"] = fields[0].get(F.C_FIELD_NAME, "")
    return row


def _ours(procedure):
    return {
        "name": procedure.name,
        "level": procedure.level,
        "processing_days": procedure.processing_days,
        "fee_vnd": procedure.fee_vnd,
        "fee_text": procedure.fee_text,
        "legal_basis": procedure.legal_basis,
        "result": procedure.result,
        "field_code": procedure.field.code,
        "field_name": procedure.field.name,
    }


def compare(entries):
    """The differences between the national `entries` and our catalogue, as `CatalogueReview.changes`."""
    national_to_ours = dict(ProcedureMapping.objects.values_list("national_code", "procedure__code"))
    procedures = {p.code: p for p in Procedure.objects.select_related("field")}
    changes, seen = [], set()
    for entry in entries:
        national = str(entry.get(F.C_CODE) or "").strip()
        if not national:
            continue
        code = national_to_ours.get(national, national)
        seen.add(code)
        row = record(entry, code)
        procedure = procedures.get(code)
        if procedure is None:
            changes.append(
                {
                    "code": code,
                    "national_code": national,
                    "kind": "new",
                    "name": row.get("name", ""),
                    "fields": {},
                    "record": row,
                }
            )
            continue
        ours = _ours(procedure)
        different = {
            column: [_plain(column, ours[column]), _plain(column, value)]
            for column, value in row.items()
            if column != "code" and _plain(column, ours[column]) != _plain(column, value)
        }
        if different:
            changes.append(
                {
                    "code": code,
                    "national_code": national,
                    "kind": "changed",
                    "name": procedure.name,
                    "fields": different,
                    "record": row,
                }
            )
    for code, procedure in sorted(procedures.items()):
        if code not in seen and procedure.published:
            changes.append(
                {
                    "code": code,
                    "national_code": code,
                    "kind": "missing",
                    "name": procedure.name,
                    "fields": {},
                    "record": {},
                }
            )
    return changes


def fetch_entries(portal):
    entries = []
    for entry in portal.list_procedures():
        if F.C_PROCESSING_DAYS not in entry:  # a summary: read the whole procedure
            entry = portal.get_procedure(entry.get(F.C_CODE)) or entry
        entries.append(entry)
    return entries


def review(portal=None, now=None):
    """Fetch, compare, and store a review (None when nothing differs)."""
    portal = portal or Portal()
    changes = compare(fetch_entries(portal))
    if not changes:
        return None
    return CatalogueReview.objects.create(fetched_at=now or timezone.now(), changes=changes)


def apply(review_row, codes, user, now=None):
    """Apply the chosen new and changed procedures of a pending review with the importer. Returns
    the import report (as stored on the review)."""
    wanted = set(codes)
    records = [c["record"] for c in review_row.changes if c["code"] in wanted and c["kind"] in ("new", "changed")]
    with transaction.atomic():
        locked = CatalogueReview.objects.select_for_update().get(pk=review_row.pk)
        if locked.state != CatalogueReview.State.PENDING:
            return locked.report
        report = import_records(records)
        locked.report = {
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "applied": sorted(wanted),
            "errors": [{"line": e.line, "code": e.code, "reason": e.reason} for e in report.errors],
        }
        locked.state = CatalogueReview.State.APPLIED
        locked.decided_by = user
        locked.decided_at = now or timezone.now()
        locked.save()
    return locked.report


def dismiss(review_row, user, now=None):
    CatalogueReview.objects.filter(pk=review_row.pk, state=CatalogueReview.State.PENDING).update(
        state=CatalogueReview.State.DISMISSED, decided_by=user, decided_at=now or timezone.now()
    )
