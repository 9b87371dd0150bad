"""Settings of the benchmarked app: the production settings (motcua/settings.py, read from the same
environment variables) plus the floor view. Used only by bench/run.py, never in production."""

import os

from motcua.settings import *  # noqa: F403

if "bench" not in INSTALLED_APPS:  # noqa: F405
    INSTALLED_APPS = [*INSTALLED_APPS, "bench"]  # noqa: F405

# The constant-JSON floor (bench/floor_views.py) answers only when this is set.
BENCH_FLOOR = True
# motcua/urls.py plus the floor view; every other URL is the production one.
ROOT_URLCONF = "bench.urls"

if os.environ.get("BENCH_STATIC_FINDERS") == "1":
    # Smoke runs (CI) skip collectstatic, which compresses every file (minutes on 2 cores): static
    # files are served straight from the apps' folders, with the plain storage run.py selects.
    WHITENOISE_USE_FINDERS = True
