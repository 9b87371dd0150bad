"""Reminders and notifications: the database is the schedule; Celery only delivers.

These models lived in the `dossiers` app until the split of issue 12; their tables keep the old
names (`dossiers_reminder`, …) so no data moved (migration 0001 is state-only).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dossiers.models import Dossier


class ReminderKind(models.TextChoices):
    DUE_SOON = "due_soon", _("Due soon (reminder policy)")
    DUE_TODAY = "due_today", _("Due today")
    OVERDUE = "overdue", _("Overdue")
    STEP_OVERDUE = "step_overdue", _("Step deadline passed")
    EXTENSION_PROMPT = "extension_prompt", _("Issue the apology letter while still possible")
    # Art. 17.2: an online submission still waiting 2 working hours after it arrived.
    ONLINE_INTAKE = "online_intake", _("Online submission waiting for acceptance")
    # Art. 23.1: a wrong result not corrected within 3 working days of the report.
    CORRECTION_OVERDUE = "correction_overdue", _("Result correction overdue")
    # Art. 24.3: a fee collected at the desk not remitted within 8 working hours.
    FEE_REMITTANCE_OVERDUE = "fee_remittance_overdue", _("Fee not remitted in time")
    # Art. 19.4c: a consulted agency (inter-agency routing) warned before its answer is due and
    # alerted after; the threshold is "<consultation id>:<deadline>", the consulted agency owns it.
    CONSULTATION_DUE_SOON = "consultation_due_soon", _("Requested opinion due soon")
    CONSULTATION_OVERDUE = "consultation_overdue", _("Requested opinion overdue")


class Reminder(models.Model):
    """One row per dossier × kind × threshold: the unique constraint is what makes a second scan,
    a re-delivered task or a second beat create nothing new."""

    dossier = models.ForeignKey(Dossier, verbose_name=_("dossier"), on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(_("kind"), max_length=30, choices=ReminderKind.choices)
    # What the reminder is about: the deadline it warns of, or the day (for daily overdue reminders).
    threshold = models.CharField(_("threshold"), max_length=64)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        db_table = "dossiers_reminder"
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        constraints = [models.UniqueConstraint(fields=["dossier", "kind", "threshold"], name="unique_reminder")]

    def __str__(self):
        return f"{self.dossier_id} {self.kind} {self.threshold}"


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", _("In the app")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")


class NotificationQuerySet(models.QuerySet):
    def due_for_delivery(self, now=None):
        now = now or timezone.now()
        return self.filter(state=Notification.State.PENDING, next_attempt_at__lte=now).exclude(
            channel=NotificationChannel.IN_APP
        )

    def unread_for(self, user):
        return self.filter(recipient=user, channel=NotificationChannel.IN_APP, read_at__isnull=True)


class Notification(models.Model):
    """The outbox: written in the same transaction as the change (or the scan) that causes it;
    Celery delivers pending rows. `dedupe_key` is unique, so nothing is ever queued twice."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed (gave up)")

    dedupe_key = models.CharField(max_length=200, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=40)
    channel = models.CharField(_("channel"), max_length=10, choices=NotificationChannel.choices)
    dossier = models.ForeignKey(
        Dossier,
        verbose_name=_("dossier"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    address = models.CharField(_("address"), max_length=255, blank=True, help_text=_("E-mail or phone number."))
    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("message"))
    link = models.CharField(_("link"), max_length=255, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        db_table = "dossiers_notification"
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="notification_pending_idx", condition=Q(state="pending")),
            models.Index(
                fields=["recipient", "channel", "read_at"], name="notification_inbox_idx", condition=Q(channel="in_app")
            ),
        ]

    def __str__(self):
        return self.subject


class NotificationTemplate(models.Model):
    """Admin-editable message texts. Subject and body are Django templates with placeholders
    such as {{ code }}, {{ applicant_name }}, {{ procedure }}, {{ due_at }}, {{ lookup_url }}."""

    kind = models.CharField(_("kind"), max_length=40)
    channel = models.CharField(_("channel"), max_length=10, choices=NotificationChannel.choices)
    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("message"))
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "dossiers_notificationtemplate"
        verbose_name = _("notification template")
        verbose_name_plural = _("notification templates")
        ordering = ["kind", "channel"]
        constraints = [models.UniqueConstraint(fields=["kind", "channel"], name="unique_notification_template")]

    def __str__(self):
        return f"{self.kind} ({self.get_channel_display()})"


class ReminderPolicy(models.Model):
    """The admin-editable schedule and thresholds (one row). Beat only ticks every minute; the
    tick reads this row to decide whether a scan or the morning digest is due."""

    scan_interval_minutes = models.PositiveSmallIntegerField(_("scan every (minutes)"), default=15)
    scan_in_office_hours_only = models.BooleanField(_("scan during office hours only"), default=True)
    digest_time = models.TimeField(_("morning digest at"), default="07:30")
    due_soon_working_days = models.PositiveSmallIntegerField(_("warn when due within (working days)"), default=1)
    extension_prompt_working_days = models.PositiveSmallIntegerField(
        _("prompt for the apology letter when due within (working days)"), default=2
    )
    notify_leaders = models.BooleanField(_("also notify the agency's leaders"), default=True)
    email_officers = models.BooleanField(_("e-mail officers"), default=True)
    notify_citizens_by_email = models.BooleanField(_("e-mail citizens"), default=True)
    notify_citizens_by_sms = models.BooleanField(_("SMS citizens"), default=True)
    max_attempts = models.PositiveSmallIntegerField(_("delivery attempts before giving up"), default=8)
    # Claimed by conditional UPDATEs, so two beats or workers never run the same slot twice.
    last_scan_at = models.DateTimeField(_("last scan at"), null=True, blank=True, editable=False)
    last_digest_on = models.DateField(_("last digest on"), null=True, blank=True, editable=False)

    class Meta:
        db_table = "dossiers_reminderpolicy"
        verbose_name = _("reminder policy")
        verbose_name_plural = _("reminder policy")

    def __str__(self):
        return str(_("Reminder policy"))

    @classmethod
    def get(cls):
        return cls.objects.order_by("pk").first() or cls.objects.get_or_create(pk=1)[0]
