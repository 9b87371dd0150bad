"""Throttling of the public dossier lookup (code + PIN) by client address.

A counter per client in fixed time windows, kept in the `ThrottleCounter` table so that every
web process (and every machine behind the load balancer) shares it. An attempt is one
statement, `INSERT … ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count`, which the
database serialises per row on SQLite and PostgreSQL alike; the value it returns is this
attempt's own, never computed in Python. On PostgreSQL the table is UNLOGGED (migration 0007): the
counters are written without WAL, so a lookup does not wait for a disk flush, and a crash merely
empties them (a fresh window for every client).

An attempt *reserves* a failure before the PIN is checked and gives it back when the lookup
succeeds. So under a burst of concurrent requests no more than `max_failures()` guesses get
through in a window (a check-then-increment would let every request of the burst pass the
check first). Once a client has `max_failures()` failures in the current window, every further
lookup, even one with the right PIN, is refused until the window ends (HTTP 429 + Retry-After).
"""

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.network import client_ip

from .models import ThrottleCounter

KEY_PREFIX = "lookup:"


def max_failures():
    return settings.LOOKUP_MAX_FAILURES


def window_seconds():
    return max(1, settings.LOOKUP_WINDOW_SECONDS)


def client_key(request):
    """The counter key of a client. IPv6 clients are grouped by /64: one subscriber usually
    holds a whole /64 and could otherwise rotate addresses to escape the limit."""
    raw = client_ip(request)
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return KEY_PREFIX + raw[:100]
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return KEY_PREFIX + str(address.ipv4_mapped)
        return KEY_PREFIX + str(ipaddress.ip_network(f"{address}/64", strict=False))
    return KEY_PREFIX + str(address)


def window_start(now, seconds=None):
    """Start of the fixed window containing `now` (aligned on the Unix epoch, in UTC)."""
    seconds = seconds or window_seconds()
    epoch = math.floor(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=dt_timezone.utc)


def _sql_names():
    """The quoted table and column names of ThrottleCounter, for the two raw statements below (the
    hottest public request: plain SQL instead of the ORM's query building)."""
    quote = connection.ops.quote_name
    return (quote(name) for name in (ThrottleCounter._meta.db_table, "key", "window_start", "count"))


@dataclass
class Attempt:
    """One lookup attempt. `allowed` is False when the client is over the limit; call
    `succeeded()` after a correct code + PIN so the reserved failure is given back."""

    key: str
    window_start: datetime
    allowed: bool
    retry_after: int
    reserved: bool = False

    def succeeded(self):
        if self.reserved:
            table, key_column, start_column, count_column = _sql_names()
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET {count_column} = {count_column} - 1 "  # noqa: S608 (model table name)
                    f"WHERE {key_column} = %s AND {start_column} = %s AND {count_column} > 0",
                    [self.key, self.window_start],
                )
            self.reserved = False


def _count_attempt(key, start):
    """Add one to the counter of (key, window): (new value, whether the row was created). One
    atomic upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING`, PostgreSQL and SQLite ≥ 3.35
    alike): the row lock it takes serialises concurrent increments, and the value returned is this
    statement's own, never one computed in Python from an earlier read. PostgreSQL says whether
    the row is new (`xmax = 0`); SQLite, used only for development, approximates it with a value
    of 1 (also true after a give-back, which merely repeats the clean-up)."""
    table, key_column, start_column, count_column = _sql_names()
    created = "(xmax = 0)" if connection.vendor == "postgresql" else f"{count_column} = 1"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({key_column}, {start_column}, {count_column}) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT ({key_column}, {start_column}) "
            f"DO UPDATE SET {count_column} = {table}.{count_column} + 1 RETURNING {count_column}, {created}",
            [key, start],
        )
        count, created = cursor.fetchone()
        return count, bool(created)


def begin_attempt(request, now=None):
    """Count a lookup attempt of this request's client and say whether it may go ahead."""
    now = now or timezone.now()
    seconds = window_seconds()
    start = window_start(now, seconds)
    retry_after = max(1, math.ceil((start + timedelta(seconds=seconds) - now).total_seconds()))
    key = client_key(request)
    limit = max_failures()
    count, created = _count_attempt(key, start)
    if created:
        # Opportunistic clean-up: the first attempt of a client in a new window removes every
        # finished window (of all clients); the table only ever holds the current ones.
        ThrottleCounter.objects.filter(window_start__lt=start).delete()
    # The reservation stays even when refused: the request was one guess too many.
    return Attempt(key, start, allowed=count <= limit, retry_after=retry_after, reserved=count <= limit)
