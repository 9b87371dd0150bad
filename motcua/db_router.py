"""Reads of the reporting pages from a PostgreSQL streaming replica (docs/scaling.md, step 5).

Installed only when DATABASE_REPLICA_URL is set (motcua/settings.py adds the `replica` alias, this
router to DATABASE_ROUTERS and `ReplicaReadsMiddleware` at the end of MIDDLEWARE); without it
nothing here runs and every query goes to `default`, as before.

What goes to the replica: the reads made while a view named in DATABASE_REPLICA_VIEWS runs (the
statistics pages, exports, register book, service index and their API: their lists read dossiers,
events and the citizens' ratings, the heaviest queries of the application), and only when

- the request is a GET or HEAD,
- the model is not one whose freshness is a matter of security or of the visitor's own session
  (users, groups, sessions, API tokens, login attempts, two-factor devices, roles: `PRIMARY_APPS`),
- the view has not written anything yet (read your own writes) and no transaction is open on
  `default` (a transaction sees its own uncommitted rows, the replica does not),
- the replica answers and is at most REPLICA_MAX_LAG_SECONDS behind (checked with
  `pg_last_xact_replay_timestamp()`, remembered REPLICA_CHECK_SECONDS per process).

Everything else — all writes, the officer workspace, the citizen lookup, Celery, management
commands — uses `default`. When the replica fails during a view (stopped, restarting, a query
cancelled by recovery), the middleware marks it down and runs the view once more on the primary:
the visitor gets the page, not an error.
"""

import contextlib
import contextvars
import logging
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
# Apps whose rows are always read from the primary, whatever the view.
PRIMARY_APPS = frozenset(
    {"auth", "sessions", "contenttypes", "admin", "knox", "axes", "otp_totp", "otp_static", "django_otp", "accounts"}
)
SAFE_METHODS = ("GET", "HEAD")
# How far behind the replica is, in seconds: 0 when it has replayed everything it received and is
# still streaming (an idle primary sends nothing, so the last replayed commit may be old); else the
# age of the last replayed commit. A server that is not in recovery is current by definition.
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
         AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN 0
    ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 1e9)
END
"""

# Set by the middleware around a replica-routed view: {"wrote": bool} while it runs, None outside.
_view_state = contextvars.ContextVar("motcua_replica_view", default=None)


class ReplicaHealth:
    """The per-process verdict on the replica: usable or not, re-checked every
    REPLICA_CHECK_SECONDS (a down replica is retried after that long too)."""

    def __init__(self, alias=REPLICA, connection_handler=None):
        self.alias = alias
        self.connections = connection_handler or connections
        self.checked_at = None
        self.usable = False
        self.lag = None
        self.reason = "not checked"

    def ok(self):
        now = time.monotonic()
        if self.checked_at is None or now - self.checked_at >= settings.REPLICA_CHECK_SECONDS:
            self.check(now)
        return self.usable

    def check(self, now=None):
        self.checked_at = time.monotonic() if now is None else now
        try:
            with self.connections[self.alias].cursor() as cursor:
                cursor.execute(LAG_SQL)
                self.lag = float(cursor.fetchone()[0])
        except DatabaseError as exc:
            self.mark_down(f"{type(exc).__name__}: {exc}".strip())
            return False
        too_old = self.lag > settings.REPLICA_MAX_LAG_SECONDS
        self.usable = not too_old
        self.reason = f"{self.lag:.1f} s behind" + (" (too stale)" if too_old else "")
        return self.usable

    def mark_down(self, reason):
        if self.usable or self.checked_at is None or self.reason != reason:
            logger.warning("database replica not used for %s s: %s", settings.REPLICA_CHECK_SECONDS, reason)
        self.usable = False
        self.lag = None
        self.reason = reason
        self.checked_at = time.monotonic()
        # A broken connection is dropped now rather than at the end of the request.
        with contextlib.suppress(DatabaseError):
            self.connections[self.alias].close()


health = ReplicaHealth()


class ReplicaRouter:
    """DATABASE_ROUTERS entry (see the module docstring)."""

    def __init__(self, replica_health=None):
        self.health = replica_health or health

    def db_for_read(self, model, **hints):
        state = _view_state.get()
        if state is None or state["wrote"] or model._meta.app_label in PRIMARY_APPS:
            return DEFAULT_DB_ALIAS
        if connections[DEFAULT_DB_ALIAS].in_atomic_block or not self.health.ok():
            return DEFAULT_DB_ALIAS
        state["replica_used"] = True
        return REPLICA

    def db_for_write(self, model, **hints):
        state = _view_state.get()
        if state is not None:
            state["wrote"] = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the same rows as the primary.
        return True

    def allow_migrate(self, db, app_label, **hints):
        return db == DEFAULT_DB_ALIAS


def replica_view(match):
    """True when the resolved URL is one of DATABASE_REPLICA_VIEWS ("namespace:name", a plain URL
    name, or "namespace:*" for a whole namespace)."""
    if match is None:
        return False
    names = settings.DATABASE_REPLICA_VIEWS
    return match.view_name in names or bool(match.namespace and f"{match.namespace}:*" in names)


class ReplicaReadsMiddleware:
    """Last in MIDDLEWARE: runs the replica-routed views itself, their reads marked for the router,
    and once more on the primary when the replica fails under them (a GET view that has written
    nothing can be run again)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method not in SAFE_METHODS or not replica_view(request.resolver_match):
            return None
        state = {"wrote": False, "replica_used": False}
        token = _view_state.set(state)
        try:
            response = view_func(request, *view_args, **view_kwargs)
            if callable(getattr(response, "render", None)) and not response.is_rendered:
                response.render()  # a template response reads while it renders
            return response
        except DatabaseError as exc:
            if not state["replica_used"] or state["wrote"]:
                raise
            health.mark_down(f"failed during {request.path}: {type(exc).__name__}: {exc}".strip())
        finally:
            _view_state.reset(token)
        return view_func(request, *view_args, **view_kwargs)
