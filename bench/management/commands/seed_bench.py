"""`manage.py seed_bench --dossiers N`: synthetic data for the benchmark (see dossiers/bench_data.py
and docs/performance.md). Bench databases only: every seeded dossier's PIN is derivable from its code."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from bench import data as bench_data


def non_negative(value):
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = _(
        "Fill a BENCHMARK database with synthetic agencies (codes BENCH.xx), procedures, officers (password "
        "'%(password)s') and dossiers spread over several years, quickly (COPY on PostgreSQL). Refuses to run "
        "twice unless --reset is given. Never use it on a production database."
    ) % {"password": bench_data.BENCH_PASSWORD}

    def add_arguments(self, parser):
        parser.add_argument("--dossiers", type=non_negative, default=1000, help=_("Number of dossiers (default 1000)."))
        parser.add_argument(
            "--procedures", type=non_negative, default=5000, help=_("Number of procedures (default 5000).")
        )
        parser.add_argument("--agencies", type=non_negative, default=30, help=_("Number of agencies (default 30)."))
        parser.add_argument("--years", type=non_negative, default=5, help=_("Years of history (default 5)."))
        parser.add_argument("--seed", type=int, default=1, help=_("Random seed (default 1)."))
        parser.add_argument(
            "--now", default="", help=_("Pretend the current time is this ISO datetime (default: now).")
        )
        parser.add_argument(
            "--reset", action="store_true", help=_("Delete existing bench data (BENCH.* and bench.* only) first.")
        )
        parser.add_argument(
            "--rebuild-indexes",
            choices=("auto", "always", "never"),
            default="auto",
            help=_(
                "PostgreSQL: drop and rebuild the indexes of the dossier and event tables around the load "
                "(auto: from %(rows)s dossiers)."
            )
            % {"rows": f"{bench_data.REBUILD_INDEXES_FROM:,}"},
        )
        parser.add_argument("--no-vacuum", action="store_true", help=_("PostgreSQL: ANALYZE only, no VACUUM."))
        parser.add_argument(
            "--no-stats", action="store_true", help=_("Do not rebuild the statistics tables from the seeded events.")
        )

    def handle(self, *args, **options):
        now = None
        if options["now"]:
            now = parse_datetime(options["now"])
            if now is None or now.tzinfo is None:
                raise CommandError(_("--now must be an ISO datetime with a time zone, e.g. 2026-03-02T09:00:00+07:00."))
        spec = bench_data.Spec(
            dossiers=options["dossiers"],
            procedures=options["procedures"],
            agencies=options["agencies"],
            years=options["years"],
            seed=options["seed"],
            now=now,
            rebuild_indexes=options["rebuild_indexes"],
            vacuum=not options["no_vacuum"],
            stats=not options["no_stats"],
        )
        if spec.procedures < 1 or spec.agencies < 3 or spec.years < 1:
            raise CommandError(_("Use at least 1 procedure, 3 agencies and 1 year."))
        log = self.stdout.write
        if options["reset"]:
            bench_data.reset(log=log)
        log(
            _("Seeding %(dossiers)s dossiers, %(procedures)s procedures, %(agencies)s agencies on %(vendor)s")
            % {
                "dossiers": f"{spec.dossiers:,}",
                "procedures": f"{spec.procedures:,}",
                "agencies": spec.agencies,
                "vendor": connection.vendor,
            }
        )
        try:
            summary = bench_data.seed(spec, log=log)
        except bench_data.BenchDataError as exc:
            raise CommandError(str(exc)) from exc
        counts = ", ".join(f"{name} {value:,}" for name, value in summary.counts.items())
        log(counts)
        rate = summary.counts.get("dossiers", 0) / summary.timings["total"] if summary.timings["total"] else 0
        log(
            self.style.SUCCESS(
                _("Done in %(seconds).1f s (%(rate)s dossiers/s). Desk agency %(desk)s; 50-event dossier %(code)s.")
                % {
                    "seconds": summary.timings["total"],
                    "rate": f"{rate:,.0f}",
                    "desk": summary.desk_agency,
                    "code": summary.fifty_events_code or "-",
                }
            )
        )
