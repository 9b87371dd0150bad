"""Recompute the audit hash chains and report the first broken link.

    manage.py verify_audit_chain [--heads]

Exit status 0 when every chain is intact, 1 when a row was changed, deleted, inserted or
reordered, when a dossier row no longer matches its newest event (a raw UPDATE of its status, due
dates, applicant or result), or when its newest events were deleted (the row's chain head); the
message names the table, the row id and what does not match.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts import audit
from accounts.models import AuditEntry
from dossiers.models import Dossier, DossierEvent


def in_batches(queryset, size=2000):
    """Rows in id order, fetched in keyset pages (no server-side cursor left open when the
    walk stops at the first broken link)."""
    last = 0
    while True:
        page = list(queryset.filter(id__gt=last).order_by("id")[:size])
        yield from page
        if len(page) < size:
            return
        last = page[-1].id


def dossier_row_problem(row, chain):
    """Why the dossier row does not agree with its (intact) event chain, or "".

    The row stores its chain's head (`chain_head`) and the newest event vouches for the row's state
    (`state_hash`): a raw UPDATE of the row, or deleting the newest events, shows here without any
    saved heads. Dossiers whose events all predate issue 13 carry no state hash (nothing to compare)."""
    head = chain[-1].hash if chain else ""
    vouched = any(event.state_hash for event in chain)
    if row["chain_head"] != head and (row["chain_head"] or vouched):
        return "its newest events were deleted, or its chain head was changed"
    if chain and chain[-1].state_hash and chain[-1].state_hash != audit.state_hash(row):
        return "the dossier row was changed outside the workflow (it does not match its newest event)"
    return ""


class Command(BaseCommand):
    help = "Verify the hash chains of the audit log and of the dossier events."

    def add_arguments(self, parser):
        parser.add_argument(
            "--heads",
            action="store_true",
            help="Also print the head hash of each chain (record it outside the database).",
        )

    def handle(self, *args, heads=False, **options):
        problems = []

        rows = in_batches(AuditEntry.objects.all())
        count, broken, reason = audit.verify_chain(rows, audit.AUDIT_FIELDS)
        if broken is not None:
            problems.append(
                f"audit log: entry {broken.pk} ({broken.kind}, {broken.created_at:%Y-%m-%d %H:%M:%S}): {reason}"
            )
        audit_head = AuditEntry.objects.order_by("-id").values_list("hash", flat=True).first() or ""

        events = 0
        dossiers = 0
        event_heads = []
        last_dossier = 0
        while True:
            # Chains are per dossier: 500 dossiers' events at a time keeps memory flat.
            ids = list(Dossier.objects.filter(id__gt=last_dossier).order_by("id").values_list("id", flat=True)[:500])
            if not ids:
                break
            last_dossier = ids[-1]
            chains = {}
            for event in DossierEvent.objects.filter(dossier_id__in=ids).order_by("dossier_id", "id"):
                chains.setdefault(event.dossier_id, []).append(event)
            rows = Dossier.objects.filter(id__in=ids).values("id", "code", "chain_head", *audit.DOSSIER_STATE_FIELDS)
            for row in rows:
                chain = chains.get(row["id"], [])
                n, bad, why = audit.verify_chain(chain, audit.event_fields)
                events += n
                dossiers += 1 if chain else 0
                if bad is not None:
                    problems.append(f"dossier events: event {bad.pk} of dossier {row['id']} ({bad.action}): {why}")
                    continue
                problem = dossier_row_problem(row, chain)
                if problem:
                    problems.append(f"dossier {row['id']} ({row['code']}): {problem}")
                elif chain:
                    event_heads.append((row["id"], chain[-1].hash))

        if heads:
            self.stdout.write(f"audit log head: {audit_head or '-'}")
            for dossier_id, head in event_heads:
                self.stdout.write(f"dossier {dossier_id} head: {head}")
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            raise CommandError(f"{len(problems)} broken chain(s): the audit trail was altered.", returncode=1)
        self.stdout.write(
            self.style.SUCCESS(
                f"OK: {count} audit entries and {events} events of {dossiers} dossiers, all chains intact."
            )
        )
