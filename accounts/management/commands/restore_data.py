from django.core.management.base import BaseCommand, CommandError

from accounts import backup


class Command(BaseCommand):
    help = "Restore a backup directory into an empty database and MEDIA_ROOT, then compare row counts and checksums."

    def add_arguments(self, parser):
        parser.add_argument("dir", help="A directory written by backup_data (scripts/backup.sh).")
        parser.add_argument("--force", action="store_true", help="Replace a non-empty database and MEDIA_ROOT.")

    def handle(self, *args, dir, force=False, **options):
        try:
            problems = backup.restore(dir, force=force)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} mismatch(es) after the restore.")
        self.stdout.write(self.style.SUCCESS("Restored: 0 mismatches in row counts, table checksums and media files."))
