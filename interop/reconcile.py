"""Reconciliation: what the national side holds, compared with our dossiers.

Every dossier with a sync row is counted once, in the first of these that applies:
* `failed`: one of its rows gave up (see the failure queue);
* `pending`: rows still waiting to be sent (normal right after a transition);
* `mismatched`: everything was sent, but the portal's copy differs: no such dossier, another
  status or appointment date, a progress entry missing or held twice, or one we never sent;
* `in_sync`: the portal holds exactly what we sent.
`manage.py dvcqg_reconcile` prints the counts (and exits non-zero on mismatches); the admin's
reconciliation page shows the same."""

from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q

from dossiers.models import Dossier

from . import fields as F
from . import mapping
from .client import Portal
from .models import SyncItem, SyncState


@dataclass
class Report:
    in_sync: int = 0
    pending: int = 0
    failed: int = 0
    mismatched: int = 0
    problems: dict = field(default_factory=dict)  # our code → why it is mismatched

    def as_dict(self):
        return {
            "in_sync": self.in_sync,
            "pending": self.pending,
            "failed": self.failed,
            "mismatched": self.mismatched,
            "mismatched_codes": sorted(self.problems),
            "problems": dict(sorted(self.problems.items())),
        }


def difference(dossier, national, sent_keys):
    """Why the portal's copy `national` differs from our dossier (an empty string: it does not)."""
    if national is None:
        return "not on the national portal"
    ours = F.STATUS_CODES[dossier.status]
    if str(national.get(F.D_STATUS, "")) != ours:
        return f"status {national.get(F.D_STATUS)!r} there, {ours!r} here"
    if str(national.get(F.D_DUE_AT, "")) != F.moment(dossier.due_at):
        return f"appointment {national.get(F.D_DUE_AT)!r} there, {F.moment(dossier.due_at)!r} here"
    held = Counter(str(entry.get(F.P_KEY, "")) for entry in national.get(F.L_PROGRESS) or [])
    missing = sorted(key for key in sent_keys if held[key] == 0)
    if missing:
        return f"{len(missing)} progress entries missing ({missing[0]}…)"
    twice = sorted(key for key, n in held.items() if n > 1)
    if twice:
        return f"{len(twice)} progress entries held more than once ({twice[0]}…)"
    ours_prefix = settings.DVCQG_UNIT_CODE + "-"
    unknown = sorted(key for key in held if key.startswith(ours_prefix) and key not in sent_keys)
    if unknown:
        return f"{len(unknown)} progress entries we never sent ({unknown[0]}…)"
    return ""


def reconcile(portal=None):
    """Compare every synchronised dossier; raises client.PortalError when the portal cannot be asked."""
    portal = portal or Portal()
    report = Report()
    per_dossier = (
        SyncItem.objects.values("dossier_id")
        .annotate(
            failed=Count("id", filter=Q(state=SyncState.FAILED)),
            pending=Count("id", filter=Q(state=SyncState.PENDING)),
        )
        .order_by("dossier_id")
    )
    settled = []
    for row in per_dossier:
        if row["failed"]:
            report.failed += 1
        elif row["pending"]:
            report.pending += 1
        else:
            settled.append(row["dossier_id"])
    for start in range(0, len(settled), 200):
        ids = settled[start : start + 200]
        keys = {}
        for dossier_id, key in SyncItem.objects.filter(dossier_id__in=ids).values_list("dossier_id", "key"):
            keys.setdefault(dossier_id, set()).add(key)
        for dossier in Dossier.objects.filter(pk__in=ids).order_by("pk"):
            problem = difference(dossier, portal.lookup(mapping.national_code(dossier)), keys.get(dossier.pk, set()))
            if problem:
                report.mismatched += 1
                report.problems[dossier.code] = problem
            else:
                report.in_sync += 1
    return report
