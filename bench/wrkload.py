"""Debian's wrk as the load generator (issue 20): a compiled, event-driven client that takes a
fraction of the CPU the asyncio generator (bench/loadgen.py) needs, so on a 2-core machine the
server gets the cores. bench/wrk.lua sends the requests of a file this module writes and counts
the statuses per scenario tag.

    result = wrkload.run("127.0.0.1", 8000, [loadgen.Request(...), ...], concurrency=16, duration=10)

`requests` is a list of `bench.loadgen.Request` (their `tag` names the scenario; their `expect`
statuses are the successes); the file holds them in that order and each wrk thread walks it from a
random start. Only loopback targets are accepted.
"""

import json
import math
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

LUA = Path(__file__).resolve().with_name("wrk.lua")
SEPARATOR = "\x1f"


def available():
    return shutil.which("wrk") is not None


def version():
    if not available():
        return None
    completed = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    return (
        (completed.stdout or completed.stderr).strip().splitlines()[0]
        if (completed.stdout or completed.stderr)
        else "wrk"
    )


@dataclass
class WrkResult:
    """The same shape of summary as bench.loadgen.Result.summary, from wrk's own percentiles."""

    requests: int = 0
    elapsed: float = 0.0
    p50_ms: float = None
    p95_ms: float = None
    p99_ms: float = None
    socket_errors: dict = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)  # (tag, status) → responses
    pending: Counter = field(default_factory=Counter)  # tag → requests still unanswered at the end
    expected: dict = field(default_factory=dict)  # tag → statuses counted as successes

    @property
    def statuses(self):
        total = Counter()
        for (_tag, status), count in self.counts.items():
            total[status] += count
        return total

    def errors_of(self, tag=None):
        """Responses with an unexpected status (of one tag, or all) plus, for all, socket errors."""
        bad = sum(
            count
            for (each, status), count in self.counts.items()
            if (tag is None or each == tag) and status not in self.expected.get(each, (200,))
        )
        return bad + (sum(self.socket_errors.values()) if tag is None else 0)

    def successes(self, tag):
        return sum(
            c for (each, status), c in self.counts.items() if each == tag and status in self.expected.get(each, ())
        )

    @property
    def errors(self):
        return self.errors_of()

    # The attributes bench/run.py records of a loadgen.Result.
    exhausted = False

    @property
    def count(self):
        return sum(self.successes(tag) for tag in self.expected)

    @property
    def error_samples(self):
        samples = [
            f"{tag} → {status} × {count}"
            for (tag, status), count in sorted(self.counts.items())
            if status not in self.expected.get(tag, (200,))
        ]
        return samples[:5] + [f"socket {kind} × {count}" for kind, count in self.socket_errors.items()]

    @property
    def rps(self):
        return self.requests / self.elapsed if self.elapsed else 0.0

    def summary(self, concurrency, queries=None):
        return {
            "concurrency": concurrency,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "p99_ms": self.p99_ms,
            "rps": round(self.rps, 1),
            "errors": self.errors,
            "queries": queries,
        }


def write_requests(requests, path):
    lines = []
    for request in requests:
        for part in (request.tag, request.method, request.path):
            if any(c in part for c in "\t\r\n"):
                raise ValueError(f"tabs and line breaks cannot go into wrk's request file: {part!r}")
        headers = SEPARATOR.join(f"{name}: {value}" for name, value in request.headers.items())
        body = request.body.decode("utf-8") if request.body else ""
        # One line per request: backslash, line feed, CR and tab escaped (bench/wrk.lua unescapes).
        body = body.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
        lines.append("\t".join((request.tag or request.path, request.method, request.path, headers, body)))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(host, port, requests, *, concurrency, duration, timeout=30, forwarded_for=False, warmup=0.0):
    """Run wrk for `duration` seconds with `concurrency` connections (one per thread) against
    http://host:port and return a WrkResult. Raises RuntimeError when wrk is missing or fails."""
    if not host.startswith("127.") and host != "localhost":
        raise ValueError(f"the load generator targets the loopback interface only, not {host}")
    if not available():
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    requests = list(requests)
    expected = {}
    for request in requests:
        # A tag may mix requests with different expected statuses (the mixed load's creations: 201).
        tag = request.tag or request.path
        expected[tag] = tuple(dict.fromkeys((*expected.get(tag, ()), *request.expect)))
    with tempfile.TemporaryDirectory(prefix="motcua-wrk-") as folder:
        file = Path(folder) / "requests.tsv"
        write_requests(requests, file)
        if warmup > 0:
            _wrk(host, port, file, concurrency, warmup, timeout, forwarded_for)
        started = time.perf_counter()
        report = _wrk(host, port, file, concurrency, duration, timeout, forwarded_for)
        wall = time.perf_counter() - started
    result = WrkResult(expected=expected)
    result.requests = report["requests"]
    result.elapsed = report["duration_us"] / 1e6 or wall
    if result.requests:
        result.p50_ms, result.p95_ms, result.p99_ms = (
            round(report[k] / 1000, 2) for k in ("p50_us", "p95_us", "p99_us")
        )
    result.socket_errors = {k: v for k, v in report["socket_errors"].items() if v}
    result.pending.update(report.get("pending", {}))
    for key, count in report["counts"].items():
        tag, _sep, status = key.rpartition(" ")
        result.counts[(tag, int(status))] += count
    return result


def _wrk(host, port, file, concurrency, duration, timeout, forwarded_for):
    seconds = max(1, math.ceil(duration))
    argv = ["wrk", "-t", str(concurrency), "-c", str(concurrency), "-d", f"{seconds}s", "--timeout", f"{timeout}s"]
    argv += ["--latency", "-s", str(LUA), f"http://{host}:{port}", "--", str(file)]
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "WRK_FORWARDED_FOR": "1" if forwarded_for else "0"}
    completed = subprocess.run(  # noqa: S603 - fixed argv, loopback target checked above
        argv, capture_output=True, text=True, env=env, timeout=seconds + timeout + 30, check=False
    )
    match = re.search(r"^WRKJSON (\{.*\})$", completed.stdout, re.MULTILINE)
    if completed.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed (exit {completed.returncode}): {(completed.stderr or completed.stdout)[-800:]}")
    return json.loads(match.group(1))
