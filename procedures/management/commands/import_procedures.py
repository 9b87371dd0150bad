"""`manage.py import_procedures PATH [--dry-run]`: import the catalogue from CSV, XLSX or JSON.

Exit status 0 when every row was good; 1 when the file cannot be read (nothing imported) or
when some rows were bad (the good rows are still imported). See docs/import-format.md.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from procedures.importing import ImportFormatError, import_records, read_file


class Command(BaseCommand):
    help = (
        "Import administrative procedures from a CSV (UTF-8), XLSX or JSON file, matching existing ones by "
        "code. Exit status 1 when the file cannot be read or some rows were bad (good rows are still imported)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="A .csv, .xlsx or .json file (columns: see docs/import-format.md).")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate the file and report what would change, without writing anything.",
        )

    def handle(self, *args, path, dry_run, **options):
        try:
            records = read_file(path)
        except ImportFormatError as exc:
            raise CommandError(str(exc)) from exc
        report = import_records(records, dry_run=dry_run)

        summary = _("Created: %(created)d, updated: %(updated)d, unchanged: %(unchanged)d, errors: %(errors)d.") % {
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "errors": len(report.errors),
        }
        if dry_run:
            summary = _("Dry run, nothing was written. %(summary)s") % {"summary": summary}
        self.stdout.write(summary, self.style.WARNING if report.errors else self.style.SUCCESS)
        if report.ignored_columns:
            self.stdout.write(
                _("Ignored unknown columns: %(columns)s") % {"columns": ", ".join(report.ignored_columns)},
                self.style.WARNING,
            )
        for error in report.errors:
            self.stderr.write(
                _("line %(line)s (code %(code)s): %(reason)s")
                % {"line": error.line, "code": error.code or "-", "reason": error.reason}
            )
        if report.errors:
            count = len(report.errors)
            raise CommandError(
                ngettext("%(count)d row was not imported.", "%(count)d rows were not imported.", count)
                % {"count": count}
            )
