"""Celery tasks. Beat only sends `tick` every minute; the tick reads the admin-editable
ReminderPolicy and claims each scan or digest slot with a conditional UPDATE, so a second beat
(or a re-delivered tick) does nothing. Every task is safe to run twice: the rows they write are
unique (reminders per dossier × kind × threshold, notifications per dedupe key) and delivery
re-checks each row under a lock.

Tasks never carry far-future ETAs: the database is the schedule, the tick only asks it what is
due now. Nothing in the request path calls the broker.
"""

from datetime import datetime, timedelta
from importlib import import_module

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dossiers.services import close_expired_supplements
from notifications import delivery, reminders
from notifications.models import ReminderPolicy
from procedures import deadlines


def _when(now):
    """`now` as an aware datetime: None → the current time; an ISO string (task arguments are
    JSON) → parsed. Lets an operator replay a tick for a given moment."""
    if now is None:
        return timezone.now()
    if isinstance(now, str):
        parsed = parse_datetime(now)
        if parsed is None:
            raise ValueError(f"Not an ISO datetime: {now!r}")
        now = parsed
    if isinstance(now, datetime) and timezone.is_naive(now):
        now = timezone.make_aware(now)
    return now


def claim_scan(now, policy):
    """True if this caller won the right to run the scan now (at most one per interval). The
    conditional UPDATE is atomic: of two beats (or ticks) at the same moment exactly one wins."""
    due_before = now - timedelta(minutes=max(policy.scan_interval_minutes, 1)) + timedelta(seconds=5)
    qs = ReminderPolicy.objects.filter(pk=policy.pk)
    if policy.last_scan_at is None:
        return qs.filter(last_scan_at__isnull=True).update(last_scan_at=now) == 1
    return qs.filter(last_scan_at__lte=due_before).update(last_scan_at=now) == 1


def claim_digest(now, policy, calendar):
    """True if this caller won today's digest (working days, from `policy.digest_time`). Call it
    inside the transaction that writes the digests: a crash rolls the claim back too."""
    local = timezone.localtime(now)
    today = local.date()
    if not calendar.is_working_day(today) or local.time() < policy.digest_time:
        return False
    qs = ReminderPolicy.objects.filter(pk=policy.pk)
    return qs.exclude(last_digest_on=today).update(last_digest_on=today) == 1


def run_digest(now, policy, calendar):
    with transaction.atomic():
        if claim_digest(now, policy, calendar):
            return reminders.send_digests(now, calendar=calendar, policy=policy)
    return None


def run_scan(now=None):
    """Scan + close expired supplements + today's digest (once) + deliver: the whole job, for
    `manage.py send_deadline_reminders` (cron) and the `scan_deadlines` task. No claim: it
    always scans (the scan is idempotent)."""
    now = _when(now)
    policy = ReminderPolicy.get()
    calendar = deadlines.get_calendar()
    result = {"reminders": reminders.scan(now), "closed": close_expired_supplements(now)}
    result["digests"] = run_digest(now, policy, calendar) or 0
    result["sent"], result["failed"] = delivery.deliver_pending(now)
    return result


def clear_expired_sessions():
    """What `manage.py clearsessions` does: expired sessions (and what they held) leave the table
    and its backups. One indexed DELETE; safe to run twice."""
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()


def run_tick(now=None):
    now = _when(now)
    clear_expired_sessions()
    policy = ReminderPolicy.get()
    calendar = deadlines.get_calendar()
    result = {}
    if (not policy.scan_in_office_hours_only or calendar.in_office_hours(now)) and claim_scan(now, policy):
        result["scan"] = reminders.scan(now)
        result["closed"] = close_expired_supplements(now)
    digests = run_digest(now, policy, calendar)
    if digests is not None:
        result["digests"] = digests
    result["sent"], result["failed"] = delivery.deliver_pending(now)
    return result


# Task names stay those of before the split (dossiers/tasks.py): messages already queued, and
# operators' scripts, name them.
# acks_late (also the project default): a worker killed mid-task leaves the message unacked,
# so the broker redelivers it; the work is idempotent, and the next tick catches up anyway.


@shared_task(name="dossiers.tasks.tick", acks_late=True)
def tick(now=None):
    """Sent by beat every minute: expired sessions cleared, the scan when the policy says so, the
    morning digest, delivery."""
    return run_tick(now)


@shared_task(name="dossiers.tasks.deliver_notifications", acks_late=True)
def deliver_notifications(now=None):
    return delivery.deliver_pending(_when(now))


@shared_task(name="dossiers.tasks.scan_deadlines", acks_late=True)
def scan_deadlines(now=None):
    """Scan, digest and deliver now, without waiting for the policy's interval."""
    return run_scan(now)
