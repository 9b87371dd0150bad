"""The deadline scan: which open dossiers need a reminder now, working-day aware.

The work is set-based. Candidates are selected by one query per reminder kind, each served by a
partial index on open dossiers (`dossier_open_due_idx` on `due_at`, `dossier_open_step_due_idx`
on `step_due_at`), and each skips, in SQL (`NOT EXISTS` on the unique reminder key), the
dossiers that already have that reminder: a rerun is a handful of index scans returning
nothing. The candidates are then loaded and handled in batches of `BATCH`, one transaction per
batch: one `INSERT … ON CONFLICT DO NOTHING RETURNING` writes the batch's reminders and returns
only the rows this scan actually inserted, and one insert writes the notifications of exactly
those rows. Each reminder is a unique (dossier, kind, threshold) row: running the scan twice, or
from two beats at once, creates nothing new, and a reminder's notifications are written once,
in the transaction that created it.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Exists, Func, OuterRef, Prefetch, Value, prefetch_related_objects
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils import timezone

from dossiers import periods
from dossiers.models import OPEN_STATUSES, RUNNING_STATUSES, Channel, Dossier, Status
from notifications import outbox as notifications
from notifications.models import NotificationChannel, Reminder, ReminderKind, ReminderPolicy
from procedures import deadlines
from procedures.models import Agency

BATCH = 1000
# What the scan reads of a dossier (thresholds, recipients, the messages' placeholders). The
# few agencies and officers they point to are read once per batch (prefetch), not joined to every
# row: a dossier then costs one model instance instead of four.
FIELDS = (
    "code",
    "applicant_name",
    "procedure_snapshot",
    "status",
    "stage",
    "received_at",
    "due_at",
    "original_due_at",
    "step_due_at",
    "channel",
    "submitted_at",
    "correction_due_at",
    "fee_remit_due_at",
    "fee_remitted_at",
    "procedure_id",
    "receiving_agency_id",
    "competent_agency_id",
    "returning_agency_id",
    "assignee_id",
)


def moment_key(moment):
    """A deadline as a threshold: local ISO time, whatever zone the datetime object carries
    (rows read from the database are in UTC, computed ones in local time)."""
    return timezone.localtime(moment).isoformat()


def _midnight_after(day):
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


@dataclass(frozen=True)
class Limits:
    """What every dossier of one scan is compared with, computed once per scan."""

    now: datetime
    today: date
    working_today: bool
    tomorrow: datetime  # start of tomorrow (local)
    due_soon_end: datetime  # the end of the "due soon" window (Dossier.objects.due_soon)
    prompt_last_day: date
    prompt_end: datetime

    @classmethod
    def at(cls, now, calendar, policy):
        today = timezone.localdate(now)
        prompt = calendar.add_working_days(today, policy.extension_prompt_working_days)
        return cls(
            now=now,
            today=today,
            working_today=calendar.is_working_day(today),
            tomorrow=timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min)),
            due_soon_end=deadlines.due_soon_end(now, policy.due_soon_working_days, calendar),
            prompt_last_day=prompt,
            prompt_end=_midnight_after(prompt),
        )


def reminder_kinds(dossier, now, calendar, policy, limits=None):
    """The (kind, threshold) pairs a dossier deserves at `now`. Pure: no queries.

    * due_soon: due on one of the next `policy.due_soon_working_days` working days (not today);
    * due_today: due later today;
    * overdue: past due, once per working day (threshold = the day) until finished;
    * extension_prompt: due within `policy.extension_prompt_working_days` working days, not
      rescheduled yet and still at least one day before the due date (Art. 19.6, 12.5);
    * step_overdue: the current workflow step's deadline has passed (once per step deadline);
    * online_intake: an online submission still waiting 2 working hours after it arrived (once);
    * correction_overdue: a reported wrong result not corrected by its deadline (any status);
    * fee_remittance_overdue: a fee collected at the desk not remitted by its deadline (any status).

    `limits` (the same for every dossier of a scan) may be passed to save recomputing them.
    """
    kinds = [*_after_deadline_kinds(dossier, now)]
    if dossier.status not in RUNNING_STATUSES:  # Dossier.objects.running()
        return kinds
    limits = limits or Limits.at(now, calendar, policy)
    if (
        dossier.status == Status.SUBMITTED_ONLINE
        and dossier.channel == Channel.ONLINE
        and periods.online_intake_alert_at(dossier, calendar) <= now
    ):
        kinds.append((ReminderKind.ONLINE_INTAKE, ONLINE_INTAKE_THRESHOLD))
    today = limits.today
    due = dossier.due_at
    if due is not None:
        due_key = moment_key(due)
        due_day = timezone.localdate(due)
        if due < now:
            if limits.working_today:
                kinds.append((ReminderKind.OVERDUE, today.isoformat()))
        elif due_day == today:
            kinds.append((ReminderKind.DUE_TODAY, due_key))
        elif due < limits.due_soon_end:
            kinds.append((ReminderKind.DUE_SOON, due_key))
        # The letter can be issued in processing or approval (status 4; see workflow "extend"),
        # once, and at least one day before the due date.
        if (
            dossier.original_due_at is None
            and dossier.status == Status.PROCESSING
            and today < due_day
            and due_day <= limits.prompt_last_day
        ):
            kinds.append((ReminderKind.EXTENSION_PROMPT, due_key))
    if dossier.step_due_at is not None and dossier.step_due_at < now:
        kinds.append((ReminderKind.STEP_OVERDUE, f"{dossier.stage}:{moment_key(dossier.step_due_at)}"))
    return kinds


# One alert per online submission: it is about the dossier, not a moving deadline.
ONLINE_INTAKE_THRESHOLD = "2h"


def _after_deadline_kinds(dossier, now):
    """The reminders of deadlines that outlive the processing (a correction, a fee to remit)."""
    if dossier.correction_due_at is not None and dossier.correction_due_at < now:
        yield ReminderKind.CORRECTION_OVERDUE, moment_key(dossier.correction_due_at)
    if dossier.fee_remit_due_at is not None and dossier.fee_remitted_at is None and dossier.fee_remit_due_at < now:
        yield ReminderKind.FEE_REMITTANCE_OVERDUE, moment_key(dossier.fee_remit_due_at)


def horizon(now, calendar, policy):
    """The moment before which a due date may need a reminder at `now`: midnight after the
    furthest working day any threshold looks ahead to."""
    days = max(policy.due_soon_working_days, policy.extension_prompt_working_days)
    last_day = calendar.add_working_days(timezone.localdate(now), days)
    return _midnight_after(last_day)


def _utc_offset():
    """The local zone's current UTC offset as isoformat() writes it ('+07:00')."""
    return timezone.localtime().isoformat()[-6:]


class LocalISO(Func):
    """`moment_key()` in SQL: a timestamp as local ISO text ('2026-03-09T11:30:00+07:00', with
    '.ffffff' when there are microseconds), so that the candidate queries can skip existing
    reminders by their unique key. The offset is the zone's current one (Vietnam has a single
    offset; in a zone with daylight saving time, deadlines in the other season would merely be
    selected again). Only a filter: should it ever differ from Python's text for some row, that
    row is selected again and its insert does nothing."""

    output_field = CharField()
    arity = 1

    def as_postgresql(self, compiler, connection, **extra):
        x, params = compiler.compile(self.source_expressions[0])
        sql = f"(replace(to_char(({x}) AT TIME ZONE %s, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || %s)"
        return sql, [*params, timezone.get_current_timezone_name(), _utc_offset()]

    def as_sqlite(self, compiler, connection, **extra):
        # SQLite stores UTC text ('YYYY-MM-DD HH:MM:SS[.ffffff]') and knows no time zones.
        x, params = compiler.compile(self.source_expressions[0])
        seconds = int(timezone.localtime().utcoffset().total_seconds())
        sql = (
            f"(strftime('%%Y-%%m-%%dT%%H:%%M:%%S', substr(({x}), 1, 19), '{seconds:+d} seconds')"
            f" || CASE WHEN length(({x})) > 19 THEN '.' || substr(({x}), 21, 6) ELSE '' END || %s)"
        )
        return sql, [*params, *params, *params, _utc_offset()]

    def as_sql(self, compiler, connection, **extra):
        return "NULL", []  # other databases: no filter (every candidate is checked by its insert)


def _missing(queryset, kind, threshold):
    """Exclude the dossiers that already have the reminder (kind, threshold expression)."""
    existing = Reminder.objects.filter(dossier=OuterRef("pk"), kind=kind, threshold=threshold)
    return queryset.filter(~Exists(existing)).values_list("pk", flat=True)


def candidate_ids(now, calendar, policy, limits=None):
    """Ids of running dossiers that may need a new reminder at `now`: one query per kind, each
    an index range on open dossiers (`due_at` or `step_due_at`) anti-joined with the reminders
    already written. Together they select every dossier `reminder_kinds()` gives a pair that
    does not exist yet (and, rarely, one whose pairs all exist: its inserts then do nothing)."""
    limits = limits or Limits.at(now, calendar, policy)
    running = Dossier.objects.running().order_by()
    # "Due soon" (the workspace tab and the digest too): due today, or later within the window.
    soon = Dossier.objects.due_soon(now, end=limits.due_soon_end).order_by()
    due_key = LocalISO(OuterRef("due_at"))
    queries = [
        _missing(soon.filter(due_at__lt=limits.tomorrow), ReminderKind.DUE_TODAY, due_key),
        _missing(soon.filter(due_at__gte=limits.tomorrow), ReminderKind.DUE_SOON, due_key),
        _missing(
            running.filter(
                due_at__gte=limits.tomorrow,
                due_at__lt=limits.prompt_end,
                status=Status.PROCESSING,
                original_due_at__isnull=True,
            ),
            ReminderKind.EXTENSION_PROMPT,
            due_key,
        ),
        _missing(
            running.filter(step_due_at__lt=now),
            ReminderKind.STEP_OVERDUE,
            Concat(OuterRef("stage"), Value(":"), LocalISO(OuterRef("step_due_at")), output_field=CharField()),
        ),
    ]
    if limits.working_today:
        queries.append(_missing(running.filter(due_at__lt=now), ReminderKind.OVERDUE, Value(limits.today.isoformat())))
    # Online submissions waiting at least 2 hours (2 working hours take at least that; the exact
    # moment is checked in Python), corrections and fee remittances past their deadlines.
    everything = Dossier.objects.order_by()
    queries += [
        _missing(
            everything.filter(
                status=Status.SUBMITTED_ONLINE,
                submitted_at__lte=now - timedelta(minutes=periods.ONLINE_INTAKE_ALERT_MINUTES),
            ),
            ReminderKind.ONLINE_INTAKE,
            Value(ONLINE_INTAKE_THRESHOLD),
        ),
        _missing(
            everything.filter(correction_due_at__lt=now),
            ReminderKind.CORRECTION_OVERDUE,
            LocalISO(OuterRef("correction_due_at")),
        ),
        _missing(
            everything.filter(fee_remit_due_at__lt=now, fee_remitted_at__isnull=True),
            ReminderKind.FEE_REMITTANCE_OVERDUE,
            LocalISO(OuterRef("fee_remit_due_at")),
        ),
    ]
    ids = set()
    for query in queries:
        ids.update(query)
    return sorted(ids)


def candidates(now, calendar, policy, limits=None):
    """The candidate dossiers, loaded in batches of BATCH (by id)."""
    ids = candidate_ids(now, calendar, policy, limits)
    related = (
        Prefetch("returning_agency", queryset=Agency.objects.only("name")),
        Prefetch("assignee", queryset=get_user_model().objects.only("is_active", "email")),
    )
    for start in range(0, len(ids), BATCH):
        batch = list(Dossier.objects.filter(pk__in=ids[start : start + BATCH]).only(*FIELDS).order_by("pk"))
        prefetch_related_objects(batch, *related)
        # The procedure's name is only read when the snapshot has none (never, for dossiers
        # received by this code): one query for all of those, not one per dossier.
        prefetch_related_objects([d for d in batch if not d.procedure_snapshot.get("name")], "procedure")
        yield batch


def _insert_reminders(keys, now):
    """INSERT the (dossier_id, kind, threshold) keys, skipping those that exist (written by an
    earlier or a concurrent scan); returns {key: id} for the rows this statement inserted."""
    created_at = connection.ops.adapt_datetimefield_value(now)
    rows = notifications.insert_rows(
        Reminder,
        ("dossier", "kind", "threshold", "created_at"),
        [(*key, created_at) for key in keys],
        ignore_conflicts=True,
        returning=("id", "dossier", "kind", "threshold"),
    )
    return {(dossier_id, kind, threshold): pk for pk, dossier_id, kind, threshold in rows}


def _write(keys, wanted, now, writer):
    """Insert the reminders `keys` and the notifications of those this scan actually inserted,
    in one transaction. Another scan (a second beat, a re-delivered task) may have written some
    of them first: their notifications were written in that scan's transaction."""
    with transaction.atomic():
        inserted = _insert_reminders(keys, now)
        writer.write([(inserted[key], key[1], wanted[key]) for key in keys if key in inserted])
    return len(inserted)


def _handle(batch, now, calendar, policy, limits, writer):
    wanted = {}
    for dossier in batch:
        for kind, threshold in reminder_kinds(dossier, now, calendar, policy, limits):
            wanted[dossier.pk, str(kind), threshold] = dossier
    keys = sorted(wanted)  # one order for every scan: concurrent inserts wait, never deadlock
    if not keys:
        return 0
    try:
        return _write(keys, wanted, now, writer)
    except IntegrityError:
        # Not a duplicate (those are skipped), but e.g. a dossier deleted since it was read:
        # write the batch one reminder at a time, so that the others are not lost with it.
        created = 0
        for key in keys:
            try:
                created += _write([key], wanted, now, writer)
            except IntegrityError:
                continue
        return created


def scan(now=None):
    """Create the reminders (and their notifications) due at `now`. Returns the number of new
    reminder rows. Safe to run twice and concurrently."""
    now = now or timezone.now()
    calendar = deadlines.get_calendar()
    policy = ReminderPolicy.get()
    limits = Limits.at(now, calendar, policy)
    writer = notifications.ReminderWriter(policy, now)
    created = 0
    for batch in candidates(now, calendar, policy, limits):
        created += _handle(batch, now, calendar, policy, limits, writer)
    created += scan_consultations(now, limits, writer)
    return created


# --- Consulted agencies (Decree 118/2025, Art. 19.4c) ---------------------------------------------


class ConsultationTarget:
    """A dossier as the reminder writer sees it for one consultation: the consulted and the
    requesting agency as `consulted_agency_id` / `requesting_agency_id` (REMINDER_OWNERS), and the
    consultation's placeholders in `extra_context`; everything else is the dossier's."""

    def __init__(self, dossier, consultation):
        self._dossier = dossier
        self.consulted_agency_id = consultation.agency_id
        self.requesting_agency_id = consultation.requesting_agency_id
        self.extra_context = {
            "consulted_agency": consultation.agency.name,
            "requesting_agency": consultation.requesting_agency.name,
            "consultation_due_at": timezone.localtime(consultation.due_at).strftime("%H:%M %d/%m/%Y"),
        }

    def __getattr__(self, name):
        return getattr(self._dossier, name)


def consultation_kind(consultation, now, limits):
    """(kind, threshold) an open consultation deserves at `now`: the reminder once its deadline is
    within the "due soon" window (the reminder policy's working days), the alert once it passed."""
    threshold = f"{consultation.pk}:{moment_key(consultation.due_at)}"
    if consultation.due_at < now:
        return ReminderKind.CONSULTATION_OVERDUE, threshold
    if consultation.due_at < limits.due_soon_end:
        return ReminderKind.CONSULTATION_DUE_SOON, threshold
    return None


def scan_consultations(now, limits, writer):
    """The reminders of open consultations (one index range on `consultation_open_due_idx`); the
    unique reminder key makes a rerun write nothing."""
    from dossiers.models import Consultation

    open_ones = (
        Consultation.objects.filter(answered_at__isnull=True, due_at__lt=limits.due_soon_end)
        .select_related("agency", "requesting_agency")
        .order_by("pk")
    )
    wanted = {}
    dossiers = {}
    for consultation in open_ones:
        pair = consultation_kind(consultation, now, limits)
        if pair is None:
            continue
        dossiers.setdefault(consultation.dossier_id, None)
        wanted[consultation.dossier_id, str(pair[0]), pair[1]] = consultation
    if not wanted:
        return 0
    existing = set(
        Reminder.objects.filter(dossier_id__in=list(dossiers), kind__in=[k for _d, k, _t in wanted]).values_list(
            "dossier_id", "kind", "threshold"
        )
    )
    wanted = {key: value for key, value in wanted.items() if key not in existing}
    if not wanted:
        return 0
    loaded = Dossier.objects.filter(pk__in={key[0] for key in wanted}, status__in=OPEN_STATUSES).select_related(
        "procedure", "returning_agency", "assignee"
    )
    by_pk = {d.pk: d for d in loaded}
    targets = {key: ConsultationTarget(by_pk[key[0]], c) for key, c in wanted.items() if key[0] in by_pk}
    keys = sorted(targets)
    return _write(keys, targets, now, writer) if keys else 0


def send_digests(now=None, calendar=None, policy=None):
    """One morning digest per officer and day (unique key), in the app and by e-mail.
    Officers with nothing waiting get none. Returns the number of rows written."""
    now = now or timezone.now()
    calendar = calendar or deadlines.get_calendar()
    policy = policy or ReminderPolicy.get()
    today = timezone.localdate(now)
    written = 0
    for user in notifications.officers_with_work():
        counts = notifications.digest_counts(user, now, calendar, policy)
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
