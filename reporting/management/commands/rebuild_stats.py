"""`manage.py rebuild_stats`: recompute the statistics tables (dossiers/stats.py) from the dossiers'
events. Run it once after installing the statistics on a database that already has dossiers, or to
repair; while it runs no one should change dossiers (it works in one transaction)."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from reporting import stats


class Command(BaseCommand):
    help = _("Recompute the statistics tables (progress table, register lists) from the dossiers' events.")

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=2000, help=_("Dossiers read per query (default 2000)."))

    def handle(self, *args, **options):
        count = stats.rebuild(chunk_size=max(1, options["chunk_size"]))
        self.stdout.write(_("Statistics rebuilt: %(count)s accepted dossiers.") % {"count": count})
