"""Throttling of the public dossier lookup (code + PIN) by client address.

A counter per client in fixed time windows, kept in the `ThrottleCounter` table so that every
web process (and every machine behind the load balancer) shares it. Increments are single
`UPDATE … SET count = count + 1` statements, which the database serialises per row on SQLite and
PostgreSQL alike; the value is read back in the same transaction (while the row is locked),
never computed in Python.

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
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import ThrottleCounter

LOOKUP_MAX_FAILURES = 10
LOOKUP_WINDOW_SECONDS = 15 * 60
KEY_PREFIX = "lookup:"


def max_failures():
    return int(getattr(settings, "LOOKUP_MAX_FAILURES", LOOKUP_MAX_FAILURES))


def window_seconds():
    return max(1, int(getattr(settings, "LOOKUP_WINDOW_SECONDS", LOOKUP_WINDOW_SECONDS)))


def client_ip(request):
    """The client's address: REMOTE_ADDR, or, behind `TRUSTED_PROXY_COUNT` reverse proxies, the
    X-Forwarded-For entry the outermost trusted proxy appended (entries further left are
    whatever the client chose to send and cannot be trusted)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-min(proxies, len(forwarded))]
    return remote


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
            ThrottleCounter.objects.filter(key=self.key, window_start=self.window_start, count__gt=0).update(
                count=F("count") - 1
            )
            self.reserved = False


def begin_attempt(request, now=None):
    """Count a lookup attempt of this request's client and say whether it may go ahead."""
    now = now or timezone.now()
    seconds = window_seconds()
    start = window_start(now, seconds)
    retry_after = max(1, math.ceil((start + timedelta(seconds=seconds) - now).total_seconds()))
    key = client_key(request)
    limit = max_failures()
    counter, created = ThrottleCounter.objects.get_or_create(key=key, window_start=start)
    if created:
        # Opportunistic clean-up: the first request of a client in a new window removes every
        # finished window (of all clients); the table only ever holds the current ones.
        ThrottleCounter.objects.filter(window_start__lt=start).delete()
    elif counter.count >= limit:
        return Attempt(key, start, allowed=False, retry_after=retry_after)
    # The UPDATE's row lock lasts until the end of this transaction, so the value read back is
    # this request's own increment, not one a concurrent request made in between.
    with transaction.atomic():
        if not ThrottleCounter.objects.filter(pk=counter.pk).update(count=F("count") + 1):
            # Another process, already in the next window, removed this one: nothing to count.
            return Attempt(key, start, allowed=True, retry_after=retry_after)
        count = ThrottleCounter.objects.filter(pk=counter.pk).values_list("count", flat=True).get()
    # The reservation stays even when refused: the request was one guess too many.
    return Attempt(key, start, allowed=count <= limit, retry_after=retry_after, reserved=count <= limit)
