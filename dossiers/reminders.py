"""The deadline scan: which open dossiers need a reminder now, working-day aware.

It selects candidates through the partial index on open dossiers by due date (and by step
deadline), in keyset batches, so its cost follows the number of dossiers near or past a
deadline, not the size of the table. Each reminder is a unique (dossier, kind, threshold) row:
running the scan twice, or from two beats at once, creates nothing new.
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from procedures import deadlines

from . import notifications
from .models import PAUSED_STATUSES, Dossier, Reminder, ReminderKind, ReminderPolicy, Stage

BATCH = 500


def _end_of_working_day(calendar, day):
    return timezone.make_aware(datetime.combine(day, calendar.sessions[-1][1]))


def reminder_kinds(dossier, now, calendar, policy):
    """The (kind, threshold) pairs a dossier deserves at `now`. Pure: no queries."""
    if dossier.status in PAUSED_STATUSES or dossier.due_at is None and dossier.step_due_at is None:
        return []
    kinds = []
    today = timezone.localdate(now)
    due = dossier.due_at
    if due is not None:
        due_key = due.isoformat()
        due_day = timezone.localdate(due)
        if due < now:
            # Once per working day until finished.
            if calendar.is_working_day(today):
                kinds.append((ReminderKind.OVERDUE, today.isoformat()))
        elif due_day == today:
            kinds.append((ReminderKind.DUE_TODAY, due_key))
        else:
            horizon = calendar.add_working_days(today, policy.due_soon_working_days)
            if due_day <= horizon:
                kinds.append((ReminderKind.DUE_SOON, due_key))
        # The apology letter must be issued at least one day before the due date, once.
        if dossier.original_due_at is None and today < due_day:
            prompt_from = calendar.add_working_days(today, policy.extension_prompt_working_days)
            if due_day <= prompt_from:
                kinds.append((ReminderKind.EXTENSION_PROMPT, due_key))
    if dossier.step_due_at is not None and dossier.step_due_at < now and dossier.stage != Stage.CLOSED:
        kinds.append((ReminderKind.STEP_OVERDUE, f"{dossier.stage}:{dossier.step_due_at.isoformat()}"))
    return kinds


def candidates(now, calendar, policy):
    """Open, running dossiers whose deadline is before the reminder horizon, or whose step
    deadline has passed, in batches ordered by id."""
    horizon_day = calendar.add_working_days(
        timezone.localdate(now), max(policy.due_soon_working_days, policy.extension_prompt_working_days)
    )
    horizon = _end_of_working_day(calendar, horizon_day)
    base = (
        Dossier.objects.open()
        .exclude(status__in=PAUSED_STATUSES)
        .filter(Q(due_at__lt=horizon) | Q(step_due_at__lt=now))
        .select_related("procedure", "receiving_agency", "competent_agency", "returning_agency", "assignee")
        .order_by("pk")
    )
    last = 0
    while True:
        batch = list(base.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def scan(now=None):
    """Create the reminders (and their notifications) due at `now`. Returns the number of new
    reminder rows."""
    now = now or timezone.now()
    calendar = deadlines.get_calendar()
    policy = ReminderPolicy.get()
    created = 0
    for batch in candidates(now, calendar, policy):
        wanted = {
            (d.pk, kind, threshold): d for d in batch for kind, threshold in reminder_kinds(d, now, calendar, policy)
        }
        if not wanted:
            continue
        existing = set(
            Reminder.objects.filter(dossier_id__in={k[0] for k in wanted}).values_list(
                "dossier_id", "kind", "threshold"
            )
        )
        for key in wanted.keys() - existing:
            dossier = wanted[key]
            try:
                with transaction.atomic():
                    reminder = Reminder.objects.create(dossier=dossier, kind=key[1], threshold=key[2], created_at=now)
                    notifications.on_reminder(reminder, dossier, policy, now)
            except IntegrityError:
                # Another scan (a second beat, a re-delivered task) created it first.
                continue
            created += 1
    return created


def send_digests(now=None):
    """One morning digest per officer and day (unique key), in the app and by e-mail."""
    from .models import NotificationChannel

    now = now or timezone.now()
    today = timezone.localdate(now)
    written = 0
    for user in notifications.officers_with_work():
        counts = notifications.digest_counts(user, now)
        if not any(counts.values()):
            continue
        from django.conf import settings

        context = {
            **counts,
            "today": today.strftime("%d/%m/%Y"),
            "officer": user.get_full_name() or user.get_username(),
            "workspace_url": f"{settings.SITE_URL}/can-bo/",
        }
        channels = [(NotificationChannel.IN_APP, "")]
        if user.email:
            channels.append((NotificationChannel.EMAIL, user.email))
        for channel, address in channels:
            subject, body = notifications.render_text("digest", channel, context)
            written += notifications.queue(
                kind="digest",
                channel=channel,
                key=f"digest:{user.pk}:{today.isoformat()}:{channel}",
                subject=subject,
                body=body,
                recipient=user,
                address=address,
                link="/can-bo/",
                now=now,
            )
    return written
