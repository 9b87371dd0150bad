"""`manage.py seed_demo [--reset-passwords]`: load the demo province, its agencies and the real
procedure catalogue (procedures/data/), give each procedure a default workflow, and, only when
DEBUG is on, create the demo users of DESIGN.md §5 and the sample dossiers (dossiers/demo.py).
Idempotent: a second run changes nothing.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from dossiers.demo import seed_sample_dossiers
from procedures import demo


class Command(BaseCommand):
    help = (
        "Load the demo agencies and the real procedure catalogue, add default workflows and (with DEBUG on) the "
        "demo users. Safe to run again: existing rows are only updated when the data files changed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Set the password of existing demo users back to the demo password (DEBUG only).",
        )
        parser.add_argument(
            "--agencies", default=str(demo.AGENCIES_FILE), help="Agencies JSON file (default: %(default)s)."
        )
        parser.add_argument(
            "--procedures", default=str(demo.PROCEDURES_FILE), help="Procedures file (default: %(default)s)."
        )

    def handle(self, *args, reset_passwords, agencies, procedures, **options):
        try:
            summary = demo.seed(
                stdout=self.stdout,
                reset_passwords=reset_passwords,
                agencies_path=agencies,
                procedures_path=procedures,
                then=seed_sample_dossiers,
            )
        except demo.DemoDataError as exc:
            raise CommandError(_("Demo data not loaded, nothing was changed: %(error)s") % {"error": exc}) from exc

        def counts(tally):
            return {"created": tally.created, "updated": tally.updated, "unchanged": tally.unchanged}

        self.stdout.write(
            _("Agencies: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.") % counts(summary.agencies)
        )
        self.stdout.write(
            _(
                "Procedures: %(created)d created, %(updated)d updated, %(unchanged)d unchanged "
                "(%(total)d in the file, %(fields)d fields)."
            )
            % {**counts(summary.procedures), "total": summary.procedure_count, "fields": summary.field_count}
        )
        self.stdout.write(_("Default workflows added: %(count)d procedures.") % {"count": summary.workflows_added})
        if summary.users is None:
            self.stdout.write(
                _("Demo users skipped: DEBUG is off (they are created only on development machines)."),
                self.style.WARNING,
            )
        else:
            self.stdout.write(
                _(
                    "Demo users: %(created)d created, %(updated)d updated, %(unchanged)d unchanged; "
                    "%(memberships)d roles added. Usernames: %(usernames)s."
                )
                % {
                    **counts(summary.users),
                    "memberships": summary.memberships_added,
                    "usernames": ", ".join(user.username for user in demo.DEMO_USERS),
                }
            )
            if summary.users.created or reset_passwords:
                self.stdout.write(_("Password of new demo users: %(password)s") % {"password": demo.DEMO_PASSWORD})
        if summary.changed:
            self.stdout.write(_("Demo data loaded."), self.style.SUCCESS)
        else:
            self.stdout.write(_("Nothing changed: the demo data was already up to date."), self.style.SUCCESS)
