"""Audit receivers: logins, logouts, failed logins, lockouts and admin changes.

Failed logins store the user name as typed (truncated), never the password: Django's
`user_login_failed` passes cleansed credentials and we read only the user name from them.
"""

import logging

from axes.signals import user_locked_out
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import AuditEntry

logger = logging.getLogger(__name__)


def _safe_record(kind, **kwargs):
    # Auditing must never turn a login into a 500; a failure is logged loudly instead.
    try:
        return AuditEntry.record(kind, **kwargs)
    except Exception:
        logger.exception("audit: could not record a %s entry", kind)
        return None


def _real_request(request):
    # The test client's login() and other callers may pass no request or a bare HttpRequest.
    return request if request is not None and hasattr(request, "META") else None


@receiver(user_logged_in, dispatch_uid="accounts.audit.login")
def audit_login(sender, request, user, **kwargs):
    _safe_record(AuditEntry.Kind.LOGIN, request=_real_request(request), user=user)


@receiver(user_logged_out, dispatch_uid="accounts.audit.logout")
def audit_logout(sender, request, user, **kwargs):
    _safe_record(AuditEntry.Kind.LOGOUT, request=_real_request(request), user=user)


@receiver(user_login_failed, dispatch_uid="accounts.audit.login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    inner = getattr(request, "_request", None)  # DRF's token view: its Request wrapper
    if inner is not None and getattr(request, "axes_locked_out", False):
        inner.axes_locked_out = True  # so AxesMiddleware answers 429 (axes flagged the wrapper)
    username_field = get_user_model().USERNAME_FIELD
    typed = str(credentials.get(username_field) or credentials.get("username") or "").replace("\0", "")[:150]
    user = get_user_model()._default_manager.filter(**{username_field: typed}).first() if typed else None
    _safe_record(AuditEntry.Kind.LOGIN_FAILED, request=_real_request(request), user=user, username=typed)


@receiver(user_locked_out, dispatch_uid="accounts.audit.locked_out")
def audit_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    _safe_record(AuditEntry.Kind.LOCKED_OUT, request=_real_request(request), username=str(username or ""))


@receiver(post_save, sender=LogEntry, dispatch_uid="accounts.audit.admin_change")
def audit_admin_change(sender, instance, created, **kwargs):
    """Every admin addition, change or deletion (Django's LogEntry) also goes into the chain."""
    if not created:
        return
    _safe_record(
        AuditEntry.Kind.ADMIN_CHANGE,
        user=instance.user,
        log_entry_id=instance.pk,
        action_flag=instance.action_flag,
        content_type=f"{instance.content_type.app_label}.{instance.content_type.model}"
        if instance.content_type_id
        else "",
        object_id=instance.object_id or "",
        object_repr=instance.object_repr,
        change_message=instance.change_message,
    )
