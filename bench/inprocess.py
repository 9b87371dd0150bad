#!/usr/bin/env python3
"""In-process timings of the benchmark's scenarios, on a database `bench/run.py` (or `seed_bench`)
filled: what one request costs the web worker, without HTTP, gunicorn or the load generator.

    python bench/inprocess.py --database-url postgres://…/motcua_bench --redis-url redis://…/13
    python bench/inprocess.py … --only lookup,search_none --repeat 200
    python bench/inprocess.py … --profile queue_page_1      # pyinstrument, when installed

Each scenario's request (the same one `bench/run.py` sends, drawn from the same pools) goes
through Django's test client with the benchmark's settings; after `--warmup` unmeasured requests,
`--repeat` requests are timed one after the other: mean, p50 and p95 in ms, and the SQL
statements of one request. On a machine shared with other jobs the figures still compare two
versions of the code run one after the other (not a reference run: docs/performance.md).
Prints one line per scenario and, with `--json FILE`, writes them.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import run as bench_run  # noqa: E402

# Scenarios that change the database on every request, or read it through a background worker:
# timed by bench/run.py only (a test client would have to create their work first).
SKIPPED = {"mixed", "create_dossier", "transition_assign", "handover", "accept_handover", "sign_result"}
# With --writes: the creation (each one adds a dossier to the bench database) and the assignment
# of the dossiers it created, in that order.
WRITES = ("create_dossier", "transition_assign")


def _percentile(values, share):
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=bench_run.parse_args([]).database_url)
    parser.add_argument("--redis-url", default=bench_run.parse_args([]).redis_url)
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--profile", help="one scenario to profile with pyinstrument (printed as text)")
    parser.add_argument("--json", help="write the timings to this file")
    parser.add_argument(
        "--writes", action="store_true", help="also time the creation and the assignment (they add dossiers)"
    )
    args = parser.parse_args(argv)

    bench = bench_run.Bench(
        bench_run.parse_args(["--reuse", "--database-url", args.database_url, "--redis-url", args.redis_url])
    )
    # No collectstatic for an in-process run: static files from the apps' folders.
    bench.env.update(
        STATICFILES_STORAGE="django.contrib.staticfiles.storage.StaticFilesStorage", BENCH_STATIC_FINDERS="1"
    )
    bench.setup_django()
    bench.prepare_fixtures()
    from django.db import connection
    from django.test import Client

    client = Client()
    bench.tokens = {}
    for username in (bench.desk_user, bench.supervisor):
        response = client.post(
            "/api/v1/auth/token/", {"username": username, "password": bench.password}, content_type="application/json"
        )
        bench.tokens[username] = response.json()["token"]
    only = set(args.only.split(",")) if args.only else None
    results = {}
    scenarios = bench.requests()
    writes = WRITES if args.writes else ()
    order = [n for n in scenarios if n not in WRITES] + list(writes)

    def call(make, on_response):
        request = make(0)
        if on_response is None:
            return bench._client_call(client, request)
        response = bench._client_response(client, request)
        on_response(request, response.status_code, response.content)
        return response.status_code

    for name in order:
        make, on_response = scenarios[name]
        if (name in SKIPPED and name not in writes) or (only and name not in only):
            continue
        for _ in range(args.warmup):
            call(make, on_response)
        # Counted with a wrapper: the test client's request_started signal empties queries_log.
        counter = bench_run._QueryCounter()
        with connection.execute_wrapper(counter):
            status = call(make, on_response)
        times, cpu = [], []
        for _ in range(args.repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            call(make, on_response)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        results[name] = {
            "status": status,
            "queries": counter.count,
            "mean_ms": round(statistics.mean(times), 2),
            "p50_ms": round(_percentile(times, 0.5), 2),
            "p95_ms": round(_percentile(times, 0.95), 2),
            # This process's CPU only (PostgreSQL's is not in it): steadier on a busy machine.
            "cpu_p50_ms": round(_percentile(cpu, 0.5), 2),
        }
        row = results[name]
        print(
            f"{name:<28} HTTP {status}  {row['queries']:>3} queries  mean {row['mean_ms']:7.2f}  "
            f"p50 {row['p50_ms']:7.2f}  p95 {row['p95_ms']:7.2f}  CPU p50 {row['cpu_p50_ms']:7.2f} ms",
            flush=True,
        )
        if args.profile == name:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
            for _ in range(args.repeat):
                call(make, on_response)
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
