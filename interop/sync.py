"""Sending the outbox to the national portal, in order per dossier, with retries and back-off.

* A dossier's rows go one at a time, oldest first: a row is sent only when every earlier row of
  its dossier was sent. A row that failed for good (`failed`) holds the rows after it back until
  an officer or an admin retries it (`retry`).
* A sender claims a row with a conditional UPDATE (`claimed_until`) and holds no transaction while
  it calls the portal: transitions never wait for the network, and two workers never send the
  same row at once.
* A row is the dossier's state (DongBoHoSoMC, idempotent: the newest state wins) and one progress
  entry (CapNhatTienDoHoSoMC) carrying the row's key, so a repeat after a timeout or a crash is
  dropped by the national side: it never sees a progress entry twice.
* Failures wait DVCQG_RETRY_SECONDS × 2^(attempts-1) (at most DVCQG_RETRY_MAX_SECONDS); after
  DVCQG_MAX_ATTEMPTS the row is `failed`, with its error, in the officers' failure queue.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from dossiers.models import Dossier

from . import mapping
from .client import Portal, PortalError
from .models import SyncItem, SyncState

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def backoff(attempts):
    seconds = settings.DVCQG_RETRY_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.DVCQG_RETRY_MAX_SECONDS))


def unsent():
    return SyncItem.objects.exclude(state=SyncState.SENT)


def ready_heads(now):
    """Ids of dossiers whose oldest unsent row is pending and due: what a sender may start with."""
    earlier = unsent().filter(dossier_id=OuterRef("dossier_id"), id__lt=OuterRef("id"))
    return (
        SyncItem.objects.filter(state=SyncState.PENDING, next_attempt_at__lte=now)
        .filter(~Exists(earlier))
        .order_by("id")
        .values_list("dossier_id", flat=True)
    )


def _claim(item, lease_seconds):
    moment = timezone.now()
    claimed = (
        SyncItem.objects.filter(pk=item.pk, state=SyncState.PENDING)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=moment))
        .update(claimed_until=moment + timedelta(seconds=lease_seconds))
    )
    return claimed == 1


def deliver(portal, item, dossier, code):
    """The two calls of one row; raises PortalError."""
    state = mapping.complete(item.payload["dossier"], dossier, code)
    # The portal already knows the dossier when it sent it to us, or once a row of ours went.
    updating = (
        code != dossier.pin_key
        or SyncItem.objects.filter(dossier_id=item.dossier_id, state=SyncState.SENT, id__lt=item.pk).exists()
        or item.attempts > 0
    )
    portal.sync_dossier(state, updating=updating)
    portal.update_progress({**item.payload["progress"], mapping.F.P_CODE: code})


def _record_failure(item, exc, now):
    attempts = item.attempts + 1
    gave_up = attempts >= settings.DVCQG_MAX_ATTEMPTS
    SyncItem.objects.filter(pk=item.pk).update(
        attempts=attempts,
        state=SyncState.FAILED if gave_up else SyncState.PENDING,
        next_attempt_at=now + backoff(attempts),
        last_error=str(exc)[:2000],
        claimed_until=None,
    )
    log.warning("DVCQG sync %s failed (attempt %s): %s", item.key, attempts, exc)
    return gave_up


def _send_dossier(portal, dossier_id, now, outcome):
    dossier = Dossier.objects.select_related("procedure__field", "competent_agency", "receiving_agency").get(
        pk=dossier_id
    )
    code = mapping.national_code(dossier)
    lease = max(settings.DVCQG_TIMEOUT * 3, 30)
    while True:
        item = unsent().filter(dossier_id=dossier_id).order_by("id").first()
        if item is None or item.state != SyncState.PENDING or item.next_attempt_at > now:
            return
        if not _claim(item, lease):
            return  # another sender has it
        try:
            deliver(portal, item, dossier, code)
        except PortalError as exc:
            if _record_failure(item, exc, now):
                outcome.failed += 1
            else:
                outcome.retried += 1
            return
        SyncItem.objects.filter(pk=item.pk).update(
            state=SyncState.SENT,
            sent_at=timezone.now(),
            attempts=F("attempts") + 1,
            claimed_until=None,
            last_error="",
            national_code=code,
        )
        outcome.sent += 1


def send_pending(now=None, *, portal=None, budget_seconds=45, limit=1000):
    """Send what is due at `now`; returns an Outcome. Safe to run twice and concurrently."""
    now = now or timezone.now()
    portal = portal or Portal()
    outcome = Outcome()
    if not portal.configured:
        return outcome
    started = time.monotonic()
    seen = set()
    for dossier_id in ready_heads(now)[:limit]:
        if dossier_id in seen:
            continue
        seen.add(dossier_id)
        _send_dossier(portal, dossier_id, now, outcome)
        if time.monotonic() - started > budget_seconds:
            break
    return outcome


def retry(queryset, now=None):
    """Put failed (or waiting) rows back in the queue now, with their attempts counted afresh."""
    now = now or timezone.now()
    return queryset.exclude(state=SyncState.SENT).update(
        state=SyncState.PENDING, attempts=0, next_attempt_at=now, claimed_until=None
    )


def dossier_sync_state(dossier):
    """(state, counts, last error) of a dossier's sync, for its page: "sent" when every row went,
    "failed" when one gave up, "pending" otherwise; None when nothing was ever to be sent."""
    rows = list(
        SyncItem.objects.filter(dossier_id=dossier.pk).values_list("state", "last_error", "next_attempt_at", "sent_at")
    )
    if not rows:
        return None
    counts = {state: 0 for state in SyncState.values}
    for state, *_rest in rows:
        counts[state] += 1
    errors = [error for state, error, *_rest in rows if error and state != SyncState.SENT]
    if counts[SyncState.FAILED]:
        overall = SyncState.FAILED
    elif counts[SyncState.PENDING]:
        overall = SyncState.PENDING
    else:
        overall = SyncState.SENT
    last_sent = max((sent for *_rest, sent in rows if sent), default=None)
    next_attempt = min((at for state, _e, at, _s in rows if state == SyncState.PENDING), default=None)
    return {
        "state": overall,
        "label": SyncState(overall).label,
        "counts": counts,
        "error": errors[-1] if errors else "",
        "last_sent": last_sent,
        "next_attempt": next_attempt,
    }
