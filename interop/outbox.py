"""The listener: every dossier event becomes one `SyncItem`, written inside the transition's
transaction (dossiers.signals.dossier_transition). No network call, no broker call: the Celery
task `interop.tasks.sync` sends the rows (interop/sync.py)."""

from django.conf import settings

from . import mapping
from .models import SyncItem


def on_transition(sender, dossier, event, **kwargs):
    if not settings.DVCQG_URL:
        return  # not connected to a national portal: nothing to report
    SyncItem.objects.create(
        dossier_id=dossier.pk,
        event_id=event.pk,
        key=mapping.item_key(event),
        payload={"dossier": mapping.dossier_state(dossier, event), "progress": mapping.progress_entry(dossier, event)},
        created_at=event.created_at,
    )
