"""Throttling of the public dossier lookup (code + PIN) by client address and by dossier code.

Failures are counted per client address (LOOKUP_MAX_FAILURES per LOOKUP_WINDOW_SECONDS) and per
dossier code (LOOKUP_CODE_MAX_FAILURES per LOOKUP_CODE_WINDOW_SECONDS), each over a sliding window
estimated from two fixed windows. Counters are kept in the `ThrottleCounter` table so that every
web process (and every machine behind the load balancer) shares it. An attempt is one
statement, `INSERT … ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count`, which the
database serialises per row on SQLite and PostgreSQL alike; the value it returns is this
attempt's own, never computed in Python. On PostgreSQL the table is UNLOGGED (migration 0007): the
counters are written without WAL, so a lookup does not wait for a disk flush, and a crash merely
empties them (a fresh window for every client).

An attempt *reserves* a failure before the answer is shown and gives it back when the lookup
succeeds (`correct=True`: the caller checked the PIN first, and the give-back is part of the
attempt's own script, so no concurrent request sees the reservation). So under a burst of
concurrent requests no more than `max_failures()` guesses get through in a window (a
check-then-increment would let every request of the burst pass the check first). Once a client
has `max_failures()` failures in the current window, every further lookup, even one with the
right PIN, is refused until the window ends (HTTP 429 + Retry-After).

With Redis (`LOOKUP_THROTTLE_BACKEND`: "auto" = Redis when REDIS_URL is set), the same counters
live in Redis instead (issue 20: the counter's writes and round trips were most of a lookup's
cost): one Lua script (`EVALSHA`, atomic in Redis like the upsert in PostgreSQL) counts the
address, reads its previous window, and, when the address may go ahead, counts the code and reads
its previous window, and gives a right PIN's allowed attempt back at once (a second script gives
back the attempts of the callers that check the PIN afterwards). The keys expire once no sliding
estimate reads them, so nothing needs clearing. Same limits, windows, estimates and answers as the
table; 0 SQL statements instead of 4. When Redis fails, the attempt is counted in the table (the
database is the fallback: an outage never opens the lookup; the counts of that moment are split
between the two stores, at worst doubling a client's budget for one window).
"""

import ipaddress
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.network import client_ip

from .models import ThrottleCounter

KEY_PREFIX = "lookup:"
CODE_KEY_PREFIX = "lookup-code:"
# Redis keys: this prefix, the counter key, ":" and the window's start (Unix seconds).
REDIS_PREFIX = "motcua:throttle:"

logger = logging.getLogger(__name__)


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
    """One lookup attempt. `allowed` is False when the client address or the code is over its
    limit (`code_locked` says it was the code); call `succeeded()` after a correct code + PIN so
    the reserved failures are given back."""

    counters: list = field(default_factory=list)  # [(key, window_start)] reserved by this attempt
    allowed: bool = True
    retry_after: int = 1
    code_locked: bool = False
    lock_started: bool = False  # this attempt is the one that locked the code
    store: str = "database"  # where the counters are: "database" or "redis"

    def count_code(self, key, start, seconds, now, estimate):
        """The code's counter was reserved with this `estimate` of its sliding window: beyond
        LOOKUP_CODE_MAX_FAILURES the code is locked (for everyone) until the window slides on."""
        self.counters.append((key, start))
        limit = settings.LOOKUP_CODE_MAX_FAILURES
        if estimate > limit:
            self.allowed = False
            self.code_locked = True
            self.lock_started = estimate - 1 <= limit
            self.retry_after = max(1, math.ceil((start + timedelta(seconds=seconds) - now).total_seconds()))

    def succeeded(self):
        if not self.counters:
            return
        if self.store == "redis":
            try:
                _redis_give_back(self.counters)
            except _redis_errors() as exc:
                logger.warning("lookup throttle: Redis failed to give back an attempt (%s)", exc)
            self.counters = []
            return
        table, key_column, start_column, count_column = _sql_names()
        matches = " OR ".join([f"({key_column} = %s AND {start_column} = %s)"] * len(self.counters))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {count_column} = {count_column} - 1 "  # noqa: S608 (model table name)
                f"WHERE ({matches}) AND {count_column} > 0",
                [value for counter in self.counters for value in counter],
            )
        self.counters = []


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


def _previous_counts(windows):
    """{key: count} of the fixed window before each (key, start, seconds), in one query. Plain SQL
    like the upsert, so the window start is passed to the database exactly as it was stored."""
    table, key_column, start_column, count_column = _sql_names()
    matches = " OR ".join([f"({key_column} = %s AND {start_column} = %s)"] * len(windows))
    params = [value for key, start, seconds in windows for value in (key, start - timedelta(seconds=seconds))]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {key_column}, {count_column} FROM {table} WHERE {matches}", params)  # noqa: S608
        return dict(cursor.fetchall())


def _sliding_estimate(key, start, seconds, now, previous):
    """Count one attempt for `key` and estimate the attempts of the last `seconds`: a sliding
    window, this fixed window's count plus the previous window's weighted by how much of it the
    sliding window still covers. (A fixed window let a burst at its end and another at the start
    of the next one through.) Returns (estimate, whether the counter row is new)."""
    count, created = _count_attempt(key, start)
    covered = 1 - (now - start).total_seconds() / seconds
    return count + previous.get(key, 0) * covered, created


def code_key(code):
    return CODE_KEY_PREFIX + (code or "").strip().upper()[:100]


# Lookups of codes that do not exist (a citizen's typo) are counted apart from the address's
# failures, against this many times LOOKUP_MAX_FAILURES: a typo does not lock the citizen out,
# and a flood of made-up codes from one address is still stopped (issue 15).
UNKNOWN_CODE_FACTOR = 10
UNKNOWN_CODE_PREFIX = "lookup-unknown:"


def begin_attempt(request, now=None, code=None, known=True, correct=False):
    """Count a lookup attempt of this request's client (and, with `code`, of that dossier code)
    and say whether it may go ahead. `known=False` (the code exists in no dossier) counts the
    attempt on the address's separate allowance for unknown codes (UNKNOWN_CODE_FACTOR), with the
    same statements. `correct=True` (the caller has already checked the PIN, and it is right): an
    allowed attempt gives its reservations back at once, in the same Redis script (no
    `succeeded()` call, one round trip instead of two); a refused one stays counted, as always.

    The address is counted first; only an attempt the address may make counts against the code,
    so one blocked client cannot keep a citizen's code locked. A code over LOOKUP_CODE_MAX_FAILURES
    is locked for everyone (the right PIN too) until its window slides past the failures: guesses
    spread over many addresses no longer add up. Both checks do the same statements whether or not
    the code exists."""
    now = now or timezone.now()
    seconds = window_seconds()
    code_seconds = max(1, settings.LOOKUP_CODE_WINDOW_SECONDS)
    key = client_key(request)
    if not known:
        key = UNKNOWN_CODE_PREFIX + key.removeprefix(KEY_PREFIX)
    limit = max_failures() * (1 if known else UNKNOWN_CODE_FACTOR)
    address = (key, window_start(now, seconds), seconds)
    windows = [address] + ([(code_key(code), window_start(now, code_seconds), code_seconds)] if code else [])
    if use_redis():
        try:
            return _redis_attempt(windows, now, limit, correct)
        except _redis_errors() as exc:
            logger.warning("lookup throttle: Redis failed, counting in the database (%s)", exc)
    previous = _previous_counts(windows)
    estimate, created = _sliding_estimate(*address, now, previous)
    attempt = Attempt(counters=[address[:2]])
    attempt.retry_after = max(1, math.ceil((address[1] + timedelta(seconds=seconds) - now).total_seconds()))
    if created:
        # Opportunistic clean-up: the first attempt of a client in a new window removes every
        # window no sliding estimate reads any more (of all clients and codes).
        oldest = now - timedelta(seconds=2 * max(seconds, code_seconds))
        ThrottleCounter.objects.filter(window_start__lt=oldest).delete()
    if estimate > limit:
        attempt.allowed = False
        return attempt
    if code:
        key, start, _seconds = windows[1]
        code_estimate, _created = _sliding_estimate(key, start, code_seconds, now, previous)
        attempt.count_code(key, start, code_seconds, now, code_estimate)
    if correct and attempt.allowed:
        attempt.succeeded()
    return attempt


# --- The counters in Redis -----------------------------------------------------------------------

# KEYS: the address's window and the one before, then (optionally) the code's two. ARGV: the share
# of the previous address window the sliding window covers, the address's limit, the address keys'
# lifetime, then the same three for the code; last, "1" when the PIN is right (an allowed attempt
# then takes its counts back at once). Returns the two estimates as text (Lua truncates numbers to
# integers); the code is counted only when the address may go ahead, as in the table.
_ATTEMPT_LUA = """
local correct = ARGV[#ARGV] == '1'
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
local estimate = count + tonumber(redis.call('GET', KEYS[2]) or '0') * tonumber(ARGV[1])
if estimate > tonumber(ARGV[2]) then return {tostring(estimate), ''} end
if #KEYS < 4 then
  if correct then redis.call('DECR', KEYS[1]) end
  return {tostring(estimate), ''}
end
local code = redis.call('INCR', KEYS[3])
if code == 1 then redis.call('EXPIRE', KEYS[3], ARGV[6]) end
local code_estimate = code + tonumber(redis.call('GET', KEYS[4]) or '0') * tonumber(ARGV[4])
if correct and code_estimate <= tonumber(ARGV[5]) then
  redis.call('DECR', KEYS[1])
  redis.call('DECR', KEYS[3])
end
return {tostring(estimate), tostring(code_estimate)}
"""
# Take one back from each key still above zero (a key that expired in between stays absent).
_GIVE_BACK_LUA = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""
_redis_state = {}


def use_redis():
    """Whether the counters live in Redis (LOOKUP_THROTTLE_BACKEND: "redis", or "auto" with a
    REDIS_URL) rather than in the ThrottleCounter table ("database")."""
    backend = settings.LOOKUP_THROTTLE_BACKEND
    return backend == "redis" or (backend == "auto" and bool(settings.REDIS_URL))


def _redis_errors():
    import redis

    return (redis.RedisError, OSError)


def _redis():
    """(client, attempt script, give-back script) for settings.REDIS_URL, one per process."""
    url = settings.REDIS_URL
    state = _redis_state.get(url)
    if state is None:
        import redis

        # Short timeouts: a Redis that stops answering costs a lookup half a second, then the
        # table counts it.
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        state = (client, client.register_script(_ATTEMPT_LUA), client.register_script(_GIVE_BACK_LUA))
        _redis_state.clear()
        _redis_state[url] = state
    return state


def _redis_key(key, start):
    return f"{REDIS_PREFIX}{key}:{int(start.timestamp())}"


def _redis_attempt(windows, now, limit, correct=False):
    """begin_attempt() with the counters in Redis: one script call (the give-back of a right PIN's
    allowed attempt included)."""
    _client, attempt_script, _give_back = _redis()
    keys, args = [], []
    for key, start, seconds in windows:
        keys += [_redis_key(key, start), _redis_key(key, start - timedelta(seconds=seconds))]
        covered = 1 - (now - start).total_seconds() / seconds
        # The key lives while a sliding estimate may read it: this window and the next.
        args += [repr(covered), 0, 2 * seconds + 1]
    args[1] = limit
    if len(windows) > 1:
        args[4] = settings.LOOKUP_CODE_MAX_FAILURES
    args.append("1" if correct else "0")
    estimate, code_estimate = attempt_script(keys=keys, args=args)
    estimate = float(estimate)
    (_key, start, seconds) = windows[0]
    attempt = Attempt(counters=[(windows[0][0], start)], store="redis")
    attempt.retry_after = max(1, math.ceil((start + timedelta(seconds=seconds) - now).total_seconds()))
    if estimate > limit:
        attempt.allowed = False
        return attempt
    if len(windows) > 1:
        attempt.count_code(*windows[1], now, float(code_estimate))
    if correct and attempt.allowed:
        attempt.counters = []  # given back by the script
    return attempt


def _redis_give_back(counters):
    _client, _attempt, give_back = _redis()
    give_back(keys=[_redis_key(key, start) for key, start in counters])
