"""Dossiers (hồ sơ): the applications received at the one-stop desk, their append-only audit
events, pauses, attachments and the per-agency daily code sequence.

`Dossier.status` changes only through `dossiers.services.dossier_act()` (the workflow service);
nothing else assigns it.
"""

import functools
import hashlib
import hmac
import secrets
import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.roles import visible_agency_ids
from procedures.models import Agency, Procedure
from procedures.text import fold

# Officers' search (`DossierQuerySet.search`): at most this many characters, at least this many
# for a part of a name or a code.
SEARCH_MAX_LENGTH = 100
SEARCH_MIN_LENGTH = 3
_PHONE_PUNCTUATION = str.maketrans("", "", " .-()")


class Status(models.IntegerChoices):
    """The national 10-code status vocabulary. "Overdue" is derived, never stored."""

    SUBMITTED_ONLINE = 1, _("Submitted online")
    RECEIVED = 2, _("Received")
    REFUSED = 3, _("Refused")
    PROCESSING = 4, _("Processing")
    AWAITING_SUPPLEMENT = 5, _("Awaiting supplement")
    AWAITING_OBLIGATION = 6, _("Awaiting financial obligation")
    WITHDRAWN = 7, _("Withdrawn")
    STOPPED = 8, _("Stopped")
    RESULT_READY = 9, _("Result ready")
    RETURNED = 10, _("Result returned")


OPEN_STATUSES = (
    Status.SUBMITTED_ONLINE,
    Status.RECEIVED,
    Status.PROCESSING,
    Status.AWAITING_SUPPLEMENT,
    Status.AWAITING_OBLIGATION,
)
PAUSED_STATUSES = (Status.AWAITING_SUPPLEMENT, Status.AWAITING_OBLIGATION)
# Open statuses whose clock runs (not paused): what can be "due soon" or "overdue".
RUNNING_STATUSES = tuple(status for status in OPEN_STATUSES if status not in PAUSED_STATUSES)
FINISHED_STATUSES = (Status.REFUSED, Status.WITHDRAWN, Status.STOPPED, Status.RESULT_READY, Status.RETURNED)


class Stage(models.TextChoices):
    """Where an open dossier sits inside its procedure's workflow (who acts next)."""

    INTAKE = "intake", _("Intake")
    PROCESSING = "processing", _("Specialist processing")
    APPROVAL = "approval", _("Awaiting approval")
    # Inter-agency routing (liên thông): handed to another agency, waiting for it to accept.
    HANDOVER = "handover", _("Awaiting hand-over acceptance")
    RETURN = "return", _("Result at the desk")
    CLOSED = "closed", _("Closed")


class Channel(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    ONLINE = "online", _("Online")
    POST = "post", _("Post")


class Outcome(models.TextChoices):
    EARLY = "early", _("Early")
    ON_TIME = "on_time", _("On time")
    LATE = "late", _("Late")


@functools.cache
def choice_labels(choices):
    """{value: lazy label} of a choices class, built once (see `fast_display`)."""
    return dict(choices.choices)


def fast_display(field_name, choices):
    """A `get_<field>_display()` that looks the label up in a dictionary built once. Django's own
    rebuilds a hashable copy of the choices on every call, which made it the largest cost of list
    pages and of a 50-event history (hundreds of calls per request). Same result: the label in
    the active language, or the value itself when it is not a choice."""
    labels = choice_labels(choices)

    def display(self):
        value = getattr(self, field_name)
        return force_str(labels.get(value, value), strings_only=True)

    display.__name__ = f"get_{field_name}_display"
    return display


def judge(finished_at, due_at, supplement_requests=0):
    """The one definition of on time / late (Decision 766): late after the deadline, or when the
    dossier needed more than one supplement request; early when finished on an earlier day than
    the due date. The API's `outcome`, the statistics, the lookup and the benchmark all call it;
    a workflow step is judged with it too (without supplement requests)."""
    if finished_at is None or due_at is None:
        return ""
    if finished_at > due_at or supplement_requests > 1:
        return Outcome.LATE
    if timezone.localdate(finished_at) < timezone.localdate(due_at):
        return Outcome.EARLY
    return Outcome.ON_TIME


def register_book_start(moment):
    """The start of the register book (sổ theo dõi hồ sơ) that `moment` belongs to: each receiving
    desk keeps one book per calendar year (Vietnam time), its lines numbered in acceptance order.
    The receipt prints a dossier's line (`Dossier.register_number`) and the register book the same
    numbers (reporting/register.py)."""
    return timezone.localtime(moment).replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


def participation_q(agency_ids):
    """Q of the dossiers handed to (or consulted with) one of `agency_ids` beyond their own columns."""
    ids = sorted(agency_ids)
    return Q(models.Exists(DossierAgency.objects.filter(dossier_id=models.OuterRef("pk"), agency_id__in=ids)))


def scope_q(agency_ids):
    """`visible_to` as a Q over agency ids: the dossier's receiving, competent or returning agency
    is one of them, or one of them took part (`participation_q`)."""
    ids = sorted(agency_ids)
    return (
        Q(receiving_agency_id__in=ids)
        | Q(competent_agency_id__in=ids)
        | Q(returning_agency_id__in=ids)
        | participation_q(ids)
    )


class DossierQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The one agency-scoping rule: an officer sees the dossiers received, handled or returned
        by an agency they belong to, and those another agency handed to theirs or consulted theirs
        on (inter-agency routing: from the hand-over or the request on, for good; `DossierAgency`);
        a supervisor also sees every agency below theirs."""
        if not user or not user.is_authenticated:
            return self.none()
        agency_ids = visible_agency_ids(user)
        if agency_ids is None:
            return self
        if not agency_ids:
            return self.none()
        return self.filter(scope_q(agency_ids))

    def with_code(self, code):
        """The dossier known by `code`: its Art. 28 code or the provisional reference it had before
        acceptance (both unique; printed receipts and links with either keep working)."""
        return self.filter(Q(code=code) | Q(provisional_code=code))

    def search(self, text):
        """Dossiers an officer finds by what the applicant tells them: a name or part of it (with
        or without diacritics), a phone number (any spacing, +84), an ID or passport number, or
        part of the code. Index-friendly: exact equality on the phone and ID columns, a
        `LIKE '%…%'` on the folded name and on the code (trigram indexes on PostgreSQL, migration
        0013). Apply it after `visible_to(user)`: it never widens the scope."""
        text = " ".join(str(text or "").split())[:SEARCH_MAX_LENGTH]
        if not text:
            return self.none()
        compact = text.translate(_PHONE_PUNCTUATION)
        phone = compact
        if phone.startswith("+84"):
            phone = "0" + phone[3:]
        elif phone.startswith("84") and len(phone) in (11, 12):
            phone = "0" + phone[2:]
        lookup = Q(applicant_id_number=compact.upper())
        if phone.isdigit():
            lookup |= Q(applicant_phone=phone)
        if len(text) >= SEARCH_MIN_LENGTH:
            folded = fold(text)
            code = text.replace(" ", "").upper()
            lookup |= Q(code__contains=code) | Q(provisional_code__contains=code)
            if not compact.isdigit():
                lookup |= Q(applicant_folded__contains=folded)
        return self.filter(lookup)

    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def running(self):
        """Open and not paused: the dossiers whose clock runs."""
        return self.filter(status__in=RUNNING_STATUSES)

    def overdue(self, now=None):
        now = now or timezone.now()
        return self.running().filter(due_at__lt=now)

    def due_within(self, start, end):
        return self.open().filter(due_at__gte=start, due_at__lt=end)

    def due_soon(self, now, working_days=None, *, end=None, calendar=None):
        """The one definition of "due soon": running dossiers due from `now` until the end of the
        `working_days`-th working day after today (`deadlines.due_soon_end`; `end`, when given,
        is that moment computed once by the caller). The workspace tab, the morning digest and
        the reminder scan all call it, with the reminder policy's number of days
        (`dossiers.policy.due_soon_working_days()`, the default of `working_days`)."""
        if end is None:
            from procedures import deadlines

            from .policy import due_soon_working_days

            days = due_soon_working_days() if working_days is None else working_days
            end = deadlines.due_soon_end(now, days, calendar)
        return self.running().filter(due_at__gte=now, due_at__lt=end)


def make_pin():
    return f"{secrets.randbelow(10**6):06d}"


def hash_pin(code, pin):
    """A keyed hash (HMAC-SHA256), not PBKDF2: the lookup is public and hot, brute force is
    stopped by throttling, and without the server key the hashes are useless."""
    key = (settings.PIN_HASH_KEY or settings.SECRET_KEY).encode()
    return hmac.new(key, f"{code}:{pin}".encode(), hashlib.sha256).hexdigest()


class Dossier(models.Model):
    # The Art. 28 code (`<agency code>-<YYMMDD>-<NNNN>`, the acceptance date) from acceptance on;
    # before it (an online submission, an incomplete dossier at intake) a provisional reference
    # (`TC-<receiving agency code>-<YYMMDD>-<NNNN>`, the submission date), which then moves to
    # `provisional_code` and still finds the dossier (docs/workflow.md, "Dossier codes").
    code = models.CharField(_("dossier code"), max_length=64, unique=True, editable=False)
    provisional_code = models.CharField(
        _("reference before acceptance"), max_length=64, null=True, blank=True, unique=True, editable=False
    )
    procedure = models.ForeignKey(Procedure, verbose_name=_("procedure"), on_delete=models.PROTECT)
    procedure_version = models.PositiveIntegerField(_("procedure version"), editable=False)
    # What the procedure said when the dossier was received (name, time, documents, workflow):
    # later catalogue edits never change a dossier already received.
    procedure_snapshot = models.JSONField(_("procedure at receipt"), default=dict, editable=False)
    receiving_agency = models.ForeignKey(
        Agency, verbose_name=_("receiving agency"), on_delete=models.PROTECT, related_name="+"
    )
    competent_agency = models.ForeignKey(
        Agency, verbose_name=_("competent agency"), on_delete=models.PROTECT, related_name="+"
    )
    returning_agency = models.ForeignKey(
        Agency, verbose_name=_("returning agency"), on_delete=models.PROTECT, related_name="+"
    )
    # Inter-agency routing: the agency whose officers hold the current workflow step (the receiving
    # desk at intake, a step's own agency or the competent one during processing, the returning
    # desk at the end; while a hand-over waits, the agency it was handed to) and that step's position
    # in the procedure snapshot's workflow (dossiers/periods.py, docs/workflow.md).
    handling_agency = models.ForeignKey(
        Agency,
        verbose_name=_("handling agency"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    step_index = models.PositiveSmallIntegerField(_("workflow step"), null=True, blank=True, editable=False)
    applicant_name = models.CharField(_("applicant name"), max_length=255)
    # fold(applicant_name), kept by save(): the officers' search by name without diacritics.
    applicant_folded = models.CharField(max_length=255, blank=True, default="", editable=False)
    applicant_id_number = models.CharField(_("ID number"), max_length=20, blank=True)
    applicant_phone = models.CharField(_("phone"), max_length=20, blank=True)
    applicant_email = models.EmailField(_("e-mail"), blank=True)
    applicant_address = models.CharField(_("address"), max_length=500, blank=True)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.IN_PERSON)
    status = models.PositiveSmallIntegerField(_("status"), choices=Status.choices, editable=False)
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, editable=False)
    documents = models.JSONField(_("documents received"), default=list, blank=True)
    note = models.TextField(_("note"), blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), editable=False)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True, editable=False)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True, editable=False)
    # When the processing period started: acceptance, or the return of a supplement requested
    # during processing (the period restarts from zero, Art. 19.5). Empty: received_at.
    period_started_at = models.DateTimeField(_("period started at"), null=True, blank=True, editable=False)
    original_due_at = models.DateTimeField(_("original due date"), null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, editable=False)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True, editable=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_dossiers",
        editable=False,
    )
    step_started_at = models.DateTimeField(_("step started at"), null=True, blank=True, editable=False)
    step_due_at = models.DateTimeField(_("step due at"), null=True, blank=True, editable=False)
    supplement_requests = models.PositiveSmallIntegerField(_("supplement requests"), default=0, editable=False)
    result_summary = models.TextField(_("result"), blank=True, editable=False)
    # A wrong result is corrected within 3 working days of the report (Art. 23.1): the result as
    # first issued is kept here, `result_summary` holds the corrected one.
    original_result = models.TextField(_("result as first issued"), blank=True, default="", editable=False)
    correction_due_at = models.DateTimeField(_("correction due at"), null=True, blank=True, editable=False)
    # The fee collected at the desk and its remittance within 8 working hours (Art. 24.3).
    fee_collected_at = models.DateTimeField(_("fee collected at"), null=True, blank=True, editable=False)
    fee_remit_due_at = models.DateTimeField(_("fee to remit by"), null=True, blank=True, editable=False)
    fee_remitted_at = models.DateTimeField(_("fee remitted at"), null=True, blank=True, editable=False)
    returned_to = models.CharField(_("collected by"), max_length=255, blank=True, editable=False)
    return_method = models.CharField(_("return method"), max_length=20, blank=True, editable=False)
    pin_hash = models.CharField(max_length=64, editable=False)
    # The hash of this dossier's newest event (written by DossierEvent.save): deleting events from
    # the end of the chain no longer leaves a valid-looking chain (verify_audit_chain).
    chain_head = models.CharField(max_length=64, blank=True, editable=False)
    # The reception form's one-time key: a double submit (or a retried request) finds the dossier
    # the first submit created instead of creating a second one (`services.dossier_receive`).
    intake_key = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = DossierQuerySet.as_manager()

    class Meta:
        verbose_name = _("dossier")
        verbose_name_plural = _("dossiers")
        ordering = ["-submitted_at", "-id"]
        indexes = [
            # Queues and reminder scans read open dossiers by deadline.
            # (id and status included: the reminder scan's candidate queries read it index-only.)
            models.Index(
                fields=["due_at"],
                include=["id", "status"],
                name="dossier_open_due_idx",
                condition=Q(status__in=[1, 2, 4, 5, 6]),
            ),
            # The extension prompt: dossiers in processing never rescheduled, by due date.
            models.Index(
                fields=["due_at"],
                include=["id"],
                name="dossier_extension_prompt_idx",
                condition=Q(status=4, original_due_at__isnull=True),
            ),
            # The reminder scan also looks for passed step deadlines; it needs the stage and status
            # of each (an index-only scan: no heap visit per candidate on a rerun).
            models.Index(
                fields=["step_due_at"],
                include=["id", "stage", "status"],
                name="dossier_open_step_due_idx",
                condition=Q(status__in=[1, 2, 4, 5, 6]),
            ),
            # Workspace queues (dossiers/selectors.py): each "arm" of a queue is an equality on one
            # agency column (or the assignee) and one status, read in (due_at, id) page order.
            models.Index(fields=["competent_agency", "status", "due_at", "id"], name="dossier_competent_idx"),
            models.Index(fields=["receiving_agency", "status", "due_at", "id"], name="dossier_receiving_idx"),
            models.Index(
                fields=["returning_agency", "status", "due_at", "id"],
                name="dossier_returning_idx",
                condition=Q(status__in=[1, 2, 4, 5, 6, 9]),
            ),
            models.Index(fields=["assignee", "status", "due_at", "id"], name="dossier_assignee_idx"),
            # Inter-agency routing: the queues of the agency holding the current step.
            models.Index(fields=["handling_agency", "status", "due_at", "id"], name="dossier_handling_idx"),
            # The "waiting" arm of the hand-overs to accept (status 4, stage handover): a few rows
            # at any time, which the status index above would find only by walking every dossier
            # in processing (35 ms at 100,000 dossiers for a province-wide officer, issue 20).
            models.Index(
                fields=["due_at", "id"],
                include=["handling_agency", "status"],
                name="dossier_handover_idx",
                condition=Q(stage="handover"),
            ),
            # Queues of users with many agencies: one arm per status, the agencies as a filter.
            models.Index(
                fields=["status", "due_at", "id"],
                name="dossier_queue_status_idx",
                condition=Q(status__in=[1, 2, 4, 5, 6, 9]),
            ),
            models.Index(fields=["submitted_at", "id"], name="dossier_submitted_idx"),
            # The officers' search (DossierQuerySet.search): phone and ID number by equality.
            models.Index(
                fields=["applicant_phone"], name="dossier_applicant_phone_idx", condition=~Q(applicant_phone="")
            ),
            models.Index(
                fields=["applicant_id_number"],
                name="dossier_applicant_id_idx",
                condition=~Q(applicant_id_number=""),
            ),
            # The reminder scan's corrections and fee remittances still to do (few rows).
            models.Index(
                fields=["correction_due_at"],
                name="dossier_correction_due_idx",
                condition=Q(correction_due_at__isnull=False),
            ),
            models.Index(
                fields=["fee_remit_due_at"],
                name="dossier_fee_remit_due_idx",
                condition=Q(fee_remit_due_at__isnull=False, fee_remitted_at__isnull=True),
            ),
        ]

    def __str__(self):
        return self.code

    def save(self, *args, **kwargs):
        self.applicant_folded = fold(self.applicant_name)[:255]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "applicant_name" in update_fields:
            kwargs["update_fields"] = set(update_fields) | {"applicant_folded"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("dossiers:detail", args=[self.code])

    get_status_display = fast_display("status", Status)
    get_stage_display = fast_display("stage", Stage)
    get_channel_display = fast_display("channel", Channel)

    def history_key(self, kind, language):
        """A cache key for something derived from the dossier's events (`kind`: what, `language`:
        in which language it was written). Events are append-only and each new one moves
        `chain_head` (the hash of the newest event, accounts/audit.py), so a key never describes an
        older history than the dossier has. (The code too: a database rebuilt from scratch, the
        demo's or a test's, gives old ids to new dossiers.)"""
        return f"{kind}:{self.pk}:{self.code}:{self.chain_head or '-'}:{language}"

    def cached_history(self, kind, build):
        """`build()`, something derived from the dossier's events in the current language (the
        officers' serialised history, the citizen's timeline), from the cache under `history_key`
        while the history has not changed (issue 20). Kept DOSSIER_EVENTS_CACHE_SECONDS, which
        bounds how long a renamed officer or agency can show under its old name; 0: built every
        time, the cache untouched."""
        seconds = settings.DOSSIER_EVENTS_CACHE_SECONDS
        if seconds <= 0:
            return build()
        key = self.history_key(kind, get_language() or "")
        value = cache.get(key)
        if value is None:
            value = build()
            cache.set(key, value, seconds)
        return value

    @property
    def pin_key(self):
        """What the PIN is hashed with: the first identifier the dossier was given (the provisional
        reference of a dossier accepted later, otherwise its code), so that the printed PIN keeps
        working when the code is given at acceptance."""
        return self.provisional_code or self.code

    @property
    def has_final_code(self):
        """Whether `code` is the Art. 28 code (the dossier was accepted), not a provisional reference."""
        return self.received_at is not None

    def register_number(self):
        """This dossier's line number in its receiving desk's register book of the year of
        acceptance (`register_book_start`); None before acceptance. Lines follow (received_at, id)."""
        if self.received_at is None:
            return None
        return (
            Dossier.objects.filter(
                receiving_agency_id=self.receiving_agency_id,
                received_at__gte=register_book_start(self.received_at),
            )
            .filter(Q(received_at__lt=self.received_at) | Q(received_at=self.received_at, pk__lte=self.pk))
            .count()
        )

    def check_pin(self, pin):
        return hmac.compare_digest(self.pin_hash, hash_pin(self.pin_key, str(pin or "").strip()))

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES

    @property
    def is_paused(self):
        return self.status in PAUSED_STATUSES

    def is_overdue(self, now=None):
        return bool(self.is_open and not self.is_paused and self.due_at and self.due_at < (now or timezone.now()))

    @property
    def outcome(self):
        return judge(self.finished_at, self.due_at, self.supplement_requests)

    @property
    def masked_applicant_name(self):
        """'Nguyễn Văn An' → 'N*** V** An': enough for the applicant to recognise, nothing more."""
        words = self.applicant_name.split()
        if not words:
            return ""
        return " ".join([w[0] + "*" * (len(w) - 1) for w in words[:-1]] + [words[-1]])


class EventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Dossier events are append-only.")

    def delete(self):
        raise TypeError("Dossier events are append-only.")


class DossierEvent(models.Model):
    """Append-only audit row for every action on a dossier. It renders the citizen's timeline
    and the process control slip (Phiếu kiểm soát quá trình)."""

    dossier = models.ForeignKey(Dossier, verbose_name=_("dossier"), on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.PROTECT
    )
    action = models.CharField(_("action"), max_length=40)
    from_status = models.PositiveSmallIntegerField(_("from status"), choices=Status.choices, null=True, blank=True)
    to_status = models.PositiveSmallIntegerField(_("to status"), choices=Status.choices)
    from_stage = models.CharField(_("from stage"), max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(_("to stage"), max_length=20, choices=Stage.choices, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    # The deadline of the step this action closed, and how that step went.
    step_due_at = models.DateTimeField(_("step deadline"), null=True, blank=True)
    step_outcome = models.CharField(_("step result"), max_length=10, choices=Outcome.choices, blank=True)

    get_from_status_display = fast_display("from_status", Status)
    get_to_status_display = fast_display("to_status", Status)
    get_from_stage_display = fast_display("from_stage", Stage)
    get_to_stage_display = fast_display("to_stage", Stage)
    get_step_outcome_display = fast_display("step_outcome", Outcome)
    created_at = models.DateTimeField(_("at"), db_index=True)
    # Tamper evidence: one hash chain per dossier (accounts/audit.py, `manage.py verify_audit_chain`).
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, blank=True, editable=False)
    # The dossier row's state right after this event (accounts.audit.state_hash), covered by `hash`.
    state_hash = models.CharField(max_length=64, blank=True, editable=False)

    objects = EventQuerySet.as_manager()

    class Meta:
        verbose_name = _("dossier event")
        verbose_name_plural = _("dossier events")
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.dossier_id} {self.action} {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Dossier events are append-only.")
        from accounts import audit

        using = kwargs.get("using") or "default"
        with transaction.atomic(using=using):
            # The dossier row lock serialises appends to this dossier's chain (the workflow
            # service already holds it during a transition; taking it again is free). The state it
            # reads is the row as the transition saved it: the event vouches for it.
            state = (
                Dossier.objects.using(using)
                .select_for_update()
                .filter(pk=self.dossier_id)
                .values(*audit.DOSSIER_STATE_FIELDS)
                .first()
            )
            self.state_hash = audit.state_hash(state) if state is not None else ""
            last = (
                DossierEvent.objects.using(using)
                .filter(dossier_id=self.dossier_id)
                .order_by("-id")
                .values_list("hash", flat=True)
                .first()
            )
            self.prev_hash = last or ""
            self.hash = audit.chain_hash(self.prev_hash, self, audit.event_fields(self))
            super().save(*args, **kwargs)
            Dossier.objects.using(using).filter(pk=self.dossier_id).update(chain_head=self.hash)
            if DossierEvent.dossier.is_cached(self):
                self.dossier.chain_head = self.hash  # a later save() of that instance keeps it

    def delete(self, *args, **kwargs):
        raise TypeError("Dossier events are append-only.")


class DossierAgency(models.Model):
    """An agency that took part in a dossier beyond its receiving, competent and returning agency:
    one it was handed to (inter-agency routing) or one consulted on it. Written in the transition's
    transaction; it gives that agency read access for good (`Dossier.objects.visible_to`)."""

    class Kind(models.TextChoices):
        HANDLED = "handled", _("Handled a step")
        CONSULTED = "consulted", _("Consulted")

    dossier = models.ForeignKey(Dossier, verbose_name=_("dossier"), on_delete=models.CASCADE, related_name="+")
    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    since = models.DateTimeField(_("since"))

    class Meta:
        verbose_name = _("participating agency")
        verbose_name_plural = _("participating agencies")
        constraints = [models.UniqueConstraint(fields=["agency", "dossier", "kind"], name="unique_dossier_agency")]

    def __str__(self):
        return f"{self.dossier_id} {self.agency_id} {self.kind}"


class Consultation(models.Model):
    """A request for the opinion of another agency on a dossier (Decree 118/2025, Art. 20), with
    its deadline in working days; or, for the financial obligation, the tax office asked to issue
    the notice of the amount (`kind` obligation). A late answer is recorded against the consulted
    agency (`outcome`); the reminder scan warns it before and alerts after its deadline (Art. 19.4c)."""

    class Kind(models.TextChoices):
        OPINION = "opinion", _("Opinion")
        OBLIGATION = "obligation", _("Financial obligation notice")

    dossier = models.ForeignKey(
        Dossier, verbose_name=_("dossier"), on_delete=models.PROTECT, related_name="consultations"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.OPINION)
    requesting_agency = models.ForeignKey(
        Agency, verbose_name=_("requesting agency"), on_delete=models.PROTECT, related_name="+"
    )
    agency = models.ForeignKey(Agency, verbose_name=_("consulted agency"), on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    question = models.TextField(_("question"))
    requested_at = models.DateTimeField(_("requested at"))
    due_at = models.DateTimeField(_("answer due at"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    answer = models.TextField(_("answer"), blank=True)
    # The financial obligation's notice (kind obligation): amount in VND and notice number.
    amount_vnd = models.PositiveBigIntegerField(_("amount (VND)"), null=True, blank=True)
    notice_number = models.CharField(_("notice number"), max_length=100, blank=True)
    outcome = models.CharField(_("answer on time"), max_length=10, choices=Outcome.choices, blank=True)

    class Meta:
        verbose_name = _("consultation")
        verbose_name_plural = _("consultations")
        ordering = ["requested_at", "id"]
        indexes = [
            # The reminder scan: open consultations by deadline.
            models.Index(fields=["due_at"], name="consultation_open_due_idx", condition=Q(answered_at__isnull=True)),
            models.Index(fields=["agency", "answered_at"], name="consultation_agency_idx"),
        ]

    def __str__(self):
        return f"{self.dossier_id} → {self.agency_id}"

    @property
    def is_open(self):
        return self.answered_at is None

    def is_late(self, now=None):
        if self.answered_at is not None:
            return self.answered_at > self.due_at
        return (now or timezone.now()) > self.due_at


class Pause(models.Model):
    """A period during which the processing clock stands still (awaiting a supplement during
    processing or a financial obligation)."""

    class Kind(models.TextChoices):
        SUPPLEMENT = "supplement", _("Supplement")
        OBLIGATION = "obligation", _("Financial obligation")

    dossier = models.ForeignKey(Dossier, verbose_name=_("dossier"), on_delete=models.PROTECT, related_name="pauses")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    working_minutes = models.FloatField(_("paused working minutes"), null=True, blank=True)

    class Meta:
        verbose_name = _("pause")
        verbose_name_plural = _("pauses")
        ordering = ["started_at", "id"]

    def __str__(self):
        return f"{self.dossier_id} {self.kind} {self.started_at:%Y-%m-%d %H:%M}"


def attachment_path(instance, filename):
    # Random stored names: the original name is kept in the row, never used on disk.
    suffix = PurePath(filename).suffix.lower()[:8]
    now = timezone.now()
    return f"attachments/{now:%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Attachment(models.Model):
    class Kind(models.TextChoices):
        APPLICATION = "application", _("Application document")
        SUPPLEMENT = "supplement", _("Supplement")
        RESULT = "result", _("Result")
        OTHER = "other", _("Other")

    dossier = models.ForeignKey(
        Dossier, verbose_name=_("dossier"), on_delete=models.PROTECT, related_name="attachments"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.APPLICATION)
    file = models.FileField(_("file"), upload_to=attachment_path)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), null=True, on_delete=models.PROTECT
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["uploaded_at", "id"]

    def __str__(self):
        return self.original_name


class DossierSequence(models.Model):
    """The last sequence number used per agency, day and kind: Art. 28 dossier codes (per competent
    agency and acceptance day) and provisional references (per receiving agency and submission day)."""

    class Kind(models.TextChoices):
        CODE = "code", _("Dossier code")
        REFERENCE = "reference", _("Provisional reference")

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CODE, db_default=Kind.CODE)
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "day", "kind"], name="unique_dossier_sequence_kind")]

    def __str__(self):
        return f"{self.agency_id} {self.day} {self.last_value}"


class ThrottleCounter(models.Model):
    """An atomic counter per key and time window (public lookup throttling); works the same on
    SQLite and PostgreSQL because increments are single upserts (`dossiers.throttle`). UNLOGGED on
    PostgreSQL (migration 0007): a crash empties it, which only restarts every client's window."""

    key = models.CharField(max_length=128)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="unique_throttle_window")]

    def __str__(self):
        return f"{self.key} {self.count}"
