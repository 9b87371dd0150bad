from django.apps import AppConfig


class BenchConfig(AppConfig):
    """The benchmark's tools (`manage.py seed_bench`, bench/data.py). Installed by the test and
    benchmark settings and on development machines (DEBUG or BENCH_TOOLS), never by a production
    deployment; no production app imports it (import-linter)."""

    name = "bench"
    verbose_name = "Benchmark"
