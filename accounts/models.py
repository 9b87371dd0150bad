"""The security audit log: logins, logouts, failed authorisation and admin changes.

Dossier transitions are audited by `dossiers.DossierEvent` (one per action, per-dossier hash
chain); this table holds everything else, in one global hash chain (see accounts/audit.py).
Rows are append-only: no update or delete through a model instance, a queryset or the admin.
"""

import ipaddress

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import audit

USERNAME_MAX = 150


def normalise_ip(value):
    """The address in the form the database returns it, or None when it is not an address."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


class AppendOnlyError(TypeError):
    """Raised on any attempt to change or delete an audit row through the ORM."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit entries are append-only.")

    def delete(self):
        raise AppendOnlyError("Audit entries are append-only.")

    def bulk_update(self, *args, **kwargs):
        raise AppendOnlyError("Audit entries are append-only.")

    def bulk_create(self, *args, **kwargs):
        # bulk_create bypasses save(), hence the hash chain.
        raise AppendOnlyError("Audit entries are appended one by one with AuditEntry.record().")


class AuditEntry(models.Model):
    class Kind(models.TextChoices):
        LOGIN = "login", _("Login")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOCKED_OUT = "locked_out", _("Login locked out")
        LOGOUT = "logout", _("Logout")
        OTP_VERIFIED = "otp_verified", _("Second factor verified")
        OTP_FAILED = "otp_failed", _("Wrong second-factor code")
        OTP_ENROLLED = "otp_enrolled", _("Two-factor login turned on")
        OTP_REMOVED = "otp_removed", _("Two-factor login turned off")
        FORBIDDEN = "forbidden", _("Access denied")
        ADMIN_CHANGE = "admin_change", _("Admin change")
        TOKEN_CREATED = "token_created", _("API token issued")
        TOKEN_REFUSED = "token_refused", _("API token refused")
        TOKEN_REVOKED = "token_revoked", _("API tokens revoked")
        LOOKUP_LOCKED = "lookup_locked", _("Dossier lookup locked")
        RESULT_SIGNED = "result_signed", _("Result signed")
        SIGNING_FAILED = "signing_failed", _("Signing failed")
        RESULT_VERIFIED = "result_verified", _("Signed result verified")

    created_at = models.DateTimeField(_("at"), db_index=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True, on_delete=models.PROTECT
    )
    # As typed (failed logins) or the account's name at the time; never a password.
    username = models.CharField(_("user name"), max_length=USERNAME_MAX, blank=True)
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    path = models.CharField(_("path"), max_length=255, blank=True)  # never the query string
    method = models.CharField(_("method"), max_length=10, blank=True)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, blank=True, editable=False)

    objects = AuditQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-id"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind} {self.username}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Audit entries are append-only.")
        if self.created_at is None:
            self.created_at = timezone.now()
        self.username = (self.username or "").replace("\0", "")[:USERNAME_MAX]
        self.path = (self.path or "").replace("\0", "")[:255]
        using = kwargs.get("using") or "default"
        with transaction.atomic(using=using):
            audit.lock_global_chain(using)
            last = AuditEntry.objects.using(using).order_by("-id").values_list("hash", flat=True).first()
            self.prev_hash = last or ""
            self.hash = audit.chain_hash(self.prev_hash, self, audit.AUDIT_FIELDS)
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit entries are append-only.")

    @classmethod
    def record(cls, kind, *, request=None, user=None, username="", status_code=None, **data):
        """Append one entry. `request` gives the address, path (without query string) and method."""
        from accounts.network import client_ip

        entry = cls(kind=kind, status_code=status_code, data=data)
        if request is not None:
            entry.ip_address = normalise_ip(client_ip(request))
            entry.path = getattr(request, "path", "") or ""
            entry.method = getattr(request, "method", "") or ""
            if user is None:
                candidate = getattr(request, "user", None)
                if candidate is not None and candidate.is_authenticated:
                    user = candidate
        if user is not None and getattr(user, "pk", None):
            entry.user = user
            username = username or user.get_username()
        entry.username = username or ""
        entry.save()
        return entry
