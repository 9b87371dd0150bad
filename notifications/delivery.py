"""Delivering the outbox: e-mail and SMS rows are claimed one by one under a row lock, sent,
and marked sent in the same transaction. A worker killed mid-send rolls the claim back, so the
row is delivered again later (at least once); every message carries its outbox key (e-mail
Message-ID, SMS idempotency key) so the receiving side drops a repeat (exactly once in effect).
Failures are retried with exponential back-off, then marked failed; both are visible (and can
be retried by hand) in the admin.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from notifications.models import Notification, NotificationChannel, ReminderPolicy

log = logging.getLogger(__name__)

BATCH = 100
# Longest back-off between two attempts.
MAX_BACKOFF_MINUTES = 240


def message_id(notification):
    """A stable Message-ID derived from the outbox key: a re-sent copy has the same one."""
    domain = settings.EMAIL_MESSAGE_ID_DOMAIN
    local = "".join(c if c.isalnum() or c in "-_" else "." for c in notification.dedupe_key)
    return f"<{local}@{domain}>"


def sms_backend():
    return import_string(settings.SMS_BACKEND)()


def sms_text(notification):
    return f"{notification.subject}. {notification.body}"


def send_one(notification, connection=None):
    if notification.channel == NotificationChannel.EMAIL:
        email = EmailMessage(
            subject=notification.subject,
            body=notification.body,
            to=[notification.address],
            headers={"Message-ID": message_id(notification)},
            connection=connection,
        )
        email.send(fail_silently=False)
    elif notification.channel == NotificationChannel.SMS:
        sms_backend().send(to=notification.address, text=sms_text(notification), key=notification.dedupe_key)


def backoff(attempts):
    """Wait before attempt `attempts + 1`: 2, 4, 8 … minutes, at most MAX_BACKOFF_MINUTES."""
    return timedelta(minutes=min(2**attempts, MAX_BACKOFF_MINUTES))


def _deliver_row(pk, now, max_attempts, connection):
    """Send one row if it is still pending and nobody else holds it. Returns "sent", "failed"
    or None (skipped)."""
    with transaction.atomic():
        row = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, state=Notification.State.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if row is None:
            return None  # another worker has it, or it was sent meanwhile
        try:
            send_one(row, connection=connection)
        except Exception as exc:  # any gateway error: retry later, never lose the row
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if row.attempts >= max_attempts:
                row.state = Notification.State.FAILED
            else:
                row.next_attempt_at = now + backoff(row.attempts)
            row.save(update_fields=["attempts", "last_error", "state", "next_attempt_at"])
            log.warning("notification %s failed (attempt %s): %s", row.pk, row.attempts, row.last_error)
            return "failed"
        row.attempts += 1
        row.state = Notification.State.SENT
        row.sent_at = timezone.now()
        row.last_error = ""
        row.save(update_fields=["attempts", "state", "sent_at", "last_error"])
        return "sent"


def deliver_pending(now=None, limit=None, budget_seconds=45):
    """Deliver the due outbox rows, in batches, until none is left, `limit` rows were tried or
    `budget_seconds` have passed (the next tick continues). Returns (sent, failed). Safe to run
    concurrently and twice: each row is re-checked as pending under its lock before sending."""
    now = now or timezone.now()
    max_attempts = max(ReminderPolicy.get().max_attempts, 1)
    started = time.monotonic()
    sent = failed = tried = 0
    last_pk = 0
    connection = get_connection()
    while True:
        size = BATCH if limit is None else min(BATCH, limit - tried)
        if size <= 0:
            break
        ids = list(
            Notification.objects.due_for_delivery(now)
            .filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:size]
        )
        if not ids:
            break
        for pk in ids:
            outcome = _deliver_row(pk, now, max_attempts, connection)
            sent += outcome == "sent"
            failed += outcome == "failed"
            tried += 1
            last_pk = pk
            if time.monotonic() - started > budget_seconds:
                return sent, failed
    return sent, failed


def retry_now(queryset, now=None):
    """Put failed or pending e-mail/SMS rows back in the queue for the next delivery run."""
    now = now or timezone.now()
    return (
        queryset.filter(state__in=[Notification.State.FAILED, Notification.State.PENDING])
        .exclude(channel=NotificationChannel.IN_APP)
        .update(state=Notification.State.PENDING, next_attempt_at=now)
    )
