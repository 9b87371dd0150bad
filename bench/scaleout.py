#!/usr/bin/env python3
"""The scale-out drill (issue 20): the deployment of docs/scaling.md on real engines, on this machine.

    bash scripts/scaleout.sh            # `make bench-scaleout`: 100,000 dossiers, 20 s per phase
    bash scripts/scaleout.sh --smoke    # CI: 300 dossiers, 6 s per phase (about two minutes)

What it starts (all on 127.0.0.1, all stopped and removed at the end, on error and on Ctrl+C):

- the bench database on the running PostgreSQL (the primary), seeded by `seed_bench`;
- a streaming replica: `pg_basebackup -R` of the primary into a temporary folder, started with
  pg_ctl as the postgres user on its own port (hot standby);
- PgBouncer in transaction mode in front of the primary;
- two gunicorn instances of the application (DATABASE_URL → PgBouncer with DATABASE_PGBOUNCER=1,
  DATABASE_REPLICA_URL → the replica, one MEDIA_ROOT for both) and one Celery worker;
- HAProxy in front of the two instances (round robin, health checks on /healthz every 0.5 s,
  GET requests retried on another instance when one dies under them, never a POST).

Then Debian's wrk sends the benchmark's mixed load (bench/run.py's MIX: lookups, searches, officer
pages, dashboards, statistics API, dossier creations) through HAProxy in three phases:

1. steady: everything up; the replica must serve the statistics reads;
2. app_killed: one gunicorn instance (master and workers) is SIGKILLed a third into the phase;
3. replica_stopped: the replica is stopped a third into the phase; reads fall back to the primary.

Checks: no unexpected status (the only expected one: a POST in flight on the killed instance,
which HAProxy cannot safely retry, is answered 502 and counted "interrupted"), no socket error
(except, in the kill phase, responses the killed instance was sending when it died: HAProxy had
forwarded their first bytes, so it cannot retry them; at most one per worker, counted "cut"),
no lost write (every 201 of the load has its dossier in the database; at most the interrupted
POSTs add rows nobody was told about), the shared media folder (a file uploaded through HAProxy is
downloaded from each instance), replication lag within REPLICA_MAX_LAG_SECONDS. A report is printed
(text, then JSON) and written to bench/results/<date>-scaleout[-smoke].json and .md. Exit status:
0 all checks passed, 1 a check failed, 2 the drill could not run.
"""

import argparse
import contextlib
import csv
import io
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import loadgen, wrkload  # noqa: E402
from bench import run as bench_run  # noqa: E402
from bench.run import BenchError, free_port, log  # noqa: E402

HBA_MARKER = "# motcua-scaleout: replication on loopback for the scale-out drill (removed at its end)"
MODES = {
    # dataset (bench/run.py's modes), seconds per phase, requests in the wrk file, gunicorn workers
    "smoke": {"bench": "--smoke", "phase": 6.0, "lines": 2000, "workers": 2},
    "full": {"bench": "--quick", "phase": 20.0, "lines": 20000, "workers": 3},
}
# Statuses a scenario may answer besides its success: none. A POST interrupted by the kill is
# classified separately (see Drill.judge).
INTERRUPTED = (502, 503, 504)
REPLICA_TAGS = ("stats_dashboard", "stats_api")
STAT_TABLES = ("dossiers_statcounter", "dossiers_statfact", "dossiers_statspan")
LOAD_ADDRESS = "Thôn 1, tỉnh Thử Tải"  # bench/run.py's create_dossier body
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def pg_bin(name):
    """A PostgreSQL server program of the primary's major version (Debian layout first)."""
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if not found:
        raise BenchError(f"{name} not found (Debian: postgresql)")
    return found


class Drill:
    def __init__(self, args):
        self.args = args
        self.mode = "smoke" if args.smoke else "full"
        self.config = MODES[self.mode]
        self.phase_seconds = args.phase_seconds or self.config["phase"]
        self.concurrency = args.concurrency
        self.work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="motcua-scaleout-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.work.chmod(0o755)  # the postgres user reads its configuration files here
        self.postgres = pwd.getpwnam("postgres")
        bench_argv = [self.config["bench"], "--database-url", args.database_url, "--redis-url", args.redis_url]
        bench_argv += ["--seed", str(args.seed), "--workers", str(self.config["workers"])]
        if args.reuse:
            bench_argv.append("--reuse")
        self.bench = bench_run.Bench(bench_run.parse_args(bench_argv))
        self.db_name = self.bench.db_name
        self.primary = urllib.parse.urlsplit(args.database_url)
        self.ports = {
            "replica": free_port(),
            "pgbouncer": free_port(),
            "app1": free_port(),
            "app2": free_port(),
            "haproxy": free_port(),
        }
        self.replica_dir = self.work / "replica"
        self.media = self.work / "media"
        self.processes = bench_run.Processes()
        self.hba_added = None
        self.replica_running = False
        self.report = {"mode": self.mode, "phases": {}, "checks": {}, "notes": []}

    # -- helpers ----------------------------------------------------------------------------

    def as_postgres(self, argv, check=True, timeout=600):
        """Run a PostgreSQL program as the postgres user (root runs it through runuser)."""
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        elif os.geteuid() != self.postgres.pw_uid:
            raise BenchError("the drill runs as root (CI) or as the postgres user: it starts a PostgreSQL server")
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
        if check and completed.returncode != 0:
            raise BenchError(f"{' '.join(argv[-6:])} failed: {(completed.stderr or completed.stdout)[-1500:]}")
        return completed

    def connect(self, port=None, dbname=None, **kwargs):
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=port or self.primary.port or 5432,
            user=self.primary.username or "postgres",
            dbname=dbname or self.db_name,
            autocommit=True,
            connect_timeout=5,
            **kwargs,
        )

    def start(self, name, argv, env=None):
        process = self.processes.start(name, argv, env or {"PATH": os.environ["PATH"]}, self.work / f"{name}.log")
        (self.work / f"{name}.pgid").write_text(str(process.pid))  # for scripts/scaleout.sh's trap
        return process

    def wait_http(self, port, path="/healthz", seconds=90, name="server"):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for each, process, _handle in self.processes.running:
                if process.poll() is not None:
                    raise BenchError(f"{each} exited with status {process.returncode}: see {self.work / each}.log")
            with contextlib.suppress(OSError):
                status, _body = http("127.0.0.1", port, "GET", path, timeout=5)
                if status == 200:
                    return
            time.sleep(0.3)
        raise BenchError(f"{name} on port {port} did not answer {path} with 200 within {seconds} s")

    # -- the primary's replication permission ------------------------------------------------

    def replication_allowed(self):
        argv = ["psql", "-w", f"host=127.0.0.1 port={self.primary.port or 5432} user=postgres replication=true"]
        argv += ["-Atc", "IDENTIFY_SYSTEM"]
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30).returncode == 0  # noqa: S603

    def allow_replication(self):
        if self.replication_allowed():
            return
        with self.connect(dbname="postgres") as conn:
            hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
            wal_level = conn.execute("SHOW wal_level").fetchone()[0]
            senders = int(conn.execute("SHOW max_wal_senders").fetchone()[0])
        if wal_level not in ("replica", "logical") or senders < 2:
            raise BenchError(f"the primary cannot stream (wal_level={wal_level}, max_wal_senders={senders})")
        if not os.access(hba, os.W_OK):
            raise BenchError(
                f"replication from 127.0.0.1 is refused and {hba} is not writable: add\n"
                "  host replication postgres 127.0.0.1/32 trust\nat its top and reload PostgreSQL"
            )
        original = hba.read_text()
        hba.write_text(f"{HBA_MARKER}\nhost replication postgres 127.0.0.1/32 trust\n{original}")
        self.hba_added = hba
        log(f"  allowed replication for postgres@127.0.0.1 in {hba} (until the end of the drill)")
        self.reload_primary()
        if not self.replication_allowed():
            raise BenchError("replication is still refused after the pg_hba.conf change")

    def reload_primary(self):
        with self.connect(dbname="postgres") as conn:
            conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)

    def restore_hba(self):
        if self.hba_added is None:
            return
        text = self.hba_added.read_text()
        lines = text.splitlines(keepends=True)
        if lines and lines[0].startswith(HBA_MARKER):
            self.hba_added.write_text("".join(lines[2:]))
        self.hba_added = None
        with contextlib.suppress(Exception):
            self.reload_primary()

    # -- the replica --------------------------------------------------------------------------

    def start_replica(self):
        started = time.perf_counter()
        self.allow_replication()
        self.replica_dir.mkdir(mode=0o700)
        os.chown(self.replica_dir, self.postgres.pw_uid, self.postgres.pw_gid)
        self.as_postgres(
            [
                pg_bin("pg_basebackup"),
                "-D",
                str(self.replica_dir),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.primary.port or 5432),
            ]
            + ["-U", "postgres", "-X", "stream", "-R", "-c", "fast", "-w"]
        )
        # A hot standby needs at least the primary's values of these (or recovery stops).
        with self.connect(dbname="postgres") as conn:
            inherited = {
                name: conn.execute(f"SHOW {name}").fetchone()[0]  # noqa: S608 - fixed names
                for name in (
                    "max_connections",
                    "max_worker_processes",
                    "max_wal_senders",
                    "max_prepared_transactions",
                    "max_locks_per_transaction",
                )
            }
        socket_dir = self.work / "replica-socket"
        socket_dir.mkdir(exist_ok=True)
        os.chown(socket_dir, self.postgres.pw_uid, self.postgres.pw_gid)
        settings = {
            "port": self.ports["replica"],
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{socket_dir}'",
            "hot_standby": "on",
            "hot_standby_feedback": "on",
            **inherited,
            "shared_buffers": "'128MB'",
            "ssl": "off",
            "logging_collector": "off",
            "hba_file": f"'{self.replica_dir / 'pg_hba.conf'}'",
            "ident_file": f"'{self.replica_dir / 'pg_ident.conf'}'",
        }
        files = {
            "postgresql.conf": "".join(f"{key} = {value}\n" for key, value in settings.items()),
            "pg_hba.conf": "local all all trust\nhost all all 127.0.0.1/32 trust\n",
            "pg_ident.conf": "",
        }
        for name, text in files.items():
            path = self.replica_dir / name
            path.write_text(text)
            os.chown(path, self.postgres.pw_uid, self.postgres.pw_gid)
        log_file = self.work / "replica.log"
        log_file.touch()
        os.chown(log_file, self.postgres.pw_uid, self.postgres.pw_gid)
        started_ctl = self.as_postgres(
            [pg_bin("pg_ctl"), "-D", str(self.replica_dir), "-l", str(log_file), "-w", "-t", "120", "start"],
            check=False,
        )
        if started_ctl.returncode != 0:
            raise BenchError(f"the replica did not start: {log_file.read_text()[-1500:]}")
        self.replica_running = True
        with self.connect(port=self.ports["replica"]) as conn:
            if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                raise BenchError("the replica is not in recovery")
        seconds = time.perf_counter() - started
        self.report["setup_replica_s"] = round(seconds, 1)
        log(f"  replica streaming on 127.0.0.1:{self.ports['replica']} ({seconds:.1f} s, pg_basebackup -R)")

    def stop_replica(self, mode="fast"):
        if not self.replica_running:
            return
        self.as_postgres(
            [pg_bin("pg_ctl"), "-D", str(self.replica_dir), "-m", mode, "-w", "-t", "60", "stop"], check=False
        )
        self.replica_running = False

    # -- PgBouncer, the app instances, HAProxy --------------------------------------------------

    def start_pgbouncer(self):
        folder = self.work / "pgbouncer"
        folder.mkdir()
        user = self.primary.username or "postgres"
        (folder / "userlist.txt").write_text(f'"{user}" ""\n')
        ini = f"""[databases]
{self.db_name} = host=127.0.0.1 port={self.primary.port or 5432} dbname={self.db_name}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.ports["pgbouncer"]}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "userlist.txt"}
pool_mode = transaction
default_pool_size = 8
max_client_conn = 200
server_connect_timeout = 5
query_wait_timeout = 30
ignore_startup_parameters = extra_float_digits
admin_users = {user}
"""
        (folder / "pgbouncer.ini").write_text(ini)
        argv = ["pgbouncer", str(folder / "pgbouncer.ini")]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]  # PgBouncer refuses to run as root
        self.start("pgbouncer", argv)
        deadline = time.monotonic() + 30
        while True:
            try:
                with self.connect(port=self.ports["pgbouncer"], prepare_threshold=None) as conn:
                    conn.execute("SELECT 1")
                break
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise BenchError(f"PgBouncer does not answer: {exc} (see {self.work / 'pgbouncer.log'})") from exc
                time.sleep(0.3)
        log(f"  PgBouncer (transaction mode) on 127.0.0.1:{self.ports['pgbouncer']}")

    def app_env(self):
        env = dict(self.bench.env)
        site = f"http://127.0.0.1:{self.ports['haproxy']}"
        user = self.primary.username or "postgres"
        env.update(
            DATABASE_URL=f"postgres://{user}@127.0.0.1:{self.ports['pgbouncer']}/{self.db_name}",
            DATABASE_PGBOUNCER="1",
            DATABASE_REPLICA_URL=f"postgres://{user}@127.0.0.1:{self.ports['replica']}/{self.db_name}",
            REPLICA_MAX_LAG_SECONDS=str(self.args.max_lag),
            REPLICA_CHECK_SECONDS="2",
            MEDIA_ROOT=str(self.media),
            SITE_URL=site,
            # HAProxy appends the address it sees; wrk plays a front proxy (bench/wrk.lua).
            TRUSTED_PROXY_COUNT="2",
            SECURE_SSL_REDIRECT="0",
            SECURE_COOKIES="0",
        )
        return env

    def gunicorn_argv(self, port):
        gunicorn = Path(sys.executable).with_name("gunicorn")
        argv = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
        return argv + [
            "motcua.wsgi",
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--workers",
            str(self.config["workers"]),
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--timeout",
            "60",
            "--access-logfile",
            str(self.work / f"access-{port}.log"),
        ]

    def start_app(self, name):
        env = self.app_env()
        process = self.processes.start(name, self.gunicorn_argv(self.ports[name]), env, self.work / f"{name}.log")
        (self.work / f"{name}.pgid").write_text(str(process.pid))
        return process

    def start_apps(self):
        self.media.mkdir(exist_ok=True)
        for name in ("app1", "app2"):
            self.start_app(name)
        celery = [sys.executable, "-m", "celery", "-A", "motcua", "worker", "--concurrency", "1"]
        celery += ["--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
        worker = self.processes.start("celery", celery, self.app_env(), self.work / "celery.log")
        (self.work / "celery.pgid").write_text(str(worker.pid))
        for name in ("app1", "app2"):
            self.wait_http(self.ports[name], name=name)
        log(
            f"  2 gunicorn instances × {self.config['workers']} workers on ports {self.ports['app1']} and "
            f"{self.ports['app2']}, shared MEDIA_ROOT {self.media}, 1 Celery worker"
        )

    def start_haproxy(self):
        server_options = "check observe layer4 error-limit 1 on-error mark-down"
        cfg = f"""global
    maxconn 2000
    log stderr format raw daemon
    stats socket {self.work / "haproxy.sock"} mode 600 level admin

defaults
    mode http
    log global
    option httplog
    option dontlog-normal
    timeout connect 2s
    timeout client 70s
    timeout server 70s
    timeout http-keep-alive 10s
    retries 5
    option redispatch 1
    # A GET whose instance died under it is sent again to the other one; a POST never is (it may
    # have been written: the client is told, 502, rather than getting a duplicate dossier).
    retry-on conn-failure empty-response response-timeout
    option forwardfor

frontend web
    bind 127.0.0.1:{self.ports["haproxy"]}
    http-request disable-l7-retry if METH_POST
    default_backend app

backend app
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    # As many requests per instance as it has workers; the rest wait here, not in gunicorn's
    # backlog, so a health check never queues behind a burst (a busy instance is not a dead one).
    timeout queue 30s
    timeout check 3s
    default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2 maxconn {self.config["workers"]}
    # A refused connection marks the instance down at once (the health check confirms within 1 s).
    server app1 127.0.0.1:{self.ports["app1"]} {server_options}
    server app2 127.0.0.1:{self.ports["app2"]} {server_options}
"""
        (self.work / "haproxy.cfg").write_text(cfg)
        argv = ["haproxy", "-c", "-q", "-f", str(self.work / "haproxy.cfg")]
        check = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603, S607
        if check.returncode != 0:
            raise BenchError(f"haproxy -c: {check.stderr[-1500:]}")
        self.start("haproxy", ["haproxy", "-db", "-f", str(self.work / "haproxy.cfg")])
        self.wait_http(self.ports["haproxy"], name="HAProxy")
        self.wait_servers_up(("app1", "app2"))
        log(f"  HAProxy on 127.0.0.1:{self.ports['haproxy']} (round robin, /healthz every 0.5 s)")

    def haproxy_rows(self):
        """The rows of the `app` backend in HAProxy's `show stat` (its stats socket), by name."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.work / "haproxy.sock"))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        return {row["svname"]: row for row in rows if row["pxname"] == "app"}

    def haproxy_status(self):
        """{server name: status} (UP, DOWN, …)."""
        return {name: row["status"] for name, row in self.haproxy_rows().items() if name != "BACKEND"}

    def wait_idle(self, seconds=60):
        """Until HAProxy has no request in progress or queued (a run's last requests finished)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            backend = self.haproxy_rows()["BACKEND"]
            if int(backend["scur"] or 0) == 0 and int(backend["qcur"] or 0) == 0:
                return
            time.sleep(0.1)
        raise BenchError("HAProxy still has requests in progress a minute after the load stopped")

    def wait_servers_up(self, names, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = self.haproxy_status()
            if all(status.get(name, "").startswith("UP") for name in names):
                return status
            time.sleep(0.25)
        raise BenchError(f"HAProxy does not see {', '.join(names)} up: {self.haproxy_status()}")

    # -- the load -----------------------------------------------------------------------------

    def mixed_requests(self):
        """The benchmark's MIX, drawn once into a file of requests (wrk cycles through it)."""
        scenarios = self.bench.requests()
        names, weights = zip(*bench_run.MIX, strict=True)
        rng = random.Random(self.args.seed)
        requests = []
        for name in rng.choices(names, weights=weights, k=self.config["lines"]):
            request = scenarios[name][0](0)
            request.tag = name
            requests.append(request)
        return requests

    def replica_stat_scans(self):
        """Scans of the statistics tables counted by the replica itself (its own statistics)."""
        with self.connect(port=self.ports["replica"]) as conn:
            row = conn.execute(
                "SELECT COALESCE(sum(COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0)), 0) FROM pg_stat_user_tables "
                "WHERE relname = ANY(%s)",
                [list(STAT_TABLES)],
            ).fetchone()
        return int(row[0])

    def replication_lag(self):
        """Seconds behind, as the primary sees its replica (replay lag), and bytes not replayed."""
        with self.connect(dbname="postgres") as conn:
            row = conn.execute(
                "SELECT EXTRACT(EPOCH FROM replay_lag), pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) "
                "FROM pg_stat_replication ORDER BY backend_start DESC LIMIT 1"
            ).fetchone()
        return (
            float(row[0]) if row and row[0] is not None else 0.0,
            int(row[1]) if row and row[1] is not None else None,
        )

    def dossier_max_pk(self):
        with self.connect() as conn:
            return conn.execute("SELECT COALESCE(max(id), 0) FROM dossiers_dossier").fetchone()[0]

    def dossiers_after(self, pk):
        with self.connect() as conn:
            return conn.execute("SELECT count(*) FROM dossiers_dossier WHERE id > %s", [pk]).fetchone()[0]

    def run_phase(self, name, requests, action=None):
        """wrk for phase_seconds through HAProxy; `action` runs a third of the way in."""
        self.wait_idle()
        before_pk = self.dossier_max_pk()
        scans_before = self.replica_stat_scans() if self.replica_running else None
        outcome = {}

        def load():
            try:
                outcome["result"] = wrkload.run(
                    "127.0.0.1",
                    self.ports["haproxy"],
                    requests,
                    concurrency=self.concurrency,
                    duration=self.phase_seconds,
                    forwarded_for=True,
                )
            except Exception as exc:  # noqa: BLE001 - reported below
                outcome["error"] = exc

        thread = threading.Thread(target=load, daemon=True)
        thread.start()
        event = None
        if action is not None:
            time.sleep(self.phase_seconds / 3)
            event = action()
        lags = []
        while thread.is_alive():
            if self.replica_running:
                with contextlib.suppress(Exception):
                    lags.append(self.replication_lag()[0])
            thread.join(1.0)
        if "error" in outcome:
            raise BenchError(f"wrk in phase {name}: {outcome['error']}")
        result = outcome["result"]
        self.wait_idle()
        time.sleep(1.5)  # the replica's backends publish their table statistics within a second
        scans_after = self.replica_stat_scans() if self.replica_running else None
        created_db = self.dossiers_after(before_pk)
        phase = self.judge(
            result,
            created_db,
            interrupted_allowed=name == "app_killed",
            # The killed instance may die while sending a response (its headers already forwarded,
            # so HAProxy can no longer retry): wrk then sees the connection cut mid-response, a
            # "read" socket error. At most one such cut per request the instance held, and HAProxy
            # gives it no more than `maxconn` (= its workers) at a time.
            cuts_allowed=self.config["workers"] if name == "app_killed" else 0,
        )
        phase["event"] = event
        phase["replica_stat_scans"] = (
            None if scans_before is None or scans_after is None else scans_after - scans_before
        )
        phase["replication_lag_max_s"] = round(max(lags), 3) if lags else None
        self.report["phases"][name] = phase
        log(_phase_line(name, phase))
        return phase

    @staticmethod
    def judge(result, created_db, interrupted_allowed, cuts_allowed=0):
        """A phase's figures and verdicts from wrk's counts and the rows the database gained.

        Responses cut by the kill (wrk's "read" errors, at most `cuts_allowed`) are reported as
        `cut_responses`, apart from the other socket errors, which always fail the drill."""
        by_tag = {}
        unexpected = {}
        interrupted = 0
        for (tag, status), count in sorted(result.counts.items()):
            entry = by_tag.setdefault(tag, {"ok": 0, "statuses": {}})
            entry["statuses"][str(status)] = count
            if status in result.expected.get(tag, (200,)):
                entry["ok"] += count
            elif interrupted_allowed and tag == "create_dossier" and status in INTERRUPTED:
                interrupted += count
            else:
                unexpected[f"{tag} {status}"] = count
        socket_errors = dict(result.socket_errors)
        cut = min(socket_errors.get("read", 0), cuts_allowed)
        if cut:
            socket_errors["read"] -= cut
            socket_errors = {kind: count for kind, count in socket_errors.items() if count}
        created_ok = result.successes("create_dossier")
        lost = max(0, created_ok - created_db)
        unacknowledged = max(0, created_db - created_ok)
        # POSTs still in flight when wrk stopped: the server may finish them, nobody reads the answer.
        in_flight = result.pending.get("create_dossier", 0)
        return {
            "seconds": round(result.elapsed, 1),
            "requests": result.requests,
            "rps": round(result.rps, 1),
            "p50_ms": result.p50_ms,
            "p95_ms": result.p95_ms,
            "p99_ms": result.p99_ms,
            "unexpected": unexpected,
            "socket_errors": socket_errors,
            "cut_responses": cut,
            "interrupted_posts": interrupted,
            "created_acknowledged": created_ok,
            "created_in_database": created_db,
            "lost_writes": lost,
            "unacknowledged_writes": unacknowledged,
            "posts_in_flight_at_the_end": in_flight,
            "by_tag": by_tag,
        }

    def measure_floors(self):
        """The constant-JSON floor (bench/floor_views.py) with wrk, through HAProxy and straight to
        one instance: what this machine serves at that moment, to read the phases against."""
        floor = loadgen.Request("GET", "/bench/floor.json", {"Accept": "application/json"}, tag="constant_json")
        seconds = min(5.0, self.phase_seconds)
        floors = {}
        for name in ("haproxy", "app1"):
            result = wrkload.run("127.0.0.1", self.ports[name], [floor], concurrency=self.concurrency, duration=seconds)
            floors[f"constant_json_via_{name}"] = result.summary(self.concurrency)
            log(f"  floor constant JSON via {name:<8} {result.rps:8.1f} req/s, p50 {result.p50_ms} ms")
        self.report["floors"] = floors

    # -- the events -----------------------------------------------------------------------------

    def kill_app2(self):
        entry = next(e for e in self.processes.running if e[0] == "app2")
        process = entry[1]
        at = time.monotonic()
        os.killpg(process.pid, signal.SIGKILL)  # the master and its workers, without warning
        process.wait(10)
        seen = None
        while time.monotonic() - at < 10:
            if not self.haproxy_status().get("app2", "").startswith("UP"):
                seen = round(time.monotonic() - at, 2)
                break
            time.sleep(0.05)
        return {"killed": "app2 (gunicorn master and workers, SIGKILL)", "haproxy_marked_down_after_s": seen}

    def restart_app2(self):
        self.processes.stop("app2")
        self.start_app("app2")
        self.wait_http(self.ports["app2"], name="app2")
        self.wait_servers_up(("app1", "app2"))

    def stop_replica_event(self):
        at = time.monotonic()
        self.stop_replica("fast")
        return {"stopped": "replica (pg_ctl stop -m fast)", "took_s": round(time.monotonic() - at, 2)}

    def check_shared_media(self):
        """A file uploaded through HAProxy is downloaded from each instance directly."""
        token = {"Authorization": f"Token {self.bench.tokens[self.bench.desk_user]}"}
        code = self.bench.transition_pool[0] if self.bench.transition_pool else None
        if code is None:
            # The tiny data may hold no dossier waiting at the desk (it is dated from now): the
            # desk receives one through HAProxy, as the load does.
            make, _on_response = self.bench.requests()["create_dossier"]
            request = make(0)
            haproxy = self.ports["haproxy"]
            status, answer = http("127.0.0.1", haproxy, "POST", request.path, request.body, request.headers)
            if status != 201:
                return {"ok": False, "why": f"no dossier of the desk to attach to (creation → {status})"}
            code = json.loads(answer)["code"]
        content = PDF + f"% drill {time.time()}\n".encode()
        boundary = "motcua-drill-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="drill.pdf"\r\n'
                f"Content-Type: application/pdf\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {**token, "Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": "application/json"}
        path = f"/api/v1/dossiers/{urllib.parse.quote(code, safe='')}/attachments/"
        status, answer = http("127.0.0.1", self.ports["haproxy"], "POST", path, body, headers)
        if status != 201:
            return {"ok": False, "why": f"upload → {status} {answer[:200]!r}"}
        attachment = json.loads(answer)
        download = f"{path}{attachment['id']}/"
        seen = {}
        for name in ("app1", "app2"):
            got, data = http("127.0.0.1", self.ports[name], "GET", download, headers={**token, "Accept": "*/*"})
            seen[name] = got == 200 and data == content
        return {"ok": all(seen.values()), "downloaded_identical_from": seen, "bytes": len(content)}

    # -- the drill --------------------------------------------------------------------------------

    def run(self):
        started = time.perf_counter()
        log(
            f"Scale-out drill ({self.mode}): {self.bench.dossiers:,} dossiers, {self.phase_seconds:g} s per phase, "
            f"wrk with {self.concurrency} connections; work folder {self.work}"
        )
        self.bench.prepare_database()
        self.bench.setup_django()
        self.bench.prepare_fixtures()
        log("Starting the deployment")
        self.start_replica()
        self.start_pgbouncer()
        self.start_apps()
        self.start_haproxy()
        self.bench.port = self.ports["haproxy"]
        self.bench.fetch_tokens()
        # Lookups of dossiers the load created in an earlier run (--reuse) would miss: their PINs are
        # random, not bench_pin's.
        with self.connect() as conn:
            made = {
                c
                for (c,) in conn.execute(
                    "SELECT code FROM dossiers_dossier WHERE applicant_address = %s", [LOAD_ADDRESS]
                )
            }
        self.bench.lookups = [entry for entry in self.bench.lookups if entry[0] not in made]
        requests = self.mixed_requests()
        media = self.check_shared_media()
        self.report["checks"]["shared_media"] = media
        log(f"  shared media: {'ok' if media['ok'] else 'FAILED'} {media}")
        log(f"Warm-up ({min(5.0, self.phase_seconds):g} s), then {self.phase_seconds:g} s per phase")
        wrkload.run(
            "127.0.0.1",
            self.ports["haproxy"],
            requests,
            concurrency=self.concurrency,
            duration=min(5.0, self.phase_seconds),
            forwarded_for=True,
        )
        self.measure_floors()
        self.run_phase("steady", requests)
        self.run_phase("app_killed", requests, self.kill_app2)
        self.restart_app2()
        self.run_phase("replica_stopped", requests, self.stop_replica_event)
        self.report["seconds"] = round(time.perf_counter() - started, 1)
        return self.finish()

    def finish(self):
        phases = self.report["phases"]
        checks = self.report["checks"]
        checks["no_unexpected_status"] = all(not p["unexpected"] for p in phases.values())
        checks["no_socket_error"] = all(not p["socket_errors"] for p in phases.values())
        checks["no_lost_write"] = all(p["lost_writes"] == 0 for p in phases.values())
        checks["unacknowledged_writes_only_from_interrupted_posts"] = all(
            # A cut response may have been a creation's 201: its row is there, unacknowledged.
            p["unacknowledged_writes"] <= p["interrupted_posts"] + p["cut_responses"] + p["posts_in_flight_at_the_end"]
            for p in phases.values()
        )
        steady = phases.get("steady", {})
        checks["replica_served_statistics"] = bool(steady.get("replica_stat_scans"))
        lag = steady.get("replication_lag_max_s")
        checks["replication_lag_within_bound"] = lag is not None and lag <= self.args.max_lag
        killed = (phases.get("app_killed") or {}).get("event") or {}
        checks["haproxy_routed_around_the_killed_instance"] = killed.get("haproxy_marked_down_after_s") is not None
        for name in ("app_killed", "replica_stopped"):
            served = sum(t["ok"] for t in phases.get(name, {}).get("by_tag", {}).values())
            checks[f"{name}_kept_serving"] = served > 0
        stopped = phases.get("replica_stopped", {}).get("by_tag", {})
        checks["statistics_served_after_the_replica_stopped"] = all(
            stopped.get(tag, {}).get("ok", 0) > 0 for tag in REPLICA_TAGS if tag in stopped
        )
        checks["shared_media"] = checks["shared_media"]["ok"] if isinstance(checks["shared_media"], dict) else False
        self.report["passed"] = all(checks.values())
        self.report.update(
            date=datetime.now().astimezone().isoformat(timespec="seconds"),
            dossiers=self.bench.dossiers,
            phase_seconds=self.phase_seconds,
            concurrency=self.concurrency,
            max_lag_s=self.args.max_lag,
            machine={**self.bench.machine(), "load_generator": wrkload.version() or "wrk"},
            deployment={
                "primary": f"PostgreSQL on 127.0.0.1:{self.primary.port or 5432}",
                "replica": "pg_basebackup -R streaming replica, hot standby, hot_standby_feedback on",
                "pgbouncer": "transaction mode, default_pool_size 8",
                "app": f"2 gunicorn instances × {self.config['workers']} sync workers, one MEDIA_ROOT",
                "balancer": "HAProxy round robin, httpchk /healthz every 0.5 s, fall 2 rise 2, GET retried",
                "worker": "1 Celery worker (Redis broker), through PgBouncer",
                "mix": dict(bench_run.MIX),
            },
        )
        text = self.text()
        log("\n" + text)
        output = self.write(text)
        log(f"\nWrote {output} (+ .md)")
        print(json.dumps({"passed": self.report["passed"], "checks": checks}, ensure_ascii=False), flush=True)
        return 0 if self.report["passed"] else 1

    def text(self):
        lines = [
            f"Scale-out drill ({self.mode}), {self.bench.dossiers:,} dossiers, wrk c{self.concurrency}, "
            f"{self.phase_seconds:g} s per phase",
            f"{'phase':<16} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'unexp.':>6} {'intr.':>5} "
            f"{'201s':>5} {'in db':>5} {'lost':>4} {'replica scans':>13} {'lag s':>6}",
        ]
        for name, phase in self.report["phases"].items():
            lines.append(
                f"{name:<16} {phase['rps']:>8.1f} {_n(phase['p50_ms'])} {_n(phase['p95_ms'])} {_n(phase['p99_ms'])} "
                f"{sum(phase['unexpected'].values()) + sum(phase['socket_errors'].values()):>6} "
                f"{phase['interrupted_posts']:>5} {phase['created_acknowledged']:>5} "
                f"{phase['created_in_database']:>5} {phase['lost_writes']:>4} "
                f"{_n(phase['replica_stat_scans'], 13)} {_n(phase['replication_lag_max_s'], 6)}"
            )
            if phase.get("event"):
                lines.append(f"{'':<16} event: {phase['event']}")
            if phase["cut_responses"]:
                lines.append(f"{'':<16} responses cut by the kill (socket read errors): {phase['cut_responses']}")
            for key, count in phase["unexpected"].items():
                lines.append(f"{'':<16} unexpected: {key} × {count}")
        for key, floor in self.report.get("floors", {}).items():
            lines.append(f"floor {key}: {floor['rps']} req/s, p50 {floor['p50_ms']} ms, {floor['errors']} errors")
        lines.append("checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in self.report["checks"].items()))
        lines.append("PASSED" if self.report["passed"] else "FAILED")
        return "\n".join(lines)

    def markdown(self):
        lines = [
            f"# Scale-out drill, {self.report['date']}",
            "",
            f"Mode {self.mode}: {self.bench.dossiers:,} dossiers, wrk with {self.concurrency} connections, "
            f"{self.phase_seconds:g} s per phase, machine {self.report['machine'].get('cpus')} cores "
            f"(load average at the end {self.report['machine'].get('load_average')}).",
            "",
            "| phase | req/s | p50 ms | p95 ms | p99 ms | unexpected | interrupted POSTs | cut responses | 201s "
            "| new rows | lost "
            "| replica scans of the statistics tables | max replay lag s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, p in self.report["phases"].items():
            lines.append(
                f"| {name} | {p['rps']} | {p['p50_ms']} | {p['p95_ms']} | {p['p99_ms']} | "
                f"{sum(p['unexpected'].values()) + sum(p['socket_errors'].values())} | {p['interrupted_posts']} | "
                f"{p['cut_responses']} | "
                f"{p['created_acknowledged']} | {p['created_in_database']} | {p['lost_writes']} | "
                f"{_md(p['replica_stat_scans'])} | {_md(p['replication_lag_max_s'])} |"
            )
        floors = self.report.get("floors", {})
        lines += [""] + [
            f"Floor {key} (c{f['concurrency']}): {f['rps']} req/s, p50 {f['p50_ms']} ms." for key, f in floors.items()
        ]
        lines += [
            "",
            "Checks: " + ", ".join(f"{k}: {'ok' if v else 'FAILED'}" for k, v in self.report["checks"].items()),
        ]
        lines += ["", f"**{'PASSED' if self.report['passed'] else 'FAILED'}**", ""]
        return "\n".join(lines)

    def write(self, text):
        folder = Path(self.args.results_dir) if self.args.results_dir else ROOT / "bench" / "results"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = "-scaleout" + ("-smoke" if self.mode == "smoke" else "")
        output = folder / f"{date.today().isoformat()}{suffix}.json"
        output.write_text(json.dumps(self.report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        output.with_suffix(".md").write_text(self.markdown(), encoding="utf-8")
        return output

    def cleanup(self):
        self.processes.stop()
        with contextlib.suppress(Exception):
            self.stop_replica("immediate")
        with contextlib.suppress(Exception):
            self.restore_hba()
        if self.args.drop:
            with contextlib.suppress(Exception):
                self.bench.drop_database()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)


def http(host, port, method, path, body=None, headers=None, timeout=30):
    import http.client

    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _n(value, width=8):
    return (
        f"{'-':>{width}}"
        if value is None
        else f"{value:>{width}.1f}"
        if isinstance(value, float)
        else f"{value:>{width}}"
    )


def _md(value):
    return "–" if value is None else str(value)


def _phase_line(name, phase):
    errors = sum(phase["unexpected"].values()) + sum(phase["socket_errors"].values())
    return (
        f"  {name:<16} {phase['rps']:8.1f} req/s, p95 {phase['p95_ms']} ms, {errors} unexpected, "
        f"{phase['interrupted_posts']} interrupted POSTs, {phase['cut_responses']} cut responses, "
        f"{phase['created_acknowledged']} created / "
        f"{phase['created_in_database']} in the database, replica scans {phase['replica_stat_scans']}"
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="300 dossiers, 6 s per phase (CI)")
    parser.add_argument("--phase-seconds", type=float, help="seconds of load per phase")
    parser.add_argument("--concurrency", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--max-lag", type=float, default=30.0, help="REPLICA_MAX_LAG_SECONDS of the drill (default 30)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SCALEOUT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/motcua_bench_scaleout"),
        help="the drill's database on the primary, DROPPED and recreated (its name must contain 'bench')",
    )
    parser.add_argument("--redis-url", default=os.environ.get("SCALEOUT_REDIS_URL", "redis://127.0.0.1:6379/12"))
    parser.add_argument("--reuse", action="store_true", help="keep an existing drill database and its data")
    parser.add_argument("--drop", action="store_true", help="drop the drill database at the end")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work-dir", help="temporary folder (default: a new one under /tmp); removed at the end")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, configurations)")
    parser.add_argument("--results-dir", help="folder for the report (default bench/results)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, bench_run._sigterm)
    drill = None
    try:
        drill = Drill(args)
        return drill.run()
    except BenchError as exc:
        log(f"scaleout: {exc}")
        return 2
    except KeyboardInterrupt:
        log("scaleout: interrupted")
        return 130
    finally:
        if drill is not None:
            drill.cleanup()


if __name__ == "__main__":
    sys.exit(main())
