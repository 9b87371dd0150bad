"""End to end with a real Redis broker, real `celery worker` processes and a real web server
process: reminders and notifications are never lost and never sent twice.

Needs PostgreSQL (the subprocesses connect to pytest-django's test database, so the tests
commit: `django_db(transaction=True)`) and a reachable Redis (REDIS_URL; its database is
flushed at the start of each test, so give these tests their own number):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/motcua_h10 REDIS_URL=redis://127.0.0.1:6379/10 \\
        .venv/bin/pytest tests/dossiers/test_celery_integration.py

The receivers count what arrives: e-mails through `dossiers.mail.IdempotentFileEmailBackend`
(one file per Message-ID, plus `sent.log` listing every hand-over) and SMS through a local HTTP
gateway recording every request's idempotency key.
"""

import ast
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from email import message_from_bytes
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from notifications import delivery, mail
from notifications.models import Notification, NotificationChannel, Reminder, ReminderPolicy
from notifications.tasks import deliver_notifications, run_tick, scan_deadlines, tick
from procedures import deadlines
from tests.factories import Office, vn

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)
CELERY = str(Path(sys.executable).with_name("celery"))
REDIS_URL = os.environ.get("REDIS_URL", "")
WAIT = 40  # seconds: the longest any single wait may take before the test fails


# --- Receivers and processes ------------------------------------------------------------------


class Gateway:
    """An SMS gateway on 127.0.0.1: records every request's idempotency key, answers 200 after
    `delay` seconds (so a batch can be made slow enough to kill a worker in the middle)."""

    def __init__(self):
        self.keys = []
        self.delay = 0.0
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with gateway.lock:
                    gateway.keys.append(body["idempotency_key"])
                time.sleep(gateway.delay)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self):
        with self.lock:
            return Counter(self.keys)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Infra:
    def __init__(self, tmp_path, gateway):
        self.tmp_path = tmp_path
        self.gateway = gateway
        self.mail_dir = tmp_path / "mail"
        self.processes = []
        self.cleanup = []
        db = connection.settings_dict
        database_url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url,
            "CONN_MAX_AGE": "0",
            "REDIS_URL": REDIS_URL,
            "EMAIL_BACKEND": "notifications.mail.IdempotentFileEmailBackend",
            "EMAIL_FILE_PATH": str(self.mail_dir),
            "SMS_BACKEND": "notifications.sms.HTTPSMSBackend",
            "SMS_GATEWAY_URL": gateway.url,
            "SMS_GATEWAY_TIMEOUT": "10",
            "PYTHONUNBUFFERED": "1",
        }

    def _spawn(self, name, args, env):
        log = self.tmp_path / f"{name}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            args, cwd=BASE_DIR, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        process.log = log
        self.processes.append(process)
        return process

    def start_worker(self, name="worker"):
        """A real `celery -A motcua worker` (solo pool, late acks) on the test database."""
        process = self._spawn(
            name,
            [CELERY, "-A", "motcua", "worker", "--pool", "solo", "--loglevel", "INFO", "-n", f"{name}-%i@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            self.env,
        )  # fmt: skip
        wait_for(lambda: b" ready." in process.log.read_bytes() or process.poll() is not None, f"{name} to start")
        assert process.poll() is None, process.log.read_text()
        return process

    def start_web(self, env_overrides):
        port = free_port()
        process = self._spawn(
            "web",
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            {**self.env, **env_overrides},
        )
        process.base = f"http://127.0.0.1:{port}"

        def up():
            try:
                with urllib.request.urlopen(f"{process.base}/healthz", timeout=5) as response:  # noqa: S310
                    process.health = json.loads(response.read())
                    return True
            except OSError:
                return process.poll() is not None

        wait_for(up, "the web server to start")
        assert process.poll() is None, process.log.read_text()
        return process

    def task_results(self, process, task):
        """Return values of `task` that `process` logged as succeeded."""
        pattern = re.compile(rf"Task {re.escape(task)}\[[^\]]+\] succeeded in [\d.]+s: (.*)$", re.M)
        return [ast.literal_eval(m) for m in pattern.findall(process.log.read_text(errors="replace"))]

    def mail_sends(self):
        """Message-ID → number of hand-overs to the mail backend."""
        journal = self.mail_dir / mail.JOURNAL
        return Counter(journal.read_text().split()) if journal.exists() else Counter()

    def mail_files(self):
        return {
            message_from_bytes(p.read_bytes(), policy=email_policy.default)["Message-ID"]: p
            for p in self.mail_dir.glob("*.eml")
        }

    def stop_all(self):
        # SIGKILL: everything the tests check is already in the database and the receivers, and
        # the next test flushes the Redis database.
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture
def infra(transactional_db, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip(
            "Needs PostgreSQL: the worker subprocesses must see the test database (set DATABASE_URL=postgres://…)."
        )
    if not REDIS_URL:
        pytest.skip("Needs a real Redis broker: set REDIS_URL (e.g. redis://127.0.0.1:6379/10).")
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"REDIS_URL is set but Redis is not reachable: {exc}")
    client.flushdb()  # leftovers of an earlier run (e.g. unacked messages of a killed worker)
    client.close()
    gateway = Gateway()
    infra = Infra(tmp_path, gateway)
    try:
        yield infra
    finally:
        infra.stop_all()
        for close in infra.cleanup:
            close()
        gateway.close()
        connections.close_all()


def outbox(**filters):
    return Notification.objects.exclude(channel=NotificationChannel.IN_APP).filter(**filters)


def assert_each_delivered_exactly_once(infra):
    """0 lost, 0 duplicated, as the receivers count it."""
    rows = list(outbox())
    assert rows and all(row.state == Notification.State.SENT for row in rows)
    emails = {delivery.message_id(row) for row in rows if row.channel == NotificationChannel.EMAIL}
    sms = {row.dedupe_key for row in rows if row.channel == NotificationChannel.SMS}
    assert set(infra.mail_files()) == emails
    assert set(infra.gateway.received()) == sms
    return emails, sms


# --- (a) one e-mail per reminder, none on a second scan ---------------------------------------


def test_due_soon_dossier_gives_exactly_one_email_and_a_second_scan_none(infra):
    office = Office(days="1")
    office.reception.email = "tiepnhan@example.com"
    office.reception.save()
    # Received Mon 2/3 16:00 (after the 15:00 transfer cut-off), 1 working day → due Tue 3/3 17:00.
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 16, 0))
    assert dossier.due_at == vn(2026, 3, 3, 17, 0)
    worker = infra.start_worker()

    scan_deadlines.apply_async(kwargs={"now": vn(2026, 3, 2, 16, 30).isoformat()})
    wait_for(lambda: len(infra.task_results(worker, "dossiers.tasks.scan_deadlines")) == 1, "the first scan")

    [reminder] = Reminder.objects.all()
    assert (reminder.dossier_id, reminder.kind) == (dossier.pk, "due_soon")
    sends = infra.mail_sends()
    reminder_mails = [mid for mid in sends if mid.startswith("<reminder.")]
    assert len(reminder_mails) == 1 and sends[reminder_mails[0]] == 1
    stored = message_from_bytes(infra.mail_files()[reminder_mails[0]].read_bytes(), policy=email_policy.default)
    assert stored["To"] == "tiepnhan@example.com"
    assert stored["Subject"].strip().startswith(f"Hồ sơ {dossier.code} sắp đến hạn")
    # The citizen's receipt and the officer's morning digest went too, once each.
    assert sorted(mid.split(".")[0] for mid in sends) == ["<citizen", "<digest", "<reminder"]
    assert set(sends.values()) == {1}
    before = (Counter(sends), Reminder.objects.count(), Notification.objects.count(), infra.gateway.received())

    # The same scan again (a re-delivered task, a second beat) and a later one: nothing new.
    scan_deadlines.apply_async(kwargs={"now": vn(2026, 3, 2, 16, 30).isoformat()})
    scan_deadlines.apply_async(kwargs={"now": vn(2026, 3, 2, 16, 45).isoformat()})
    wait_for(lambda: len(infra.task_results(worker, "dossiers.tasks.scan_deadlines")) == 3, "two more scans")
    assert (
        infra.task_results(worker, "dossiers.tasks.scan_deadlines")[1:]
        == [{"reminders": 0, "closed": 0, "digests": 0, "sent": 0, "failed": 0}] * 2
    )
    after = (infra.mail_sends(), Reminder.objects.count(), Notification.objects.count(), infra.gateway.received())
    assert after == before
    assert_each_delivered_exactly_once(infra)


# --- (b) broker down: requests stay fast, nothing is lost -----------------------------------------


class Browser:
    """A minimal logged-in HTTP client for the web server process (cookies + CSRF)."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def csrf(self):
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def request(self, path, data=None):
        body = None
        if data is not None:
            body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self.csrf()}).encode()
        request = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + path})  # noqa: S310
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        return status, time.perf_counter() - started

    def login(self, username):
        self.request("/dang-nhap/")
        status, _elapsed = self.request("/dang-nhap/", {"username": username, "password": "motcua-demo"})
        assert status == 302, "login failed"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_with_the_broker_down_transitions_stay_fast_and_every_notification_arrives_later(infra):
    office = Office()
    # Dossiers are received now (the web server's clock is the real one); the citizen's
    # receipt notifications are outbox rows like any other.
    dossiers = [office.receive(applicant_email=f"dan{i}@example.com")[0] for i in range(3)]

    # A hung Redis: the port accepts connections and never answers (worse than a closed port,
    # where a client fails at once): any broker or cache call from a request would block.
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    infra.cleanup.append(hung.close)
    web = infra.start_web({"REDIS_URL": f"redis://127.0.0.1:{hung.getsockname()[1]}/0"})
    assert web.health["status"] == "degraded" and web.health["broker"]["ok"] is False

    reception, specialist, leader = Browser(web.base), Browser(web.base), Browser(web.base)
    reception.login(office.reception.username)
    specialist.login(office.specialist.username)
    leader.login(office.leader.username)
    timings = []
    for dossier in dossiers:
        act = f"/can-bo/ho-so/{dossier.code}/hanh-dong/"
        timings.append(reception.request(act + "assign/", {"assignee": office.specialist.username}))
        timings.append(specialist.request(act + "propose_result/", {"result": "Cấp giấy khai sinh"}))
        timings.append(leader.request(act + "approve/", {}))
    extra, _pin = office.receive(applicant_email="dan9@example.com")
    act = f"/can-bo/ho-so/{extra.code}/hanh-dong/"
    timings.append(reception.request(act + "assign/", {"assignee": office.specialist.username}))
    # A working day (Art. 19.6: the new date is a working day; a weekend date is refused).
    new_due = deadlines.get_calendar().add_working_days(timezone.localdate(extra.due_at), 7).strftime("%d/%m/%Y")
    timings.append(specialist.request(act + "extend/", {"comment": "Cần xác minh", "new_due_at": new_due}))

    assert [status for status, _t in timings] == [302] * len(timings)
    # A publish to the hung broker would block for at least the broker connection timeout
    # (CELERY_BROKER_CONNECTION_TIMEOUT, 2 s); the transitions take a fraction of a second
    # (the bounds leave room for a busy 2-core CI machine).
    elapsed = sorted(t for _s, t in timings)
    assert elapsed[len(elapsed) // 2] < 0.5 and elapsed[-1] < settings.CELERY_BROKER_CONNECTION_TIMEOUT, timings
    written = {row.dedupe_key: row.state for row in outbox()}
    # receipt ×4, result ready ×3, extension ×1; each by e-mail and SMS; all waiting for delivery.
    kinds = Counter(key.split(":")[0] for key in written)
    assert kinds == {"citizen.received": 8, "citizen.result_ready": 6, "citizen.extended": 2}
    assert set(written.values()) == {"pending"}

    # Redis is back: a worker takes the next tick (as beat sends it every minute).
    worker = infra.start_worker()
    tick.apply_async()
    wait_for(lambda: not outbox(state="pending").exists(), "every notification to be delivered")
    wait_for(lambda: infra.task_results(worker, "dossiers.tasks.tick"), "the tick to finish")
    emails, sms = assert_each_delivered_exactly_once(infra)
    assert set(written) == set(outbox().values_list("dedupe_key", flat=True))  # 0 lost
    assert len(emails) == len(sms) == 8
    assert set(infra.mail_sends().values()) == {1}  # 0 duplicated
    assert set(infra.gateway.received().values()) == {1}


# --- (c) a worker killed in the middle of a batch ---------------------------------------------


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(infra):
    office = Office()
    for i in range(15):
        office.receive(now=vn(2026, 3, 2, 9, 0), applicant_email=f"dan{i}@example.com")
    assert outbox(state="pending").count() == 30
    infra.gateway.delay = 0.25  # a slow SMS gateway: the batch takes several seconds
    when = vn(2026, 3, 2, 9, 5).isoformat()

    first = infra.start_worker("first")
    deliver_notifications.apply_async(kwargs={"now": when})
    wait_for(lambda: sum(infra.gateway.received().values()) >= 5, "the batch to be under way")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    in_flight_at_kill = list(infra.gateway.keys)
    done = outbox(state="sent").count()
    assert 0 < done < 30, "the worker must die in the middle of the batch"

    infra.gateway.delay = 0
    second = infra.start_worker("second")
    # The killed task's message stays unacked in Redis (redelivered after the visibility
    # timeout); the next tick delivers the rows anyway: the database is the schedule.
    deliver_notifications.apply_async(kwargs={"now": when})
    wait_for(lambda: not outbox(state="pending").exists(), "the rest of the batch")
    wait_for(lambda: infra.task_results(second, "dossiers.tasks.deliver_notifications"), "the task to finish")

    emails, sms = assert_each_delivered_exactly_once(infra)
    assert len(emails) == len(sms) == 15
    # At least once on the wire: only the one message in flight when the worker died may have
    # reached a receiver twice, and the receiver kept one copy (file per Message-ID, key set).
    repeated = [k for k, n in (infra.gateway.received() + infra.mail_sends()).items() if n > 1]
    assert len(repeated) <= 1
    assert all(infra.gateway.received()[k] == 2 and k == in_flight_at_kill[-1] for k in repeated if ":" in k)
    assert len(list(infra.mail_dir.glob("*.eml"))) == 15


# --- (d) two beats at once ------------------------------------------------------------------------


def test_two_ticks_at_the_same_moment_claim_the_scan_once_and_duplicate_nothing(infra):
    office = Office()
    for _ in range(3):
        dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))
        office.act(dossier, "assign", now=vn(2026, 3, 2, 9, 5), assignee=office.specialist.username)
    ReminderPolicy.get()
    now = vn(2026, 3, 5, 14, 0).isoformat()  # due Thu 11:30: overdue, and the step deadline passed

    # Two worker processes each take a tick, as if two beat processes had sent one each.
    workers = [infra.start_worker(f"w{i}") for i in range(2)]
    tick.apply_async(kwargs={"now": now})
    tick.apply_async(kwargs={"now": now})

    def results():
        return [r for w in workers for r in infra.task_results(w, "dossiers.tasks.tick")]

    wait_for(lambda: len(results()) == 2, "both ticks")
    assert sorted("scan" in r for r in results()) == [False, True]  # one scan claim
    assert sorted(r.get("scan", 0) for r in results()) == [0, 6]
    assert Reminder.objects.count() == 6  # overdue + step overdue for 3 dossiers

    # And four ticks in threads at exactly the same moment, 15 minutes later (the next slot).
    later = vn(2026, 3, 5, 14, 15)
    barrier = threading.Barrier(4)
    outcomes = []

    def beat():
        try:
            barrier.wait(timeout=30)
            outcomes.append(run_tick(later))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=beat) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted("scan" in r for r in outcomes) == [False, False, False, True]
    assert Reminder.objects.count() == 6
    assert Reminder.objects.values("dossier", "kind", "threshold").distinct().count() == 6
    assert Notification.objects.values("dedupe_key").distinct().count() == Notification.objects.count()
