import json

from django.core.management.base import BaseCommand

from interop.tasks import run_sync


class Command(BaseCommand):
    help = "Send the waiting syncs to the National Public Service Portal and import new online submissions now."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(run_sync()))
