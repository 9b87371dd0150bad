"""The Celery app. Tasks live in the apps (`notifications/tasks.py`); the beat schedule is below."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "motcua.settings")

app = Celery("motcua")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# One static entry: the tick reads the admin-editable ReminderPolicy (scan interval, office
# hours, digest time) from the database, so admins change the schedule without a deploy.
# Task names are a wire format: queued messages name them, so they kept their pre-split names
# (`dossiers.tasks.*`) when the tasks moved to notifications/tasks.py.
app.conf.beat_schedule = {
    "motcua-tick": {"task": "dossiers.tasks.tick", "schedule": 60.0, "options": {"expires": 55}},
    # The national portal (interop/tasks.py): send the sync rows, fetch new online submissions;
    # and the nightly catalogue comparison. Both do nothing when DVCQG_URL is empty.
    "dvcqg-sync": {"task": "interop.tasks.sync", "schedule": 20.0, "options": {"expires": 18}},
    "dvcqg-catalogue": {"task": "interop.tasks.catalogue", "schedule": crontab(hour=2, minute=30)},
}
