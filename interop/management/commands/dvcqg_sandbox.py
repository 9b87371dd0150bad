from django.core.management.base import BaseCommand, CommandError

from interop.sandbox import seed
from interop.sandbox.citizens import CITIZENS
from interop.sandbox.models import SandboxSubmission


class Command(BaseCommand):
    help = "Fill the national-portal sandbox: its catalogue and (idempotently) a few online submissions."

    def add_arguments(self, parser):
        parser.add_argument("--submissions", type=int, default=2, help="online submissions to have waiting")

    def handle(self, *args, **options):
        count = seed.load_catalogue()
        procedures = seed.online_procedures()
        if not procedures:
            raise CommandError("no procedure can be submitted online: run seed_demo first")
        waiting = SandboxSubmission.objects.filter(acknowledged_at__isnull=True).count()
        citizens = sorted(CITIZENS)
        made = 0
        for n in range(max(options["submissions"] - waiting, 0)):
            seed.make_submission(citizens[n % len(citizens)], procedures[n % len(procedures)][0])
            made += 1
        self.stdout.write(f"sandbox: {count} catalogue entries, {made} new online submissions")
