from django.core.management.base import BaseCommand, CommandError

from accounts import backup


class Command(BaseCommand):
    help = "Back up the database and the media files to var/backups/<timestamp>/ (or DIR)."

    def add_arguments(self, parser):
        parser.add_argument("dir", nargs="?", help="Target directory (must not exist).")

    def handle(self, *args, dir=None, **options):
        try:
            out = backup.backup(dir)
        except (backup.BackupError, FileExistsError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Backup written to {out}"))
