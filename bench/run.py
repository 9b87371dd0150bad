#!/usr/bin/env python3
"""The Một Cửa benchmark (issue 7). `make bench`, `make bench-quick`, `make bench-smoke`.

    python bench/run.py            # 1,000,000 dossiers, 20 s per run (the reference run)
    python bench/run.py --quick    # 100,000 dossiers, 8 s per run (under 10 minutes)
    python bench/run.py --smoke    # 300 dossiers, 1 s per run (CI: it must never rot)

Steps: (re)create a dedicated PostgreSQL database (`motcua_bench`; the name must contain "bench"),
migrate, collect static files, `seed_bench`; start the app with the production settings under
gunicorn (DEBUG off, manifest static files, Redis cache and broker) and one Celery worker; run every
scenario at concurrency 1 and 16 with Debian's wrk (bench/wrkload.py; the asyncio generator
bench/loadgen.py without wrk, and always for the scenarios that need a new dossier per request);
measure the floors in the same run (a static file, a constant JSON view through the whole middleware
stack — with both generators, to show what the generator itself costs —, the bare SQL of each
endpoint's main query with EXPLAIN ANALYZE); count the queries of each endpoint
in-process; time the reminder scan in-process; print one table and write
`bench/results/<date>[-quick|-smoke].json` (+ `.md`). Every process it starts is stopped at the end,
on error and on Ctrl+C. Method and caveats: docs/performance.md.
"""

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import loadgen, wrkload  # noqa: E402

BENCH_SECRET = "bench-only-secret-key-not-for-production-" + "b" * 24  # noqa: S105 - throw-away bench databases
SEARCH_FOLDED = "dang ky khai sinh"
SEARCH_DIACRITICS = "đăng ký khai sinh"
# Issue 20: the query an independent run found slow ("hộ nghèo" typed without diacritics): with
# typo tolerance and partial words it ranks a few hundred procedures, none by its full phrase.
SEARCH_POOR_HOUSEHOLD = "ho ngheo"
QUEUE_PAGE = 1000
STATIC = "/static/css/motcua.css"

MODES = {
    "full": {
        "dossiers": 1_000_000,
        "duration": 20.0,
        "warmup": 3.0,
        "procedures": 5000,
        "agencies": 30,
        "sql_runs": 20,
    },
    "quick": {"dossiers": 100_000, "duration": 8.0, "warmup": 1.5, "procedures": 5000, "agencies": 30, "sql_runs": 10},
    "smoke": {
        "dossiers": 300,
        "duration": 1.0,
        "warmup": 0.0,
        "procedures": 200,
        "agencies": 8,
        "sql_runs": 3,
        "workers": 2,
    },
}

# The targets of issue 7 (2 cores, database and app on one machine, 1,000,000 dossiers):
# p95 in ms and minimum requests per second, per scenario and concurrency. "create dossier" is
# specified at 8 clients; the run measures 1 and 16, so only the 1-client figure is judged here.
TARGETS = {
    "search_folded": {"p95": {1: 30, 16: 120}},
    "search_diacritics": {"p95": {1: 30, 16: 120}},
    "search_poor_household": {"p95": {1: 30, 16: 120}},
    "lookup": {"p95": {1: 15}, "rps": {16: 400}},
    "queue_page_1": {"p95": {16: 60}},
    "queue_page_1000": {"p95": {16: 60}},
    "dossier_detail_50_events": {"p95": {16: 40}},
    "stats_dashboard": {"p95": {1: 30}},
    # Issue 19: the Decision 766 service index (this month, its 12-month trend, the agencies ranked
    # and the costly dossiers), "tens of milliseconds" at 1,000,000 dossiers.
    "stats_index_page": {"p95": {1: 90}},
    "stats_index_api": {"p95": {1: 90}},
    "create_dossier": {"p95": {1: 150}},
    # Issue 20: the officers' search by name, phone, ID number or part of the code (the API's
    # ?search= and the workspace's search box), as fast as a queue page.
    "officer_search_api": {"p95": {1: 60, 16: 200}},
    "workspace_search": {"p95": {1: 60, 16: 200}},
    # Issue 20, timed in-process one call after the other (like the reminder scan): a hand-over to
    # another agency, its acceptance, an approval signed with the local back end (render + PAdES),
    # and the national-portal sync's drain (judged in rows per second: `SYNC_DRAIN_MIN_RPS`).
    "handover": {"p95": {1: 150}},
    "accept_handover": {"p95": {1: 150}},
    "sign_result": {"p95": {1: 1000}},
    "dvcqg_sync_drain": {"rps": {1: 20}},
    "mixed": {"p95": {16: 200}, "rps": {16: 300}},
    "reminder_scan": {"p95": {1: 10_000}},
    "reminder_scan_rerun": {"p95": {1: 200}},
}
# The dashboard must also be this many times faster than computing its numbers with a plain
# GROUP BY over the dossier table in the same run (`sql:stats_plain_group_by`).
DASHBOARD_SPEEDUP = 20
# The lookup at 16 clients must reach this share of the constant-JSON floor's req/s, and page
# 1,000 of a queue cost no more than this multiple of page 1 (p50).
LOOKUP_FLOOR_SHARE = 0.5
# The reminder scan's target is for this many due dossiers (judged per dossier reminded).
REMINDER_DOSSIERS = 20_000
DEEP_PAGE_RATIO = 1.3
# The mixed load's gunicorn workers may grow by at most this share of their memory (RSS) over the
# run (issue 20: 5 minutes, `--mixed-duration 300`).
MIXED_MEMORY_GROWTH = 0.10
MIX = (
    ("lookup", 70),
    ("search_folded", 8),
    ("search_diacritics", 7),
    ("queue_page_1", 5),
    ("dossier_detail_50_events", 5),
    ("stats_dashboard", 2),
    ("stats_api", 2),
    ("create_dossier", 1),
)
# Scenarios that need a fresh dossier (or feed the pool of dossiers) per request: the asyncio
# generator, whose callbacks can; wrk replays a file of requests drawn before the run.
ASYNCIO_ONLY = ("create_dossier", "transition_assign")
# Calls of each in-process new path (hand-over, its acceptance, signed approval) and dossiers whose
# sync rows the drain sends.
NEW_PATH_CALLS = {"full": 100, "quick": 40, "smoke": 3}
IN_PROCESS = ("handover", "accept_handover", "sign_result", "dvcqg_sync_drain")
# Requests drawn per scenario into wrk's file (random lookups, random procedure pages…).
WRK_LINES = 2000
# wrk and the asyncio generator "agree" on a floor when their req/s differ by at most this share.
GENERATOR_AGREEMENT = 0.10


def log(message=""):
    print(message, flush=True)


class BenchError(Exception):
    """The benchmark cannot run (no PostgreSQL, a process did not start…): exit status 2."""


# --- Processes ---------------------------------------------------------------------------------


class Processes:
    """Every process the benchmark starts, each in its own process group, stopped in reverse order."""

    def __init__(self):
        self.running = []

    def start(self, name, argv, env, logfile):
        handle = open(logfile, "ab")  # noqa: SIM115 - closed in stop()
        process = subprocess.Popen(  # noqa: S603 - argv built here from fixed parts
            argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running.append((name, process, handle))
        return process

    def stop(self, name=None):
        for entry in list(reversed(self.running)):
            entry_name, process, handle = entry
            if name is not None and entry_name != name:
                continue
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(15)
                except ProcessLookupError:
                    pass
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)
            handle.close()
            self.running.remove(entry)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sigterm(signum, frame):
    raise KeyboardInterrupt


# --- The benchmark -------------------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
        defaults = MODES[self.mode]
        self.dossiers = args.dossiers if args.dossiers is not None else defaults["dossiers"]
        self.duration = args.duration if args.duration is not None else defaults["duration"]
        self.mixed_duration = args.mixed_duration if args.mixed_duration is not None else self.duration
        self.warmup = args.warmup if args.warmup is not None else defaults["warmup"]
        self.procedures = args.procedures or defaults["procedures"]
        self.agencies = args.agencies or defaults["agencies"]
        self.sql_runs = defaults["sql_runs"]
        self.concurrencies = [int(c) for c in args.concurrency.split(",")]
        self.workers = args.workers or defaults.get("workers") or 2 * (os.cpu_count() or 1) + 1
        if args.generator == "wrk" and not wrkload.available():
            raise BenchError("--generator wrk: wrk is not installed (Debian: apt-get install wrk)")
        self.generator = "asyncio" if args.generator == "asyncio" or not wrkload.available() else "wrk"
        self.database_url = args.database_url
        parsed = urllib.parse.urlsplit(self.database_url)
        self.db_name = parsed.path.lstrip("/")
        if "bench" not in self.db_name:
            raise BenchError(f"refusing to (re)create database {self.db_name!r}: its name must contain 'bench'.")
        self.var = ROOT / "var" / "bench"
        self.logs = self.var / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.processes = Processes()
        self.port = args.port or free_port()
        self.host = "127.0.0.1"
        self.rng = random.Random(args.seed)
        self.results = {}  # key "name@cN" → summary dict
        self.details = {}
        self.floors = {}
        self.notes = []
        self.timings = {}
        self.env = self._environment()

    # -- environment and database --------------------------------------------------------------

    def _environment(self):
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="bench.settings",
            DEBUG="0",
            SECRET_KEY=BENCH_SECRET,
            ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
            DATABASE_URL=self.database_url,
            REDIS_URL=self.args.redis_url,
            STATIC_ROOT=str(self.var / "static"),
            MEDIA_ROOT=str(self.var / "media"),
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
            SITE_URL=f"http://127.0.0.1:{self.port}",
            # Plain HTTP on the loopback, no TLS proxy in front: production's redirect to HTTPS
            # (on by default with DEBUG off) would answer every request with a 301.
            SECURE_SSL_REDIRECT="0",
            # wrk sends every request from 127.0.0.1 with an X-Forwarded-For from a pool of citizens'
            # addresses (bench/wrk.lua); the asyncio generator sends none and binds one address per
            # virtual user: either way the lookup throttle sees many clients, as in production.
            TRUSTED_PROXY_COUNT="1",
            PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            PYTHONUNBUFFERED="1",
        )
        env.pop("STATICFILES_STORAGE", None)  # production: the manifest storage
        if self.args.dvcqg_down:
            # Synchronisation with the national portal on, the portal down (nothing listens on the
            # discard port): every transition writes its sync row; compare transition_assign with a
            # run without --dvcqg-down (docs/national-portal.md, "Sync never slows a transition").
            env.update(DVCQG_URL="http://127.0.0.1:9/dvcqg-down", DVCQG_SANDBOX="0")
        if self.mode == "smoke":
            env.update(
                STATICFILES_STORAGE="django.contrib.staticfiles.storage.StaticFilesStorage", BENCH_STATIC_FINDERS="1"
            )
        return env

    def static_is_current(self):
        """True when the collected files (manifest) are newer than every project static file and
        the installed packages: collectstatic compresses everything again, minutes on 2 cores."""
        manifest = self.var / "static" / "staticfiles.json"
        if not manifest.exists():
            return False
        sources = [ROOT / "requirements.txt", *(p for p in (ROOT / "static").rglob("*") if p.is_file())]
        newest = max((p.stat().st_mtime for p in sources if p.exists()), default=0)
        return manifest.stat().st_mtime > newest

    def _admin_connection(self):
        import psycopg

        parsed = urllib.parse.urlsplit(self.database_url)
        admin_url = urllib.parse.urlunsplit(parsed._replace(path="/postgres"))
        try:
            return psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise BenchError(f"PostgreSQL does not answer at {parsed.hostname}:{parsed.port or 5432} ({exc})") from exc

    def _check_redis(self):
        import redis

        try:
            redis.Redis.from_url(self.args.redis_url, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            raise BenchError(f"Redis does not answer at {self.args.redis_url} ({exc})") from exc

    def manage(self, *arguments, quiet=False):
        started = time.perf_counter()
        completed = subprocess.run(  # noqa: S603
            [sys.executable, str(ROOT / "manage.py"), *arguments],
            cwd=ROOT,
            env=self.env,
            capture_output=quiet,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            output = (completed.stderr or completed.stdout or "")[-2000:] if quiet else ""
            raise BenchError(f"manage.py {' '.join(arguments)} failed (exit {completed.returncode}) {output}")
        return time.perf_counter() - started

    def prepare_database(self):
        self._check_redis()
        from psycopg import sql

        with self._admin_connection() as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.db_name]).fetchone()
            if self.args.reuse and exists:
                log(f"Reusing database {self.db_name} (no new seed).")
            else:
                log(f"Creating database {self.db_name}")
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.db_name)))
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.db_name)))
                exists = False
        self.timings["migrate_s"] = round(self.manage("migrate", "--noinput", "-v0"), 1)
        log(f"  migrate                          {self.timings['migrate_s']:8.1f} s")
        if self.mode == "smoke":
            log("  collectstatic                    skipped (smoke: static files served from the finders)")
        elif self.static_is_current() and not self.args.collectstatic:
            log(f"  collectstatic                    skipped ({self.var / 'static'} is up to date)")
        else:
            self.timings["collectstatic_s"] = round(self.manage("collectstatic", "--noinput", "-v0", quiet=True), 1)
            log(f"  collectstatic                    {self.timings['collectstatic_s']:8.1f} s")
        if exists and self.args.reuse:
            return
        started = time.perf_counter()
        self.manage(
            "seed_bench",
            "--dossiers",
            str(self.dossiers),
            "--procedures",
            str(self.procedures),
            "--agencies",
            str(self.agencies),
            "--seed",
            str(self.args.seed),
        )
        self.timings["seed_s"] = round(time.perf_counter() - started, 1)

    def drop_database(self):
        from psycopg import sql

        with self._admin_connection() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.db_name)))

    # -- in-process Django ---------------------------------------------------------------------

    def setup_django(self):
        os.environ.update(self.env)
        # The in-process measurements (not the app under test) answer the sync drain with the
        # national portal's sandbox; sync itself stays off there except during that scenario.
        os.environ.setdefault("DVCQG_URL", "")
        os.environ["DVCQG_SANDBOX"] = "1"
        import django

        django.setup()
        # In-process logins (force_login) are set-up, not news.
        logging.getLogger("axes").setLevel(logging.WARNING)

    def prepare_fixtures(self):
        """Users, sessions, pools of codes and PINs, the page-1,000 cursor: everything the
        scenarios send, read from the seeded database once."""
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.test import Client

        from bench import data as bench_data
        from dossiers import selectors
        from dossiers.models import Dossier, Stage, Status
        from procedures.models import Agency, Procedure
        from procedures.text import fold

        User = get_user_model()
        prefix = bench_data.PREFIX
        desk = Agency.objects.filter(code__startswith=prefix, level=Agency.Level.COMMUNE).order_by("code").first()
        if desk is None:
            raise BenchError("No bench data in the database: run without --reuse.")
        suffix = desk.code.removeprefix(prefix)
        self.desk_user = f"{bench_data.USER_PREFIX}{suffix}.tiepnhan1"
        self.queue_user = f"{bench_data.USER_PREFIX}tinh"
        self.supervisor = f"{bench_data.USER_PREFIX}giamsat"
        self.password = bench_data.BENCH_PASSWORD
        sessions = {}
        for username in (self.queue_user, self.supervisor):
            client = Client()
            client.force_login(User.objects.get(username=username))
            sessions[username] = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.session_cookie = {
            name: f"{settings.SESSION_COOKIE_NAME}={value}; django_language=vi" for name, value in sessions.items()
        }
        bench = bench_data.bench_dossiers()
        bounds = bench.order_by().values_list("pk", flat=True)
        low, high = bounds.order_by("pk").first(), bounds.order_by("-pk").first()
        ids = [self.rng.randint(low, high) for _ in range(3000)]
        # Seeded dossiers only: on a reused database the ids also reach the dossiers earlier runs
        # created through the API, whose PINs are random (their lookups would be 404s).
        drawn = Dossier.objects.filter(pk__in=ids).only("code", "provisional_code", "pin_hash")
        pins = [(d, bench_data.bench_pin(d.code)) for d in drawn]
        self.lookups = [(d.code, pin) for d, pin in pins if d.check_pin(pin)]
        # What an officer types to find a dossier: a phone number, a family and given name (without
        # diacritics half of the time), an ID number, the code's last part; from dossiers of the desk.
        people = list(
            Dossier.objects.filter(pk__in=ids, receiving_agency=desk).values_list(
                "applicant_name", "applicant_phone", "applicant_id_number", "code"
            )
        ) or list(
            Dossier.objects.filter(pk__in=ids).values_list(
                "applicant_name", "applicant_phone", "applicant_id_number", "code"
            )
        )
        self.officer_searches = []
        for number, (name, phone, id_number, code) in enumerate(people):
            words = name.split()
            typed = [phone, f"{words[0]} {words[-1]}" if len(words) > 1 else name, id_number, code[-11:]][number % 4]
            self.officer_searches.append(fold(typed) if number % 8 == 1 else typed)
        self.officer_searches = [text for text in self.officer_searches if text] or ["Nguyễn"]
        self.procedure_codes = list(
            Procedure.objects.filter(code__startswith=prefix).order_by("code").values_list("code", flat=True)[:500]
        )
        self.create_procedure = (
            Procedure.objects.filter(code__startswith=prefix, level="commune", agencies=desk)
            .order_by("code")
            .values_list("code", flat=True)
            .first()
        )
        self.fifty = bench.filter(note=bench_data.BENCH_50_EVENTS_NOTE).values_list("code", flat=True).first()
        self.transition_pool = list(
            Dossier.objects.filter(receiving_agency=desk, status=Status.RECEIVED, stage=Stage.INTAKE)
            .order_by("-pk")
            .values_list("code", flat=True)[:20000]
        )
        # The cursor of queue page 1,000 (keyset pagination: the page after row 999 × page size).
        user = User.objects.get(username=self.queue_user)
        self.queue_after, self.queue_page_reached = None, 1
        try:
            queryset = selectors.keyset_order(selectors.queue(user, "waiting")).values_list("due_at", "pk")
            size = selectors.PAGE_SIZE
            offset = (QUEUE_PAGE - 1) * size - 1
            row = queryset[offset : offset + 1]
            row = list(row)
            page = QUEUE_PAGE
            if not row:
                total = len(queryset[: offset + 1])
                page = max(2, total // size)
                row = list(queryset[(page - 1) * size - 1 : (page - 1) * size]) if total > size else []
            if row:
                self.queue_after, self.queue_page_reached = selectors.encode_cursor(*row[0]), page
        except (AttributeError, TypeError, ValueError) as exc:
            self.notes.append(f"queue page {QUEUE_PAGE}: could not compute the cursor ({exc})")
        if self.queue_page_reached < QUEUE_PAGE:
            self.notes.append(
                f"queue_page_1000: the waiting queue of {self.queue_user} has only {self.queue_page_reached} "
                f"pages at {self.dossiers:,} dossiers; page {self.queue_page_reached} was measured instead."
            )
        today = date.today()
        self.stats_period = (today.replace(month=1, day=1), today)
        self.stats_query = f"from={today.replace(month=1, day=1).isoformat()}&to={today.isoformat()}"
        self.details["fixtures"] = {
            "desk_agency": desk.code,
            "desk_user": self.desk_user,
            "queue_user": self.queue_user,
            "queue_page_measured": self.queue_page_reached,
            "fifty_events_dossier": self.fifty,
            "transition_pool_at_start": len(self.transition_pool),
            "lookup_pool": len(self.lookups),
            "create_procedure": self.create_procedure,
        }

    # -- services -----------------------------------------------------------------------------

    def start_services(self):
        gunicorn = Path(sys.executable).with_name("gunicorn")
        argv = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
        argv += [
            "motcua.wsgi",
            "--workers",
            str(self.workers),
            "--bind",
            f"{self.host}:{self.port}",
            "--backlog",
            "2048",
            "--timeout",
            "120",
            "--access-logfile",
            str(self.logs / "access.log"),
        ]
        log(f"Starting gunicorn ({self.workers} sync workers) on {self.host}:{self.port} and a Celery worker")
        self.processes.start("gunicorn", argv, self.env, self.logs / "gunicorn.log")
        celery = [sys.executable, "-m", "celery", "-A", "motcua", "worker", "--concurrency", "1"]
        celery += ["--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
        self.processes.start("celery", celery, self.env, self.logs / "celery.log")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            for name, process, _handle in self.processes.running:
                if process.poll() is not None:
                    raise BenchError(
                        f"{name} exited with status {process.returncode}: see {self.logs / (name + '.log')}"
                    )
            try:
                status, body = self.http("GET", "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise BenchError(f"gunicorn did not answer /healthz within 90 s: see {self.logs / 'gunicorn.log'}")

    def http(self, method, path, body=None, headers=None):
        """One plain request (set-up only, not measured)."""
        import http.client

        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            data = json.dumps(body).encode() if body is not None else None
            all_headers = {"Accept": "application/json", **(headers or {})}
            if data is not None:
                all_headers["Content-Type"] = "application/json"
            connection.request(method, path, body=data, headers=all_headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def fetch_tokens(self):
        self.tokens = {}
        for username in (self.desk_user, self.supervisor):
            status, body = self.http("POST", "/api/v1/auth/token/", {"username": username, "password": self.password})
            if status != 200:
                raise BenchError(f"POST /api/v1/auth/token/ for {username} → {status} {body[:200]!r}")
            self.tokens[username] = json.loads(body)["token"]

    # -- scenarios ----------------------------------------------------------------------------

    def _token(self, username):
        return {"Authorization": f"Token {self.tokens[username]}", "Accept": "application/json"}

    def requests(self):
        """name → (function(vu) → loadgen.Request or None, on_response or None)."""
        rng = self.rng
        quote = urllib.parse.quote_plus
        desk, supervisor = self._token(self.desk_user), self._token(self.supervisor)
        queue_session = {"Cookie": self.session_cookie[self.queue_user]}
        supervisor_session = {"Cookie": self.session_cookie[self.supervisor]}
        json_header = {"Content-Type": "application/json"}
        pool = self.transition_pool
        counter = {"created": 0}

        def search(text):
            return lambda vu: loadgen.Request(
                "GET", f"/api/v1/procedures/?search={quote(text)}", {"Accept": "application/json"}
            )

        def lookup(vu):
            code, pin = rng.choice(self.lookups)
            path = f"/api/v1/lookup/?code={quote(code)}&pin={pin}"
            return loadgen.Request("GET", path, {"Accept": "application/json"})

        def create(vu):
            counter["created"] += 1
            body = {
                "procedure": self.create_procedure,
                "applicant_name": "Nguyễn Văn Thử",
                "applicant_id_number": f"0{rng.randrange(10**10, 10**11)}",
                "applicant_phone": f"09{rng.randrange(10**7, 10**8)}",
                "applicant_address": "Thôn 1, tỉnh Thử Tải",
                "channel": "in_person",
                "documents": [],
            }
            data = json.dumps(body).encode()
            return loadgen.Request("POST", "/api/v1/dossiers/", {**desk, **json_header}, data, expect=(201,))

        def created(request, status, body):
            if request.method == "POST" and request.path == "/api/v1/dossiers/" and status == 201:
                with contextlib.suppress(ValueError, KeyError):
                    pool.append(json.loads(body)["code"])

        def transition(vu):
            if not pool:
                return None
            code = pool.pop()
            body = json.dumps({"comment": "", "assignee": ""}).encode()
            path = f"/api/v1/dossiers/{quote(code, safe='')}/actions/assign/"
            return loadgen.Request("POST", path, {**desk, **json_header}, body)

        queue_1 = "/can-bo/?q=waiting"
        queue_n = queue_1 + (f"&after={quote(self.queue_after)}" if self.queue_after else "")
        plain = {
            "search_folded": search(SEARCH_FOLDED),
            "search_diacritics": search(SEARCH_DIACRITICS),
            "search_poor_household": search(SEARCH_POOR_HOUSEHOLD),
            "procedure_page": lambda vu: loadgen.Request("GET", f"/thu-tuc/{quote(rng.choice(self.procedure_codes))}/"),
            "lookup": lookup,
            "queue_page_1": lambda vu: loadgen.Request("GET", queue_1, queue_session),
            "queue_page_1000": lambda vu: loadgen.Request("GET", queue_n, queue_session),
            "dossier_detail_50_events": lambda vu: loadgen.Request(
                "GET", f"/api/v1/dossiers/{quote(self.fifty or '-', safe='')}/", desk
            ),
            "stats_dashboard": lambda vu: loadgen.Request("GET", f"/thong-ke/?{self.stats_query}", supervisor_session),
            "stats_api": lambda vu: loadgen.Request("GET", f"/api/v1/stats/?{self.stats_query}", supervisor),
            "stats_index_page": lambda vu: loadgen.Request("GET", "/thong-ke/chi-so/", supervisor_session),
            "stats_index_api": lambda vu: loadgen.Request("GET", "/api/v1/stats/index/", supervisor),
            "officer_search_api": lambda vu: loadgen.Request(
                "GET", f"/api/v1/dossiers/?search={quote(rng.choice(self.officer_searches))}", desk
            ),
            "workspace_search": lambda vu: loadgen.Request(
                "GET", f"/can-bo/?code={quote(rng.choice(self.officer_searches))}", queue_session
            ),
            "create_dossier": create,
            "transition_assign": transition,
        }
        names, weights = zip(*MIX, strict=True)
        cumulative = list(_cumulative(weights))

        def mixed(vu):
            pick = names[min(len(names) - 1, _bisect(cumulative, rng.random() * cumulative[-1]))]
            return plain[pick](vu)

        scenarios = {
            name: (make, created if name in ("create_dossier", "mixed") else None) for name, make in plain.items()
        }
        scenarios["mixed"] = (mixed, created)
        return scenarios

    def run_http(self, name, make, on_response, concurrency, warmup=None, generator=None):
        generator = generator or self.generator
        warmup = self.warmup if warmup is None else warmup
        duration = self.mixed_duration if name == "mixed" else self.duration
        if generator == "wrk" and name not in ASYNCIO_ONLY:
            requests = []
            for _ in range(WRK_LINES if name != "static_file" else 1):
                request = make(0)
                if request is None:
                    break
                request.tag = name
                requests.append(request)
            return wrkload.run(
                self.host,
                self.port,
                requests,
                concurrency=concurrency,
                duration=duration,
                warmup=warmup,
                forwarded_for=True,
            )
        result = loadgen.run(
            self.host,
            self.port,
            make,
            concurrency=concurrency,
            duration=duration,
            warmup=warmup,
            on_response=on_response,
        )
        return result

    def warm_up(self):
        """Every gunicorn worker loads URLs, views and templates on its first requests (seconds on a
        busy machine): send each kind of request to all workers before anything is measured."""
        started = time.perf_counter()
        each = {"smoke": 0.3, "quick": 0.5}.get(self.mode, 1.0)
        makers = [make for name, (make, _cb) in self.requests().items() if name not in ("transition_assign", "mixed")]
        makers += [lambda vu: loadgen.Request("GET", "/bench/floor.json"), lambda vu: loadgen.Request("GET", STATIC)]
        for make in makers:
            loadgen.run(self.host, self.port, make, concurrency=self.workers * 2, duration=0, warmup=each)
        log(f"Warmed up {self.workers} workers in {time.perf_counter() - started:.1f} s")

    def run_floors(self):
        log(f"\nFloors ({self.duration:g} s per run)")
        floors = {
            "static_file": lambda vu: loadgen.Request("GET", STATIC),
            "constant_json": lambda vu: loadgen.Request("GET", "/bench/floor.json", {"Accept": "application/json"}),
        }
        agreement = {}
        for name, make in floors.items():
            for concurrency in self.concurrencies:
                result = self.run_http(name, make, None, concurrency)
                key = f"{name}@c{concurrency}"
                self.floors[key] = result.summary(concurrency, 0)
                self._record_detail(key, result)
                log(f"  {key:<34} {_fmt_summary(self.floors[key])}   [{self.generator}]")
                if self.generator != "wrk":
                    continue
                # The same floor with the asyncio generator: what a Python client takes from the server.
                other = self.run_http(name, make, None, concurrency, generator="asyncio").summary(concurrency, 0)
                wrk_rps, asyncio_rps = self.floors[key]["rps"], other["rps"]
                share = round(asyncio_rps / wrk_rps, 3) if wrk_rps else None
                agreement[key] = {
                    "wrk": self.floors[key],
                    "asyncio": other,
                    "asyncio_share_of_wrk_rps": share,
                    "agree_within_10_percent": share is not None and abs(1 - share) <= GENERATOR_AGREEMENT,
                }
                log(f"  {key:<34} {_fmt_summary(other, short=True)}   [asyncio: {share} × wrk's req/s]")
        if agreement:
            self.details["generators"] = agreement

    def run_scenarios(self):
        scenarios = self.requests()
        only = set(self.args.only.split(",")) if self.args.only else None
        log(f"\nScenarios ({self.duration:g} s per run, warm-up {self.warmup:g} s)")
        for name, (make, on_response) in scenarios.items():
            if only and name not in only:
                continue
            for concurrency in self.concurrencies:
                rss_before = self.worker_rss() if name == "mixed" else None
                result = self.run_http(name, make, on_response, concurrency)
                key = f"{name}@c{concurrency}"
                self.results[key] = result.summary(concurrency)
                self._record_detail(key, result)
                if rss_before:
                    self._record_memory(key, rss_before, self.worker_rss())
                if result.exhausted:
                    self.details[key]["note"] = "ran out of dossiers to act on before the end"
                log(f"  {key:<34} {_fmt_summary(self.results[key])}")
                for sample in result.error_samples[:2]:
                    log(f"      error: {sample}")

    def worker_rss(self):
        """{pid: resident memory in kB} of the gunicorn workers (the master's children)."""
        master = next((p for name, p, _h in self.processes.running if name == "gunicorn"), None)
        if master is None:
            return {}
        workers = {}
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError, ValueError):
                fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
                if int(fields["PPid"]) == master.pid:
                    workers[int(fields["Pid"])] = int(fields["VmRSS"].split()[0])
        return workers

    def _record_memory(self, key, before, after):
        """The workers' memory before and after a run; the growth of those still running (a worker
        restarted meanwhile is reported, not compared)."""
        same = sorted(set(before) & set(after))
        total_before, total_after = sum(before[p] for p in same), sum(after[p] for p in same)
        growth = round(total_after / total_before - 1, 4) if total_before else None
        self.details[key]["worker_rss_kb"] = {
            "before": before,
            "after": after,
            "growth": growth,
            "workers_replaced": len(set(before) ^ set(after)),
        }
        shown = f"{growth:+.1%}" if growth is not None else "–"
        log(f"  {'':<34} gunicorn workers' RSS {total_before / 1024:.0f} → {total_after / 1024:.0f} MB ({shown})")

    def _record_detail(self, key, result):
        self.details[key] = {
            "requests": result.count,
            "elapsed_s": round(result.elapsed, 2),
            "statuses": {str(k): v for k, v in sorted(result.statuses.items(), key=lambda kv: str(kv[0]))},
            "error_samples": result.error_samples,
        }

    # -- in-process measurements ------------------------------------------------------------------

    def measure_in_process(self):
        """Queries per request (test client, same settings and database) and the SQL floors:
        EXPLAIN ANALYZE of each endpoint's most expensive SELECT, run `sql_runs` times."""
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        log(f"\nQueries per request and SQL floors (EXPLAIN ANALYZE × {self.sql_runs})")
        scenarios = self.requests()
        # A dossier the in-process transition may assign (the HTTP runs may have used them all).
        from django.contrib.auth import get_user_model

        User = get_user_model()
        token_client = Client()
        for name, (make, _on_response) in scenarios.items():
            if name == "mixed" or (self.args.only and name not in self.args.only.split(",")):
                continue
            if name == "transition_assign" and not self.transition_pool:
                self._create_in_process(User.objects.get(username=self.desk_user))
            request = make(0)
            if request is None:
                continue
            if name not in ("create_dossier", "transition_assign"):
                self._client_call(token_client, request)  # warm caches (sessions, content types…)
            if name == "transition_assign":
                request = make(0) or request
            with CaptureQueriesContext(connection) as captured:
                status = self._client_call(token_client, request)
            queries = len(captured.captured_queries)
            for key in (f"{name}@c{c}" for c in self.concurrencies):
                if key in self.results:
                    self.results[key]["queries"] = queries
            floor = self._sql_floor([q["sql"] for q in captured.captured_queries])
            if floor is not None:
                summary, sql = floor
                self.floors[f"sql:{name}"] = summary
                self.details[f"sql:{name}"] = {"sql": sql[:20000], "in_process_status": status}
            sql_note = f", SQL p50 {floor[0]['p50_ms']} ms" if floor else ""
            log(f"  {name:<34} {queries:>4} queries, HTTP {status}{sql_note}")
        if not self.args.only or "stats_dashboard" in self.args.only.split(","):
            floor = self._sql_floor([self.plain_group_by_sql()])
            if floor is not None:
                self.floors["sql:stats_plain_group_by"] = floor[0]
                self.details["sql:stats_plain_group_by"] = {"sql": floor[1]}
                log(f"  {'plain GROUP BY of the dashboard':<34} SQL p50 {floor[0]['p50_ms']} ms")

    def plain_group_by_sql(self):
        """The dashboard's main numbers counted the plain way, over the dossier table, for the same
        period: what the statistics counters exist to avoid (issue 7 asks for ≥ 20× faster)."""
        from django.utils import timezone

        start, end = self.stats_period
        start_at = timezone.make_aware(datetime.combine(start, datetime.min.time())).isoformat()
        end_at = timezone.make_aware(datetime.combine(end + timedelta(days=1), datetime.min.time())).isoformat()
        s, e = f"'{start_at}'::timestamptz", f"'{end_at}'::timestamptz"
        return (
            "SELECT d.competent_agency_id, p.field_id, "  # noqa: S608 - dates formatted here, no input
            f"COUNT(*) FILTER (WHERE d.received_at < {s}) AS carried_over, "
            f"COUNT(*) FILTER (WHERE d.received_at >= {s} AND d.channel = 'in_person') AS received_in_person, "
            f"COUNT(*) FILTER (WHERE d.received_at >= {s} AND d.channel = 'online') AS received_online, "
            f"COUNT(*) FILTER (WHERE d.received_at >= {s} AND d.channel = 'post') AS received_post, "
            f"COUNT(*) FILTER (WHERE d.finished_at < {e} AND d.finished_at < d.due_at) AS finished_early_or_on_time, "
            f"COUNT(*) FILTER (WHERE d.finished_at < {e} AND d.finished_at >= d.due_at) AS finished_late, "
            f"COUNT(*) FILTER (WHERE d.finished_at IS NULL OR d.finished_at >= {e}) AS open_at_end "
            "FROM dossiers_dossier d JOIN procedures_procedure p ON p.id = d.procedure_id "
            f"WHERE d.received_at < {e} AND (d.finished_at IS NULL OR d.finished_at >= {s}) "
            "GROUP BY d.competent_agency_id, p.field_id"
        )

    def _create_in_process(self, user):
        from dossiers.services import dossier_create
        from procedures.models import Procedure

        procedure = Procedure.objects.get(code=self.create_procedure)
        dossier, _pin = dossier_create(actor=user, procedure=procedure, applicant_name="Nguyễn Văn Thử")
        self.transition_pool.append(dossier.code)

    def _client_call(self, client, request):
        return self._client_response(client, request).status_code

    def _client_response(self, client, request):
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("content-type", "content-length")}
        content_type = request.headers.get("Content-Type", "application/octet-stream")
        return client.generic(request.method, request.path, request.body, content_type=content_type, headers=headers)

    def _explain(self, cursor, sql):
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return plan[0].get("Planning Time", 0.0) + plan[0].get("Execution Time", 0.0)

    def _sql_floor(self, statements):
        from django.db import connection

        selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))][:40]
        if not selects:
            return None
        timed = []
        with connection.cursor() as cursor:
            for sql in selects:
                try:
                    timed.append((self._explain(cursor, sql), sql))
                except Exception:  # noqa: BLE001, S112 - a statement EXPLAIN cannot replay is skipped
                    connection.rollback() if not connection.get_autocommit() else None
                    continue
            if not timed:
                return None
            _ms, main = max(timed)
            runs = [self._explain(cursor, main) for _ in range(self.sql_runs)]
        ordered = sorted(runs)
        pick = lambda q: round(ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1], 3)  # noqa: E731
        summary = {
            "concurrency": 1,
            "p50_ms": pick(50),
            "p95_ms": pick(95),
            "p99_ms": pick(99),
            "rps": round(1000 / statistics.mean(runs), 1) if statistics.mean(runs) else None,
            "errors": 0,
            "queries": 1,
        }
        return summary, main

    # -- the new paths of issue 20, in-process ----------------------------------------------------

    def new_paths(self):
        """A hand-over to another agency and its acceptance, an approval signed with the local back
        end, and the national portal's sync drain: each timed in-process one call after the other
        (`NEW_PATH_CALLS` per mode), statements per call counted, the most expensive SELECT of one
        call replayed as the SQL floor. Dossiers are made for them through the services."""
        only = set(self.args.only.split(",")) if self.args.only else None
        wanted = [
            n for n in ("handover", "accept_handover", "sign_result", "dvcqg_sync_drain") if not only or n in only
        ]
        if not wanted:
            return
        from django.contrib.auth import get_user_model

        from bench import data as bench_data
        from procedures.models import Agency, Procedure, WorkflowStep

        User = get_user_model()
        calls = NEW_PATH_CALLS[self.mode]
        log(f"\nNew paths (in-process, {calls} calls each)")
        desk_user = User.objects.get(username=self.desk_user)
        desk = Agency.objects.get(code=self.details["fixtures"]["desk_agency"])
        department = (
            Agency.objects.filter(code__startswith=bench_data.PREFIX, level=Agency.Level.DEPARTMENT)
            .order_by("code")
            .first()
        )
        suffix = department.code.removeprefix(bench_data.PREFIX) if department else ""
        original = Procedure.objects.get(code=self.create_procedure)
        self.crossing = None
        if department is not None:
            # The desk's procedure with its specialist's and leader's steps at the department.
            steps = list(WorkflowStep.objects.filter(procedure=original).order_by("position"))
            crossing = Procedure.objects.filter(code=original.code + "-LT").first()
            if crossing is None:
                crossing = Procedure.objects.get(pk=original.pk)
                crossing.pk, crossing.id, crossing.code = None, None, original.code + "-LT"
                crossing.save()
                crossing.agencies.set([desk])
                for step in steps:
                    step.pk, step.procedure = None, crossing
                    step.agency = department if step.position in (1, 2) else step.agency
                    step.save()
            self.crossing = crossing
        runs = {
            "handover": lambda: self._handover_runs(calls, desk_user, f"{bench_data.USER_PREFIX}{suffix}.chuyenvien1"),
            "sign_result": lambda: self._sign_runs(calls, desk_user, desk),
            "dvcqg_sync_drain": lambda: self._sync_drain(calls, desk_user),
        }
        for name in ("handover", "sign_result", "dvcqg_sync_drain"):
            if name not in wanted and not (name == "handover" and "accept_handover" in wanted):
                continue
            if name == "handover" and self.crossing is None:
                self.notes.append("handover: the bench data has no department to hand dossiers over to")
                continue
            try:
                runs[name]()
            except Exception as exc:  # noqa: BLE001 - reported as the scenario's error, the run goes on
                key = f"{name}@c1"
                self.results[key] = {
                    "concurrency": 1,
                    "p50_ms": None,
                    "p95_ms": None,
                    "p99_ms": None,
                    "rps": 0,
                    "errors": 1,
                    "queries": None,
                }
                self.details[key] = {"error_samples": [f"{type(exc).__name__}: {exc}"[:500]]}
                log(f"  {key:<34} failed: {type(exc).__name__}: {exc}")

    def _timed(self, name, actions, unit="call"):
        """Run each callable of `actions` once, timed, statements counted; record `name@c1`."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        times, counts, errors, samples, statements = [], [], 0, [], []
        for number, action in enumerate(actions):
            counter = _QueryCounter()
            started = time.perf_counter()
            try:
                if number == 0:
                    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(counter):
                        action()
                    statements = [q["sql"] for q in captured.captured_queries]
                else:
                    with connection.execute_wrapper(counter):
                        action()
            except Exception as exc:  # noqa: BLE001 - counted as an error of the scenario
                errors += 1
                samples.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            times.append(time.perf_counter() - started)
            counts.append(counter.count)
        ordered = sorted(times)
        pick = lambda q: round(ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1] * 1000, 1) if ordered else None  # noqa: E731
        key = f"{name}@c1"
        self.results[key] = {
            "concurrency": 1,
            "p50_ms": pick(50),
            "p95_ms": pick(95),
            "p99_ms": pick(99),
            "rps": round(len(times) / sum(times), 1) if times else 0,
            "errors": errors,
            "queries": max(counts) if counts else None,
        }
        self.details[key] = {"requests": len(times), "error_samples": samples[:3], "unit": unit}
        floor = self._sql_floor(statements) if statements else None
        if floor is not None:
            self.floors[f"sql:{name}"] = floor[0]
            self.details[f"sql:{name}"] = {"sql": floor[1][:20000]}
        log(f"  {key:<34} {_fmt_summary(self.results[key])}")
        return times

    def _new_dossier(self, actor, procedure, **params):
        from dossiers.services import dossier_create

        dossier, _pin = dossier_create(actor=actor, procedure=procedure, applicant_name="Nguyễn Văn Thử", **params)
        return dossier

    def _handover_runs(self, calls, desk_user, specialist_name):
        """The desk hands a dossier of the crossing procedure to the department, whose specialist
        accepts it: `handover` and `accept_handover`."""
        from django.contrib.auth import get_user_model

        from dossiers.services import dossier_act

        specialist = get_user_model().objects.get(username=specialist_name)
        made = [self._new_dossier(desk_user, self.crossing) for _ in range(calls)]
        self._timed(
            "handover",
            [lambda d=d: dossier_act(dossier=d, actor=desk_user, action="hand_over", comment="") for d in made],
        )
        self._timed(
            "accept_handover",
            [
                lambda d=d: dossier_act(
                    dossier=d, actor=specialist, action="accept_handover", comment="", assignee=specialist
                )
                for d in made
            ],
        )

    def _sign_runs(self, calls, desk_user, desk):
        """The desk's leader approves a proposed result, signed with the local back end (a PKCS#12
        of a throw-away test CA made here): the render, the PAdES signature and the transition."""
        import tempfile

        from django.contrib.auth import get_user_model
        from django.test import override_settings

        from dossiers.services import dossier_act
        from procedures.models import Membership, Procedure, Role
        from signing import pki

        User = get_user_model()

        def member(role):
            users = User.objects.filter(memberships__agency=desk, memberships__role=role)
            return users.order_by("username").first()

        specialist, leader = member(Role.SPECIALIST), member(Role.LEADER)
        if specialist is None or leader is None:
            raise RuntimeError(f"the desk {desk.code} has no specialist or leader ({Membership.__name__})")
        procedure = Procedure.objects.get(code=self.create_procedure)
        folder = Path(tempfile.mkdtemp(prefix="motcua-bench-signing-"))
        ca = pki.make_ca("Một Cửa Bench CA")
        leaf = pki.issue(ca, leader.get_full_name() or leader.get_username())
        (folder / f"{leader.get_username()}.p12").write_bytes(pki.pkcs12_bytes(leaf, ca, "bench"))
        (folder / "ca.pem").write_bytes(ca.cert_pem)  # the signature is validated after signing
        with override_settings(
            RESULT_SIGNING_BACKEND="local",
            SIGNING_LOCAL_KEYSTORE_DIR=str(folder),
            SIGNING_LOCAL_PASSPHRASE="bench",  # noqa: S106 - a throw-away key of a throw-away CA
            SIGNING_TSA_URL="",
            SIGNING_TRUST_ROOTS=[str(folder / "ca.pem")],
        ):
            ready = []
            for _ in range(calls):
                dossier = self._new_dossier(desk_user, procedure)
                dossier = dossier_act(
                    dossier=dossier, actor=desk_user, action="assign", comment="", assignee=specialist
                )
                ready.append(
                    dossier_act(
                        dossier=dossier, actor=specialist, action="propose_result", comment="", result="Giấy chứng nhận"
                    )
                )
            self._timed(
                "sign_result",
                [lambda d=d: dossier_act(dossier=d, actor=leader, action="approve", comment="") for d in ready],
            )

    def _sync_drain(self, calls, desk_user):
        """Transitions made with the national portal's sync on write their rows; the drain
        (`interop.sync.send_pending`) then sends them to the portal's sandbox, served in-process
        (Django's test client as the HTTP transport): rows per second, one sending call."""
        from django.test import Client, override_settings

        from interop import sync
        from interop.client import Portal
        from interop.models import SyncItem
        from procedures.models import Procedure

        if "interop" not in _installed_apps():
            raise RuntimeError("the interop app is not installed")
        procedure = Procedure.objects.get(code=self.create_procedure)
        url = "http://testserver/sandbox/dvcqg"
        with override_settings(DVCQG_URL=url):
            before = SyncItem.objects.count()
            for _ in range(calls):
                self._new_dossier(desk_user, procedure)
            rows = SyncItem.objects.count() - before
            portal = Portal(url, http=_TestClientHTTP(Client()))
            outcome = {}

            def drain():
                outcome["result"] = sync.send_pending(portal=portal, limit=10 * calls)

            times = self._timed("dvcqg_sync_drain", [drain], unit="drain")
        result = outcome.get("result")
        sent = getattr(result, "sent", 0)
        key = "dvcqg_sync_drain@c1"
        self.details[key].update(rows_written=rows, rows_sent=sent, failed=getattr(result, "failed", None))
        if times:
            # Judged in rows sent per second (the p50 is the whole drain's time).
            self.results[key]["rps"] = round(sent / times[0], 1)
        if rows and sent < rows:
            self.results[key]["errors"] += rows - sent
        log(f"  {'':<34} {rows} sync rows written, {sent} sent ({self.results[key]['rps']} rows/s)")

    def reminder_scan(self):
        """The deadline scan over the whole table, timed twice (the second run finds every reminder
        already written: what every scan but the first of the day costs)."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone

        from dossiers.models import Dossier
        from notifications import reminders
        from notifications.models import Reminder

        now = timezone.now()
        soon = Dossier.objects.open().filter(due_at__gte=now, due_at__lt=now + _days(3)).count()
        self.details["reminder_scan"] = {"due_within_3_days": soon}
        log(f"\nReminder scan ({soon:,} open dossiers due within 3 days)")
        for name in ("reminder_scan", "reminder_scan_rerun"):
            counter = _QueryCounter()
            started = time.perf_counter()
            if name == "reminder_scan_rerun":
                with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(counter):
                    created = reminders.scan(now)
                statements = [q["sql"] for q in captured.captured_queries][:20]
            else:
                with connection.execute_wrapper(counter):
                    created = reminders.scan(now)
                statements = []
            elapsed_ms = (time.perf_counter() - started) * 1000
            key = f"{name}@c1"
            self.results[key] = {
                "concurrency": 1,
                "p50_ms": round(elapsed_ms, 1),
                "p95_ms": round(elapsed_ms, 1),
                "p99_ms": round(elapsed_ms, 1),
                "rps": round(1000 / elapsed_ms, 3) if elapsed_ms else None,
                "errors": 0,
                "queries": counter.count,
            }
            self.details[key] = {"reminders_created": created}
            log(f"  {key:<34} {elapsed_ms / 1000:8.2f} s, {counter.count:,} queries, {created:,} reminders created")
            if name == "reminder_scan":
                reminded = Reminder.objects.values("dossier_id").distinct().count()
                self.details[key]["dossiers_reminded"] = reminded
                log(f"  {'':<34} {reminded:,} dossiers got at least one reminder")
                # Autovacuum is off on the benchmark machines; in production it vacuums and
                # analyses the tables the first scan of the day filled long before the next scan
                # (PostgreSQL 13+ also vacuums after inserts). Do here what it would have done.
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM (ANALYZE) dossiers_reminder, dossiers_notification")
                self.notes.append("reminder_scan_rerun: measured after VACUUM (ANALYZE) of the reminder tables")
            if statements:
                floor = self._sql_floor(statements)
                if floor is not None:
                    self.floors["sql:reminder_scan"] = floor[0]
                    self.details["sql:reminder_scan"] = {"sql": floor[1][:20000]}

    # -- report -------------------------------------------------------------------------------

    def machine(self):
        info = {
            "cpus": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "memory_gb": _memory_gb(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
            "gunicorn_workers": self.workers,
            "load_generator": (
                f"{wrkload.version()} (bench/wrkload.py; asyncio bench/loadgen.py for {', '.join(ASYNCIO_ONLY)})"
                if self.generator == "wrk"
                else "bench/loadgen.py (asyncio, same machine)"
            ),
        }
        with contextlib.suppress(Exception):
            import django
            from django.db import connection

            info["django"] = django.get_version()
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                info["postgresql"] = cursor.fetchone()[0]
        with contextlib.suppress(OSError):
            git = ["git", "rev-parse", "--short", "HEAD"]
            info["commit"] = subprocess.run(git, cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
        return info

    def rows(self):
        """(key, summary, ratio to the JSON floor, ratio to the SQL floor, target, pass)."""
        rows = []
        for key, summary in self.results.items():
            name, _sep, concurrency = key.partition("@c")
            in_process = name.startswith("reminder_scan") or name in IN_PROCESS
            json_floor = None if in_process else self.floors.get(f"constant_json@c{concurrency}", {}).get("p50_ms")
            sql_floor = self.floors.get(f"sql:{name}", {}).get("p50_ms")
            p50, p95 = summary["p50_ms"], summary["p95_ms"]
            ratio_json = round(p50 / json_floor, 1) if p50 and json_floor else None
            ratio_sql = round(p50 / sql_floor, 1) if p50 and sql_floor else None
            level = int(concurrency or 1)
            target = TARGETS.get(name, {}).get("p95", {}).get(level)
            min_rps = TARGETS.get(name, {}).get("rps", {}).get(level)
            ok = bool(
                summary["errors"] == 0
                and p95 is not None
                and (target is None or p95 <= target)
                and (min_rps is None or (summary.get("rps") or 0) >= min_rps)
            )
            if name == "lookup" and level > 1:
                floor_rps = self.floors.get(f"constant_json@c{level}", {}).get("rps")
                share = round((summary.get("rps") or 0) / floor_rps, 2) if floor_rps else None
                self.details.setdefault(key, {})["share_of_json_floor_rps"] = share
                ok = ok and share is not None and share >= LOOKUP_FLOOR_SHARE
            if name == "queue_page_1000":
                first = self.results.get(f"queue_page_1@c{level}", {}).get("p50_ms")
                ratio = round(p50 / first, 2) if first and p50 else None
                self.details.setdefault(key, {})["ratio_to_page_1"] = ratio
                ok = ok and ratio is not None and ratio <= DEEP_PAGE_RATIO
            if name == "reminder_scan":
                # The issue's target is per 20,000 due dossiers; a seed's first scan of the day
                # handles however many it has (step deadlines and extension prompts included).
                reminded = self.details.get(key, {}).get("dossiers_reminded")
                per_20k = round(p50 * REMINDER_DOSSIERS / reminded, 1) if reminded and p50 else None
                self.details.setdefault(key, {})["ms_per_20000_dossiers"] = per_20k
                ok = bool(summary["errors"] == 0 and per_20k is not None and per_20k <= target)
            if name == "mixed":
                growth = self.details.get(key, {}).get("worker_rss_kb", {}).get("growth")
                if growth is not None:
                    ok = ok and growth < MIXED_MEMORY_GROWTH
            if name == "stats_dashboard":
                group_by = self.floors.get("sql:stats_plain_group_by", {}).get("p50_ms")
                speedup = round(group_by / p50, 1) if group_by and p50 else None
                self.details.setdefault(key, {})["speedup_vs_plain_group_by"] = speedup
                ok = ok and speedup is not None and speedup >= DASHBOARD_SPEEDUP
            rows.append((key, summary, ratio_json, ratio_sql, target, ok))
            self.details.setdefault(key, {}).update(
                ratio_json=ratio_json, ratio_sql=ratio_sql, target_p95_ms=target, ok=ok
            )
        return rows

    def table(self, rows):
        header = (
            f"{'scenario':<34} {'p50':>8} {'p95':>8} {'p99':>8} {'rps':>8} {'err':>5} {'q':>5} "
            f"{'×json':>6} {'×sql':>7} {'p95≤':>7}  ok"
        )
        lines = [header, "-" * len(header)]
        for key, summary in self.floors.items():
            lines.append(f"{'floor ' + key:<34} {_fmt_summary(summary, short=True)}")
        lines.append("-" * len(header))
        for key, summary, ratio_json, ratio_sql, target, ok in rows:
            lines.append(
                f"{key:<34} {_fmt_summary(summary, short=True)} {_num(ratio_json, 6)} {_num(ratio_sql, 7)} "
                f"{_num(target, 7)}  {'PASS' if ok else 'FAIL'}"
            )
        return "\n".join(lines)

    def markdown(self, rows):
        lines = [
            "| scenario | c | p50 ms | p95 ms | p99 ms | rps | errors | queries | × JSON floor | × SQL floor "
            "| target p95 | |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for key, summary in self.floors.items():
            name, _sep, concurrency = key.partition("@c")
            lines.append(
                f"| floor: {name} | {concurrency or 1} | {_md(summary['p50_ms'])} | {_md(summary['p95_ms'])} | "
                f"{_md(summary['p99_ms'])} | {_md(summary['rps'])} | {summary['errors']} | {_md(summary['queries'])} "
                "| | | | |"
            )
        for key, summary, ratio_json, ratio_sql, target, ok in rows:
            name, _sep, concurrency = key.partition("@c")
            lines.append(
                f"| {name} | {concurrency} | {_md(summary['p50_ms'])} | {_md(summary['p95_ms'])} | "
                f"{_md(summary['p99_ms'])} | {_md(summary['rps'])} | {summary['errors']} | {_md(summary['queries'])} | "
                f"{_md(ratio_json)} | {_md(ratio_sql)} | {_md(target)} | {'pass' if ok else 'FAIL'} |"
            )
        return "\n".join(lines) + "\n"

    def write(self, rows):
        output = Path(self.args.output) if self.args.output else None
        if output is None:
            suffix = "" if self.mode == "full" else f"-{self.mode}"
            folder = Path(self.args.results_dir) if self.args.results_dir else ROOT / "bench" / "results"
            output = folder / f"{date.today().isoformat()}{suffix}.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "dossiers": self.dossiers,
            "scenarios": self.results,
            "floors": self.floors,
            "mode": self.mode,
            "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "duration_s": self.duration,
            "concurrencies": self.concurrencies,
            "targets": TARGETS,
            "machine": self.machine(),
            "setup": self.timings,
            "details": self.details,
            "notes": self.notes,
        }
        output.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        output.with_suffix(".md").write_text(self.markdown(rows), encoding="utf-8")
        return output

    # -- main -----------------------------------------------------------------------------------

    def run(self):
        started = time.perf_counter()
        log(f"Một Cửa benchmark: {self.mode}, {self.dossiers:,} dossiers, concurrency {self.concurrencies}")
        self.prepare_database()
        self.setup_django()
        self.prepare_fixtures()
        self.start_services()
        self.fetch_tokens()
        self.warm_up()
        self.run_floors()
        self.run_scenarios()
        self.processes.stop()  # the in-process measurements need no server: give them the CPU
        self.measure_in_process()
        self.new_paths()
        if not self.args.skip_reminders:
            self.reminder_scan()
        rows = self.rows()
        log("\n" + self.table(rows))
        for key in (k for k in self.results if k.startswith("stats_dashboard@")):
            speedup = self.details.get(key, {}).get("speedup_vs_plain_group_by")
            log(f"{key}: {speedup}× faster than the plain GROUP BY (issue 7: ≥ {DASHBOARD_SPEEDUP}×)")
        for key in (k for k in self.results if k.startswith("lookup@") and k != "lookup@c1"):
            share = self.details.get(key, {}).get("share_of_json_floor_rps")
            log(f"{key}: {share} of the constant-JSON floor's req/s (issue 7: ≥ {LOOKUP_FLOOR_SHARE})")
        for key in (k for k in self.results if k == "reminder_scan@c1"):
            detail = self.details.get(key, {})
            log(
                f"{key}: {detail.get('dossiers_reminded')} dossiers reminded; "
                f"{detail.get('ms_per_20000_dossiers')} ms per {REMINDER_DOSSIERS:,} (issue 7: ≤ 10,000)"
            )
        for key in (k for k in self.results if k.startswith("queue_page_1000@")):
            ratio = self.details.get(key, {}).get("ratio_to_page_1")
            log(f"{key}: {ratio} × page 1 (issue 7: ≤ {DEEP_PAGE_RATIO})")
        for note in self.notes:
            log(f"note: {note}")
        output = self.write(rows)
        shown = output.relative_to(ROOT) if output.is_relative_to(ROOT) else output
        log(f"\nWrote {shown} (+ .md) in {time.perf_counter() - started:.0f} s")
        return rows


class _TestClientHTTP:
    """A requests-like `post()` over Django's test client: the national portal's sandbox answered
    in-process, without a server (the sync drain scenario)."""

    def __init__(self, client):
        self.client = client

    def post(self, url, json=None, timeout=None):
        import json as json_module

        path = urllib.parse.urlsplit(url).path
        response = self.client.post(path, json_module.dumps(json), content_type="application/json")
        response.text = response.content.decode("utf-8", "replace")
        return response


def _installed_apps():
    from django.conf import settings

    return {name.rsplit(".", 1)[-1] for name in settings.INSTALLED_APPS}


class _QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _days(n):
    from datetime import timedelta

    return timedelta(days=n)


def _cumulative(values):
    total = 0
    for value in values:
        total += value
        yield total


def _bisect(cumulative, value):
    import bisect

    return bisect.bisect_left(cumulative, value)


def _num(value, width):
    if value is None:
        return f"{'-':>{width}}"
    if isinstance(value, float):
        return f"{value:>{width}.1f}"
    return f"{value:>{width}}"


def _md(value):
    return "–" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _fmt_summary(summary, short=False):
    text = (
        f"{_num(summary['p50_ms'], 8)} {_num(summary['p95_ms'], 8)} {_num(summary['p99_ms'], 8)} "
        f"{_num(summary['rps'], 8)} {_num(summary['errors'], 5)} {_num(summary['queries'], 5)}"
    )
    return text if short else text + "   (ms: p50 p95 p99 | rps | errors | queries)"


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _memory_gb():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="100,000 dossiers, 8 s per run")
    mode.add_argument("--smoke", action="store_true", help="300 dossiers, 1 s per run (CI)")
    parser.add_argument("--dossiers", type=int, help="number of dossiers (overrides the mode)")
    parser.add_argument("--procedures", type=int, help="number of procedures (default 5000; smoke 200)")
    parser.add_argument("--agencies", type=int, help="number of agencies (default 30; smoke 8)")
    parser.add_argument("--duration", type=float, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, help="seconds of unmeasured warm-up before each run")
    parser.add_argument(
        "--mixed-duration",
        type=float,
        help="seconds of the mixed load per concurrency (default: --duration; issue 20 asks for 300)",
    )
    parser.add_argument("--concurrency", default="1,16", help="comma-separated concurrency levels (default 1,16)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default 2 × cores + 1)")
    parser.add_argument("--port", type=int, help="gunicorn port (default: a free one)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/motcua_bench"),
        help="the bench database, DROPPED and recreated (its name must contain 'bench')",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        help="Redis for cache and broker",
    )
    parser.add_argument("--collectstatic", action="store_true", help="run collectstatic even when up to date")
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench database and its data (no seed)")
    parser.add_argument("--drop", action="store_true", help="drop the bench database at the end")
    parser.add_argument("--only", help="comma-separated scenario names to run")
    parser.add_argument("--skip-reminders", action="store_true", help="do not time the reminder scan")
    parser.add_argument(
        "--dvcqg-down",
        action="store_true",
        help="sync with the national portal on, the portal unreachable (the transition scenario's portal-down variant)",
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "asyncio"),
        default="auto",
        help="load generator: wrk (Debian's, when installed: auto) or the asyncio one (bench/loadgen.py)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data and the load (default 1)")
    parser.add_argument("--results-dir", help="folder for the results (default bench/results)")
    parser.add_argument("--output", help="the results file (default <results-dir>/<date>[-mode].json)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    bench = None
    try:
        bench = Bench(args)
        bench.run()
    except BenchError as exc:
        log(f"bench: {exc}")
        return 2
    except KeyboardInterrupt:
        log("bench: interrupted")
        return 130
    finally:
        if bench is not None:
            bench.processes.stop()
            if args.drop:
                try:
                    bench.drop_database()
                except Exception as exc:  # noqa: BLE001 - reported, the run's status stands
                    log(f"bench: could not drop {bench.db_name}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
