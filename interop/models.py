"""The national-portal integration's own rows, kept apart from the dossier's status.

* `SyncItem`: the outbox. One row per dossier event, written by `outbox.on_transition` inside the
  transition's transaction; `sync.send_pending` delivers them in order per dossier.
* `InboundSubmission`: an online submission received from the portal (fetched or pushed), and the
  dossier it became; its national code is the dossier's key on the national side.
* `ProcedureMapping`: our procedure code → the national one, where they differ.
* `CatalogueReview`: the national catalogue compared with ours, waiting for an admin's decision.
* `sandbox.models`: the sandbox's state (the national side, when it is the sandbox).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dossiers.models import Dossier, DossierEvent
from procedures.models import Procedure

from .sandbox.models import (  # noqa: F401 (the sandbox's models belong to this app)
    SandboxCatalogueEntry,
    SandboxDossier,
    SandboxFaults,
    SandboxFile,
    SandboxGrant,
    SandboxKey,
    SandboxProgress,
    SandboxSubmission,
)


class SyncState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed (gave up)")


class SyncItem(models.Model):
    """One dossier event to report to the national portal: the dossier's state at that event
    (DongBoHoSoMC) and the event as one progress entry (CapNhatTienDoHoSoMC), built when the event
    happened. `key` is the entry's idempotency key: a repeat never makes a second entry."""

    dossier = models.ForeignKey(Dossier, verbose_name=_("dossier"), on_delete=models.CASCADE, related_name="+")
    event = models.OneToOneField(
        DossierEvent, verbose_name=_("event"), on_delete=models.CASCADE, null=True, related_name="+"
    )
    key = models.CharField(_("key"), max_length=80, unique=True)
    # The dossier's code on the national side (its national reference, or our first identifier).
    national_code = models.CharField(_("national code"), max_length=64, db_index=True)
    payload = models.JSONField(_("content"), default=dict)
    state = models.CharField(_("state"), max_length=10, choices=SyncState.choices, default=SyncState.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    # A sender holds the row until then (claimed by a conditional UPDATE; no transaction is open
    # while it calls the portal).
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("national portal sync")
        verbose_name_plural = _("national portal syncs")
        ordering = ["id"]
        indexes = [
            # The sender's "head of each dossier's queue" and the officers' failure queue.
            models.Index(fields=["dossier", "id"], name="sync_dossier_idx", condition=~Q(state="sent")),
            models.Index(fields=["state", "next_attempt_at"], name="sync_state_idx", condition=~Q(state="sent")),
        ]

    def __str__(self):
        return f"{self.national_code} {self.key} {self.state}"


class InboundSubmission(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be imported")
        IMPORTED = "imported", _("Imported")
        REJECTED = "rejected", _("Could not be imported")

    class Via(models.TextChoices):
        FETCH = "fetch", _("Fetched")
        WEBHOOK = "webhook", _("Pushed (webhook)")

    national_code = models.CharField(_("national reference"), max_length=64, unique=True)
    payload = models.JSONField(_("content"), default=dict)
    via = models.CharField(_("received by"), max_length=10, choices=Via.choices, default=Via.FETCH)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    error = models.TextField(_("error"), blank=True)
    dossier = models.OneToOneField(
        Dossier,
        verbose_name=_("dossier"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="dvcqg_submission",
    )
    acknowledged = models.BooleanField(_("acknowledged to the portal"), default=False)
    created_at = models.DateTimeField(_("received at"), default=timezone.now)
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True)

    class Meta:
        verbose_name = _("online submission from the national portal")
        verbose_name_plural = _("online submissions from the national portal")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.national_code


class ProcedureMapping(models.Model):
    """Our procedure code → the national one, for a procedure whose codes differ (most procedures
    carry their national code already: no row needed)."""

    procedure = models.OneToOneField(
        Procedure, verbose_name=_("procedure"), on_delete=models.CASCADE, related_name="dvcqg_mapping"
    )
    national_code = models.CharField(_("national procedure code"), max_length=40, unique=True)

    class Meta:
        verbose_name = _("national procedure code")
        verbose_name_plural = _("national procedure codes")

    def __str__(self):
        return f"{self.procedure.code} → {self.national_code}"


class CatalogueReview(models.Model):
    """The national catalogue as fetched, compared with ours: `changes` lists each difference
    (`{"code", "kind": "new" | "changed" | "missing", "fields": {name: [ours, theirs]}, "record"}`).
    An admin applies the chosen ones through the importer (procedures/importing.py: versions kept)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for a decision")
        APPLIED = "applied", _("Applied")
        DISMISSED = "dismissed", _("Dismissed")

    fetched_at = models.DateTimeField(_("fetched at"), default=timezone.now)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    changes = models.JSONField(_("differences"), default=list)
    report = models.JSONField(_("import report"), default=dict, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True, on_delete=models.PROTECT
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)

    class Meta:
        verbose_name = _("national catalogue review")
        verbose_name_plural = _("national catalogue reviews")
        ordering = ["-fetched_at", "-id"]

    def __str__(self):
        return f"{self.fetched_at:%Y-%m-%d %H:%M} ({len(self.changes)})"
