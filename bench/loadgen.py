"""A small HTTP/1.1 load generator on asyncio streams (standard library only).

Closed loop: `concurrency` virtual users each send a request, wait for the whole response, and send
the next one, for `duration` seconds. Each virtual user keeps its connection open while the server
allows it (gunicorn's sync workers close it after every response, as they do in production, so a
request then includes its TCP connect on the loopback interface).

On a loopback target each virtual user binds its own source address (127.0.0.2, 127.0.0.3, …): the
server sees 16 citizens, not one, which matters for per-address throttling (the public lookup).

Latency is measured from just before connecting/sending to the last byte of the body. Only
responses with an expected status count as successes; everything else (other statuses, timeouts,
resets) counts as an error and is kept out of the latency percentiles.
"""

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    path: str
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    expect: tuple = (200,)
    tag: str = ""


@dataclass
class Result:
    latencies: list = field(default_factory=list)  # seconds, successful requests only
    errors: int = 0
    statuses: Counter = field(default_factory=Counter)
    elapsed: float = 0.0
    error_samples: list = field(default_factory=list)
    exhausted: bool = False  # the scenario ran out of work (e.g. no dossier left to assign)

    @property
    def count(self):
        return len(self.latencies)

    def percentile(self, q):
        """Nearest-rank percentile in milliseconds, None without data."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1] * 1000

    @property
    def rps(self):
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self, concurrency, queries=None):
        """The issue's result shape (milliseconds, rounded)."""
        return {
            "concurrency": concurrency,
            "p50_ms": _round(self.percentile(50)),
            "p95_ms": _round(self.percentile(95)),
            "p99_ms": _round(self.percentile(99)),
            "rps": round(self.rps, 1),
            "errors": self.errors,
            "queries": queries,
        }


def _round(value):
    return None if value is None else round(value, 2)


class HTTPError(Exception):
    pass


class _Connection:
    def __init__(self, host, port, local_host):
        self.host, self.port, self.local_host = host, port, local_host
        self.reader = self.writer = None

    async def open(self):
        local = (self.local_host, 0) if self.local_host else None
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, local_addr=local)

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def send(self, request, host_header):
        reused = self.writer is not None
        if not reused:
            await self.open()
        head = [f"{request.method} {request.path} HTTP/1.1", f"Host: {host_header}", "User-Agent: motcua-bench"]
        head += [f"{name}: {value}" for name, value in request.headers.items()]
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(request.body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + request.body)
        try:
            return await self._read()
        except (ConnectionError, asyncio.IncompleteReadError, HTTPError):
            if not reused:
                raise
            # The server closed a kept-alive connection in between: retry once on a new one.
            self.close()
            await self.open()
            self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + request.body)
            return await self._read()

    async def _read(self):
        line = await self.reader.readline()
        if not line:
            raise HTTPError("connection closed before the status line")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise HTTPError(f"bad status line {line[:60]!r}")
        version, status = parts[0], int(parts[1])
        headers = {}
        while True:
            header = await self.reader.readline()
            if header in (b"\r\n", b"\n", b""):
                break
            name, _sep, value = header.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = await self._chunked()
        else:
            body = await self.reader.read()
            headers[b"connection"] = b"close"
        if headers.get(b"connection", b"").lower() == b"close" or version == b"HTTP/1.0":
            self.close()
        return status, headers, body

    async def _chunked(self):
        chunks = []
        while True:
            size = int((await self.reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(await self.reader.readexactly(size))
            await self.reader.readline()


def source_address(index, host):
    """A distinct loopback source address per virtual user (127.0.0.2 …), only for loopback targets."""
    if not host.startswith("127."):
        return None
    return f"127.0.{(index + 2) // 250}.{(index + 2) % 250 or 1}"


async def _user(index, host, port, make_request, on_response, deadline, result, timeout, record):
    connection = _Connection(host, port, source_address(index, host))
    host_header = f"{host}:{port}"
    try:
        while time.perf_counter() < deadline:
            request = make_request(index)
            if request is None:
                result.exhausted = True
                return
            started = time.perf_counter()
            try:
                status, _headers, body = await asyncio.wait_for(connection.send(request, host_header), timeout)
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, HTTPError, ValueError) as exc:
                connection.close()
                if record:
                    result.errors += 1
                    result.statuses[type(exc).__name__] += 1
                    if len(result.error_samples) < 5:
                        result.error_samples.append(f"{request.method} {request.path[:80]}: {type(exc).__name__} {exc}")
                continue
            elapsed = time.perf_counter() - started
            if on_response is not None:
                on_response(request, status, body)
            if not record:
                continue
            result.statuses[status] += 1
            if status in request.expect:
                result.latencies.append(elapsed)
            else:
                result.errors += 1
                if len(result.error_samples) < 5:
                    text = body[:160].decode("utf-8", "replace").replace("\n", " ")
                    result.error_samples.append(f"{request.method} {request.path[:80]} → {status} {text}")
    finally:
        connection.close()


async def _run(host, port, make_request, concurrency, duration, on_response, timeout, record):
    result = Result()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(
            _user(i, host, port, make_request, on_response, deadline, result, timeout, record)
            for i in range(concurrency)
        )
    )
    result.elapsed = time.perf_counter() - started
    return result


def run(host, port, make_request, *, concurrency, duration, warmup=0.0, on_response=None, timeout=30.0):
    """Run one closed-loop load test and return its Result (after an unrecorded warm-up)."""
    if warmup > 0:
        asyncio.run(_run(host, port, make_request, concurrency, warmup, on_response, timeout, record=False))
    return asyncio.run(_run(host, port, make_request, concurrency, duration, on_response, timeout, record=True))
