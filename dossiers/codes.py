"""Dossier codes (Decree 118/2025 Art. 28.2b, 17.3) and the provisional references before them.

* The **code** is given when the complete dossier is **accepted** (tiếp nhận): at the desk for a
  complete paper dossier, at `receive` for an online submission, at `supplement_received` for a
  dossier that was incomplete at intake. It is `<competent agency code>-<YYMMDD>-<NNNN>`: the
  acceptance date and that agency's sequence number of the day.
* Before acceptance a dossier has a **provisional reference** in `Dossier.code`, so that the
  applicant can follow it with the PIN and every screen has a key: `TC-<receiving agency
  code>-<YYMMDD>-<NNNN>` (TC: tham chiếu, the submission date and the receiving desk's own daily
  sequence). It is clearly not an Art. 28 code, and never uses up an Art. 28 number. At acceptance
  it moves to `Dossier.provisional_code` (still unique, still found by `with_code()` and still the
  key of the PIN's hash) and `code` becomes the real code.

Sequences are rows of `DossierSequence` (agency, day, kind), incremented by one upsert whose row
lock serialises concurrent callers until their transaction ends: numbers never repeat.
"""

from django.db import connection
from django.utils import timezone

from .models import DossierSequence

PROVISIONAL_PREFIX = "TC-"


def _next_value(agency, day, kind):
    """The next number of (agency, day, kind): one statement, `INSERT … ON CONFLICT DO UPDATE SET
    last_value = last_value + 1 RETURNING last_value` (PostgreSQL and SQLite ≥ 3.35 alike; the
    lookup throttle's counters work the same way). The first number of a day is 1; the value
    returned is this statement's own, and the row lock it takes holds concurrent callers until this
    transaction ends, so a rolled-back creation gives its number back instead of leaving a gap."""
    meta = DossierSequence._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    agency_column, day_column, kind_column, value_column = (
        quote(meta.get_field(name).column) for name in ("agency", "day", "kind", "last_value")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({agency_column}, {day_column}, {kind_column}, {value_column}) "  # noqa: S608
            f"VALUES (%s, %s, %s, 1) ON CONFLICT ({agency_column}, {day_column}, {kind_column}) "
            f"DO UPDATE SET {value_column} = {table}.{value_column} + 1 RETURNING {value_column}",
            [agency.pk, connection.ops.adapt_datefield_value(day), kind],
        )
        return cursor.fetchone()[0]


def next_code(agency, day):
    """`<agency code>-<YYMMDD>-<NNNN>`: the Art. 28 code, a daily sequence per agency."""
    value = _next_value(agency, day, DossierSequence.Kind.CODE)
    return f"{agency.code}-{day:%y%m%d}-{value:04d}"


def next_reference(agency, day):
    """`TC-<agency code>-<YYMMDD>-<NNNN>`: a provisional reference (not an Art. 28 code)."""
    value = _next_value(agency, day, DossierSequence.Kind.REFERENCE)
    return f"{PROVISIONAL_PREFIX}{agency.code}-{day:%y%m%d}-{value:04d}"


def give_code(dossier, accepted_at):
    """At acceptance: the dossier's Art. 28 code (acceptance date, competent agency), keeping the
    provisional reference it had. Returns the event data recording the change ({} if the dossier
    already had its code). Call it before setting `received_at`. A dossier submitted before this
    rule (its code carries the submission date) gets its real code the same way."""
    if dossier.received_at is not None or dossier.provisional_code:
        return {}
    reference = dossier.code
    dossier.code = next_code(dossier.competent_agency, timezone.localdate(accepted_at))
    if not reference:  # accepted as it is created: it never had another identifier
        return {}
    dossier.provisional_code = reference
    return {"code": dossier.code, "provisional_code": reference}
