"""Delivering the outbox: e-mail and SMS rows are claimed one by one under a row lock, sent,
and marked sent in the same transaction. A worker killed mid-send rolls the claim back, so the
row is delivered again later (at least once); every message carries its outbox key (e-mail
Message-ID, SMS idempotency key) so the receiving side drops a repeat (exactly once in effect).
Failures are retried with exponential back-off and visible in the admin.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import Notification, NotificationChannel, ReminderPolicy

log = logging.getLogger(__name__)


def message_id(notification):
    domain = getattr(settings, "EMAIL_MESSAGE_ID_DOMAIN", "motcua.local")
    return f"<{notification.dedupe_key.replace(':', '.').replace(' ', '')}@{domain}>"


def sms_backend():
    return import_string(getattr(settings, "SMS_BACKEND", "dossiers.sms.ConsoleSMSBackend"))()


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
        sms_backend().send(
            to=notification.address, text=f"{notification.subject}. {notification.body}", key=notification.dedupe_key
        )


def backoff(attempts):
    return timedelta(minutes=min(2**attempts, 240))


def deliver_pending(now=None, limit=200):
    """Deliver up to `limit` due outbox rows. Returns (sent, failed). Safe to run concurrently
    and twice: each row is re-checked as pending under its lock before sending."""
    now = now or timezone.now()
    policy = ReminderPolicy.get()
    ids = list(
        Notification.objects.due_for_delivery(now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = failed = 0
    connection = get_connection()
    for pk in ids:
        with transaction.atomic():
            row = (
                Notification.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, state=Notification.State.PENDING)
                .first()
            )
            if row is None:
                continue  # another worker has it, or it was sent meanwhile
            try:
                send_one(row, connection=connection)
            except Exception as exc:  # any gateway error: retry later, never lose the row
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                if row.attempts >= policy.max_attempts:
                    row.state = Notification.State.FAILED
                else:
                    row.next_attempt_at = now + backoff(row.attempts)
                row.save(update_fields=["attempts", "last_error", "state", "next_attempt_at"])
                failed += 1
                log.warning("notification %s failed (attempt %s)", row.pk, row.attempts)
                continue
            row.attempts += 1
            row.state = Notification.State.SENT
            row.sent_at = timezone.now()
            row.save(update_fields=["attempts", "state", "sent_at"])
            sent += 1
    return sent, failed
