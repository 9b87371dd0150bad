"""Security notices to the desk: the public lookup of a dossier code was locked (too many wrong
PINs, `dossiers.throttle`). Connected in NotificationsConfig.ready() to `dossiers.signals.lookup_locked`."""

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from notifications import outbox
from notifications.models import NotificationChannel
from procedures.models import Role


def on_lookup_locked(sender, *, dossier, **kwargs):
    """An in-app notice to each reception officer of the receiving agency, once per dossier and hour."""
    now = timezone.now()
    for officer in outbox._members(Role.RECEPTION, dossier.receiving_agency_id):
        outbox.queue(
            kind="lookup_locked",
            channel=NotificationChannel.IN_APP,
            key=f"lookup-locked:{dossier.pk}:{officer.pk}:{now:%Y%m%d%H}",
            subject=_("Lookup of dossier %(code)s locked") % {"code": dossier.code},
            body=_(
                "Many wrong PINs were tried for dossier %(code)s; its public lookup is locked for a while. "
                "If the applicant calls, check who they are before giving any information."
            )
            % {"code": dossier.code},
            dossier=dossier,
            recipient=officer,
            link=reverse("dossiers:detail", args=[dossier.code]),
            now=now,
        )
