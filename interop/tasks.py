"""Celery tasks of the integration (beat: motcua/celery.py). Both are safe to run twice and
concurrently: rows are claimed before they are sent, and submissions are unique."""

import logging

from celery import shared_task
from django.conf import settings

from . import catalogue, inbound, sync
from .client import Portal, PortalError

log = logging.getLogger(__name__)


def run_sync(now=None):
    """Send the outbox, fetch and import new online submissions. Returns a summary."""
    if not settings.DVCQG_URL:
        return {"configured": False}
    portal = Portal()
    outcome = sync.send_pending(now, portal=portal)
    result = {"sent": outcome.sent, "retried": outcome.retried, "failed": outcome.failed}
    try:
        result["fetched"] = inbound.fetch(portal)
    except PortalError as exc:
        log.warning("DVCQG fetch failed: %s", exc)
        result["fetched"] = 0
    result["imported"] = len(inbound.import_pending(portal, now))
    return result


@shared_task(name="interop.tasks.sync", acks_late=True)
def sync_task(now=None):
    return run_sync(now)


@shared_task(name="interop.tasks.catalogue", acks_late=True)
def catalogue_task():
    """Nightly: fetch the national catalogue and store the differences for the admin."""
    if not settings.DVCQG_URL:
        return None
    review = catalogue.review()
    return len(review.changes) if review else 0
