"""The production URLs plus the benchmark's floor view (only with bench/settings.py)."""

from django.conf import settings
from django.urls import include, path

from . import floor_views

urlpatterns = []
if settings.BENCH_FLOOR:
    urlpatterns.append(path("bench/floor.json", floor_views.constant_json, name="bench-floor"))
urlpatterns.append(path("", include("motcua.urls")))
