"""The deadline scan: which open dossiers need a reminder now, working-day aware.

Candidates are selected by two id-only queries, each served by a partial index on open
dossiers (`dossier_open_due_idx` on `due_at`, `dossier_open_step_due_idx` on `step_due_at`),
then loaded and handled in batches of `BATCH`, so a scan's cost follows the number of dossiers
near or past a deadline, not the size of the table. Each reminder is a unique
(dossier, kind, threshold) row created in its own transaction together with its notifications:
running the scan twice, or from two beats at once, creates nothing new.
"""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from procedures import deadlines

from . import notifications
from .models import (
    OPEN_STATUSES,
    PAUSED_STATUSES,
    Dossier,
    NotificationChannel,
    Reminder,
    ReminderKind,
    ReminderPolicy,
    Status,
)

BATCH = 500
RUNNING_STATUSES = tuple(s for s in OPEN_STATUSES if s not in PAUSED_STATUSES)


def moment_key(moment):
    """A deadline as a threshold: local ISO time, whatever zone the datetime object carries
    (rows read from the database are in UTC, computed ones in local time)."""
    return timezone.localtime(moment).isoformat()


def reminder_kinds(dossier, now, calendar, policy):
    """The (kind, threshold) pairs a dossier deserves at `now`. Pure: no queries.

    * due_soon: due on one of the next `policy.due_soon_working_days` working days (not today);
    * due_today: due later today;
    * overdue: past due, once per working day (threshold = the day) until finished;
    * extension_prompt: due within `policy.extension_prompt_working_days` working days, not
      rescheduled yet and still at least one day before the due date (Art. 19.6, 12.5);
    * step_overdue: the current workflow step's deadline has passed (once per step deadline).
    """
    if dossier.status not in RUNNING_STATUSES:
        return []
    kinds = []
    today = timezone.localdate(now)
    due = dossier.due_at
    if due is not None:
        due_key = moment_key(due)
        due_day = timezone.localdate(due)
        if due < now:
            if calendar.is_working_day(today):
                kinds.append((ReminderKind.OVERDUE, today.isoformat()))
        elif due_day == today:
            kinds.append((ReminderKind.DUE_TODAY, due_key))
        elif due_day <= calendar.add_working_days(today, policy.due_soon_working_days):
            kinds.append((ReminderKind.DUE_SOON, due_key))
        # The letter can be issued in processing or approval (status 4; see workflow "extend"),
        # once, and at least one day before the due date.
        if (
            dossier.original_due_at is None
            and dossier.status == Status.PROCESSING
            and today < due_day
            and due_day <= calendar.add_working_days(today, policy.extension_prompt_working_days)
        ):
            kinds.append((ReminderKind.EXTENSION_PROMPT, due_key))
    if dossier.step_due_at is not None and dossier.step_due_at < now:
        kinds.append((ReminderKind.STEP_OVERDUE, f"{dossier.stage}:{moment_key(dossier.step_due_at)}"))
    return kinds


def horizon(now, calendar, policy):
    """The moment before which a due date may need a reminder at `now`: midnight after the
    furthest working day any threshold looks ahead to."""
    days = max(policy.due_soon_working_days, policy.extension_prompt_working_days)
    last_day = calendar.add_working_days(timezone.localdate(now), days)
    return timezone.make_aware(datetime.combine(last_day + timedelta(days=1), time.min))


def candidate_ids(now, calendar, policy):
    """Ids of running dossiers due before the horizon or whose step deadline has passed. Two
    queries so that each is answered by its own partial index (an OR of both columns in one
    query would make the planner fall back to a full scan without a bitmap-OR)."""
    running = Dossier.objects.filter(status__in=OPEN_STATUSES).exclude(status__in=PAUSED_STATUSES).order_by()
    ids = set(running.filter(due_at__lt=horizon(now, calendar, policy)).values_list("pk", flat=True))
    ids.update(running.filter(step_due_at__lt=now).values_list("pk", flat=True))
    return sorted(ids)


def candidates(now, calendar, policy):
    """The candidate dossiers, loaded in batches of BATCH (by id)."""
    ids = candidate_ids(now, calendar, policy)
    related = ("procedure", "receiving_agency", "competent_agency", "returning_agency", "assignee")
    for start in range(0, len(ids), BATCH):
        yield list(Dossier.objects.filter(pk__in=ids[start : start + BATCH]).select_related(*related).order_by("pk"))


def scan(now=None):
    """Create the reminders (and their notifications) due at `now`. Returns the number of new
    reminder rows. Safe to run twice and concurrently."""
    now = now or timezone.now()
    calendar = deadlines.get_calendar()
    policy = ReminderPolicy.get()
    lookups = notifications.Lookups()
    created = 0
    for batch in candidates(now, calendar, policy):
        wanted = {
            (d.pk, kind, threshold): d for d in batch for kind, threshold in reminder_kinds(d, now, calendar, policy)
        }
        if not wanted:
            continue
        existing = set(
            Reminder.objects.filter(
                dossier_id__in={k[0] for k in wanted}, threshold__in={k[2] for k in wanted}
            ).values_list("dossier_id", "kind", "threshold")
        )
        for key in sorted(wanted.keys() - existing):
            dossier = wanted[key]
            try:
                with transaction.atomic():
                    reminder = Reminder.objects.create(dossier=dossier, kind=key[1], threshold=key[2], created_at=now)
                    notifications.on_reminder(reminder, dossier, policy, now, lookups=lookups)
            except IntegrityError:
                # Another scan (a second beat, a re-delivered task) created it first; its
                # notifications were written in that scan's transaction.
                continue
            created += 1
    return created


def send_digests(now=None, calendar=None, policy=None):
    """One morning digest per officer and day (unique key), in the app and by e-mail.
    Officers with nothing waiting get none. Returns the number of rows written."""
    now = now or timezone.now()
    calendar = calendar or deadlines.get_calendar()
    policy = policy or ReminderPolicy.get()
    today = timezone.localdate(now)
    written = 0
    for user in notifications.officers_with_work():
        counts = notifications.digest_counts(user, now, calendar)
        if not any(counts.values()):
            continue
        context = {
            **counts,
            "today": today.strftime("%d/%m/%Y"),
            "officer": user.get_full_name() or user.get_username(),
            "workspace_url": f"{settings.SITE_URL}{reverse('dossiers:workspace')}",
        }
        channels = [(NotificationChannel.IN_APP, "")]
        if policy.email_officers and user.email:
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
                link=reverse("dossiers:workspace"),
                now=now,
            )
    return written
