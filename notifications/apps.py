from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    """Reminders, the notification outbox, its delivery (e-mail, SMS, in-app inbox) and the
    Celery tick. It hears about transitions through `dossiers.signals.dossier_transition`."""

    name = "notifications"
    verbose_name = _("Reminders and notifications")

    def ready(self):
        from dossiers import policy
        from dossiers.signals import dossier_transition

        from . import outbox
        from .models import ReminderPolicy

        dossier_transition.connect(outbox.on_transition, dispatch_uid="notifications.outbox")
        from dossiers.signals import lookup_locked

        from . import security

        lookup_locked.connect(security.on_lookup_locked, dispatch_uid="notifications.security")
        # "Due soon" everywhere (workspace, digest, scan) uses the admin-editable policy's days.
        policy.register("due_soon_working_days", lambda: ReminderPolicy.get().due_soon_working_days)
