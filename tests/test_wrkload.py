"""Debian's wrk as the benchmark's load generator (bench/wrkload.py, bench/wrk.lua): the requests
file goes out as written, statuses are counted per scenario, and the scale-out drill's verdict on a
phase (bench/scaleout.py) tells lost writes from interrupted ones. Real wrk against a real HTTP
server on the loopback interface; skipped where wrk is not installed (scripts/scaleout.sh installs it)."""

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import loadgen, wrkload
from bench.scaleout import Drill

pytestmark = pytest.mark.slow
# A JSON escape (backslash n), a real line break, a tab and a backslash: all must arrive as sent.
BODY = b'{"a": "x\\ny\\\\z"}\n\t'
needs_wrk = pytest.mark.skipif(not wrkload.available(), reason="wrk is not installed (apt-get install wrk)")


class Handler(BaseHTTPRequestHandler):
    seen = Counter()

    def _answer(self, status, body=b"{}"):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's name
        forwarded = self.headers.get("X-Forwarded-For", "")
        Handler.seen["forwarded" if forwarded.startswith("10.") else "direct"] += 1
        self._answer(200 if self.path == "/ok" else 404)

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ok = self.headers.get("Authorization") == "Token t" and body == BODY
        self._answer(201 if ok else 400)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@needs_wrk
def test_wrk_sends_the_file_and_counts_statuses_per_tag(server):
    Handler.seen.clear()
    requests = [
        loadgen.Request("GET", "/ok", {"Accept": "application/json"}, tag="page"),
        loadgen.Request("POST", "/create", {"Authorization": "Token t"}, BODY, expect=(201,), tag="create"),
        loadgen.Request("GET", "/missing", tag="broken"),
    ]

    result = wrkload.run("127.0.0.1", server, requests, concurrency=2, duration=1, forwarded_for=True)

    assert result.requests > 30
    assert result.successes("page") > 0
    assert result.successes("create") > 0  # headers and body (with its line break) arrived intact
    assert set(result.counts) <= {("page", 200), ("create", 201), ("broken", 404)}
    assert result.errors_of("broken") == result.counts[("broken", 404)] > 0
    assert result.errors_of("page") == result.errors_of("create") == 0
    assert Handler.seen["forwarded"] > 0 and Handler.seen["direct"] == 0
    assert result.p50_ms is not None and result.rps > 0


def test_wrk_targets_the_loopback_interface_only():
    with pytest.raises(ValueError, match="loopback"):
        wrkload.run("192.0.2.1", 80, [loadgen.Request("GET", "/")], concurrency=1, duration=1)


def phase(counts, pending=None):
    result = wrkload.WrkResult(expected={"lookup": (200,), "create_dossier": (201,)})
    result.counts.update(counts)
    result.pending.update(pending or {})
    return result


def test_a_created_dossier_missing_from_the_database_is_a_lost_write():
    verdict = Drill.judge(phase({("create_dossier", 201): 5, ("lookup", 200): 90}), 4, interrupted_allowed=False)

    assert verdict["lost_writes"] == 1
    assert verdict["unexpected"] == {}


def test_a_post_cut_by_the_kill_is_interrupted_only_in_the_kill_phase():
    counts = {("create_dossier", 201): 3, ("create_dossier", 502): 1, ("lookup", 200): 50, ("lookup", 503): 2}

    killed = Drill.judge(phase(counts), 4, interrupted_allowed=True)
    steady = Drill.judge(phase(counts), 4, interrupted_allowed=False)

    assert killed["interrupted_posts"] == 1
    assert killed["unexpected"] == {"lookup 503": 2}  # a GET is retried by the balancer: never expected
    assert killed["lost_writes"] == 0 and killed["unacknowledged_writes"] == 1
    assert steady["unexpected"] == {"create_dossier 502": 1, "lookup 503": 2}


def test_a_post_still_in_flight_when_wrk_stopped_is_counted():
    verdict = Drill.judge(phase({("create_dossier", 201): 2}, {"create_dossier": 1}), 3, interrupted_allowed=False)

    assert verdict["unacknowledged_writes"] == 1
    assert verdict["posts_in_flight_at_the_end"] == 1


def test_responses_cut_by_the_kill_are_allowed_up_to_the_killed_instances_workers():
    cut = phase({("lookup", 200): 40})
    cut.socket_errors.update({"read": 3, "connect": 1})

    killed = Drill.judge(cut, 0, interrupted_allowed=True, cuts_allowed=2)
    steady = Drill.judge(cut, 0, interrupted_allowed=False)

    assert killed["cut_responses"] == 2
    assert killed["socket_errors"] == {"read": 1, "connect": 1}  # the rest still fails the drill
    assert steady["cut_responses"] == 0
    assert steady["socket_errors"] == {"read": 3, "connect": 1}
