import json

from django.core.management.base import BaseCommand, CommandError

from interop.client import PortalError
from interop.reconcile import reconcile


class Command(BaseCommand):
    help = (
        "Compare what the National Public Service Portal holds with our dossiers. Prints in_sync, pending, "
        "failed and mismatched (with the mismatched codes); exits with status 1 when anything is mismatched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        try:
            report = reconcile()
        except PortalError as exc:
            raise CommandError(f"the national portal cannot be asked: {exc}", returncode=2) from exc
        data = report.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
        else:
            for key in ("in_sync", "pending", "failed", "mismatched"):
                self.stdout.write(f"{key}: {data[key]}")
            for code, problem in data["problems"].items():
                self.stdout.write(f"  {code}: {problem}")
        if report.mismatched:
            raise SystemExit(1)
