"""Celery tasks. Beat only sends `tick` every minute; the tick reads the admin-editable
ReminderPolicy and claims each scan or digest slot with a conditional UPDATE, so a second beat
(or a re-delivered tick) does nothing. Every task is safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from procedures import deadlines

from . import delivery, reminders
from .models import ReminderPolicy
from .services import close_expired_supplements


def _in_office_hours(now, calendar):
    local = timezone.localtime(now)
    if not calendar.is_working_day(local.date()):
        return False
    return calendar.sessions[0][0] <= local.time() <= calendar.sessions[-1][1]


def claim_scan(now, policy):
    """True if this caller won the right to run the scan now (at most one per interval)."""
    due_before = now - timedelta(minutes=max(policy.scan_interval_minutes, 1)) + timedelta(seconds=5)
    qs = ReminderPolicy.objects.filter(pk=policy.pk)
    if policy.last_scan_at is None:
        return qs.filter(last_scan_at__isnull=True).update(last_scan_at=now) == 1
    return qs.filter(last_scan_at__lte=due_before).update(last_scan_at=now) == 1


def claim_digest(now, policy, calendar):
    local = timezone.localtime(now)
    today = local.date()
    if not calendar.is_working_day(today) or local.time() < policy.digest_time:
        return False
    qs = ReminderPolicy.objects.filter(pk=policy.pk)
    return qs.exclude(last_digest_on=today).update(last_digest_on=today) == 1


def run_scan(now=None):
    """Scan + close expired supplements + deliver: the `send_deadline_reminders` work."""
    now = now or timezone.now()
    created = reminders.scan(now)
    closed = close_expired_supplements(now)
    sent, failed = delivery.deliver_pending(now)
    return {"reminders": created, "closed": closed, "sent": sent, "failed": failed}


@shared_task(acks_late=True)
def tick():
    now = timezone.now()
    policy = ReminderPolicy.get()
    calendar = deadlines.get_calendar()
    result = {}
    if (not policy.scan_in_office_hours_only or _in_office_hours(now, calendar)) and claim_scan(now, policy):
        result["scan"] = reminders.scan(now)
        result["closed"] = close_expired_supplements(now)
    if claim_digest(now, policy, calendar):
        result["digests"] = reminders.send_digests(now)
    result["sent"], result["failed"] = delivery.deliver_pending(now)
    return result


@shared_task(acks_late=True)
def deliver_notifications():
    return delivery.deliver_pending()


@shared_task(acks_late=True)
def scan_deadlines():
    return reminders.scan()
