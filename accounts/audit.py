"""The tamper-evident audit trail: hash chains over append-only rows.

Each chained row stores `prev_hash` (the `hash` of the row before it in its chain, "" for the
first) and `hash = sha256(prev_hash + canonical JSON of the row's content)`. Changing, deleting
or reordering a row in the middle breaks the link to the next row; `manage.py verify_audit_chain`
recomputes every link and names the first broken one.

Two chains:
- `accounts.AuditEntry`: one global chain (logins, logouts, failed authorisation, admin changes).
  Appending takes a lock so two processes never link to the same predecessor: a transaction-scoped
  advisory lock on PostgreSQL, the IMMEDIATE write transaction on SQLite (settings.py).
- `dossiers.DossierEvent`: one chain per dossier, appended while the dossier row is locked
  (`select_for_update`), so concurrent transitions of one dossier serialise on that lock.

Each dossier event also stores `state_hash`, the hash of the dossier row's state right after it
(DOSSIER_STATE_FIELDS), inside its own hash; the dossier row stores its chain's head
(`Dossier.chain_head`). So a raw UPDATE of the row (status, due date, name, result...) no longer
matches its newest event, and deleting the newest events no longer matches the head, without any
saved heads. The audit log's global chain still needs its head anchored: the command prints every
head (`--heads`); record them outside the database (ticket, e-mail, log shipping) and compare later.

This module has no model imports at import time: migrations use it too.
"""

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import connections

# A fixed key for pg_advisory_xact_lock: "motcua audit chain".
ADVISORY_LOCK_KEY = 0x6D6F_6375_6175_6474

AUDIT_FIELDS = ("created_at", "kind", "user_id", "username", "ip_address", "path", "method", "status_code", "data")
EVENT_FIELDS = (
    "dossier_id",
    "actor_id",
    "action",
    "from_status",
    "to_status",
    "from_stage",
    "to_stage",
    "comment",
    "data",
    "step_due_at",
    "step_outcome",
    "created_at",
)


# The dossier row's state each event vouches for (`DossierEvent.state_hash`): a raw UPDATE of any of
# these columns no longer matches the newest event's hash (`verify_audit_chain`).
DOSSIER_STATE_FIELDS = (
    "code",
    "status",
    "stage",
    "received_at",
    "due_at",
    "original_due_at",
    "step_due_at",
    "finished_at",
    "returned_at",
    "applicant_name",
    "applicant_id_number",
    "applicant_phone",
    "applicant_email",
    "applicant_address",
    "result_summary",
    "returned_to",
    "receiving_agency_id",
    "competent_agency_id",
    "returning_agency_id",
    "assignee_id",
    "supplement_requests",
)


def event_fields(event):
    """The fields an event's hash covers: EVENT_FIELDS, and its `state_hash` once it has one (events
    written before issue 13 have none and keep the hash they were given)."""
    return EVENT_FIELDS + ("state_hash",) if getattr(event, "state_hash", "") else EVENT_FIELDS


def state_hash(values):
    """SHA-256 of a dossier row's state (`values` maps DOSSIER_STATE_FIELDS to the stored values)."""
    content = {name: _canonical_value(values[name]) for name in DOSSIER_STATE_FIELDS}
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _canonical_value(value):
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(key): _canonical_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_value(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):  # also IntegerChoices members
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):  # also TextChoices members
        return str(value)
    return str(value)


def canonical_json(obj, fields):
    """The row's content as canonical JSON: the listed fields, sorted keys, UTC datetimes with
    microseconds, no whitespace. Values are read as stored, so the same row reloaded from the
    database gives the same text."""
    content = {name: _canonical_value(getattr(obj, name)) for name in fields}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash, obj, fields):
    return hashlib.sha256((prev_hash + canonical_json(obj, fields)).encode()).hexdigest()


def lock_global_chain(using="default"):
    """Serialise appends to a global chain until the current transaction ends."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
    # SQLite: the project's IMMEDIATE transactions take the database write lock at BEGIN.


def verify_chain(rows, fields):
    """Walk one chain (rows in insertion order; `fields`: a tuple, or a function of the row).
    Returns (checked count, first broken row or None, reason)."""
    prev = ""
    count = 0
    for row in rows:
        count += 1
        if row.prev_hash != prev:
            return count, row, "prev_hash does not match the previous row"
        expected = chain_hash(prev, row, fields(row) if callable(fields) else fields)
        if row.hash != expected:
            return count, row, "content does not match its hash"
        prev = row.hash
    return count, None, ""
