from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from notifications.tasks import run_scan


class Command(BaseCommand):
    help = _(
        "Scan deadlines, write reminders, close expired supplement waits and deliver pending "
        "notifications (the same work as the Celery tick, for sites that prefer cron)."
    )

    def handle(self, *args, **options):
        result = run_scan()
        self.stdout.write(
            _(
                "%(reminders)s new reminders, %(closed)s dossiers closed, "
                "%(sent)s notifications sent, %(failed)s failed."
            )
            % result
        )
