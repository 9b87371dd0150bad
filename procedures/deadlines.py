"""The working-day engine: appointment dates, step deadlines and paused time.

Everything here is a pure function of its arguments and a `WorkingCalendar`, except
`get_calendar()`, which reads the admin overrides (one query) and the office hours from the
settings. Rules (DESIGN.md §4; Decree 118/2025/NĐ-CP Art. 17.3; Civil Code 2015 Art. 147–148):

* A **working day** is Monday–Friday minus the Vietnamese public holidays of the `holidays`
  package (Tết, Hùng Kings, 30/4, 1/5, 2/9 and its adjacent day, 24/11 from 2026 and the
  government's day swaps), plus the make-up Saturdays of those swaps. Admin overrides
  (`CalendarOverride`: extra day off / extra working day) win over both.
* **Working time** is the office sessions of working days (default 07:30–11:30 and
  13:30–17:00, `settings.OFFICE_HOURS`); lunch breaks and nights are not working time.
* A dossier accepted outside working time counts from the start of the next session
  (`counting_start`).
* Policy ``"same_half"`` (default, `settings.DEADLINE_POLICY`): the period runs from
  acceptance, in half-day units (one unit = one session). Due = the end of the session that is
  ``ceil(processing_days * 2)`` working sessions after the session in which counting starts,
  so N whole days end in the same half of the day N working days later ("nhận sáng trả sáng,
  nhận chiều trả chiều").
* Policy ``"civil_code"``: the period starts the day after acceptance and ends at the close of
  the N-th working day after the acceptance day (fractions rounded up to whole days).
* Same-day procedures (``processing_days == 0``), under either policy: due at the close of the
  working day in which counting starts; with a published ``cutoff`` and a (normalised)
  acceptance time after it, at the close of the next working day.
* Periods in **calendar days** (e.g. the 15 days to complete a supplement, Art. 19.5) are counted
  by the Civil Code (`civil_period_end`): the day of the notice is not counted (Art. 147.3), the
  period ends at 24:00 of its last day (Art. 148.6), and when that day is not a working day it
  moves to the end (24:00) of the next working day (Art. 148.5).

All datetimes must be timezone-aware; they are converted to ``settings.TIME_ZONE`` for
computing and results are aware datetimes in that zone.
"""

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

import holidays
from django.conf import settings
from django.utils import timezone

__all__ = [
    "POLICIES",
    "POLICY_CIVIL_CODE",
    "POLICY_SAME_HALF",
    "WorkingCalendar",
    "add_working_minutes",
    "civil_period_end",
    "compute_due_at",
    "counting_start",
    "get_calendar",
    "working_minutes_between",
]

POLICY_SAME_HALF = "same_half"
POLICY_CIVIL_CODE = "civil_code"
POLICIES = (POLICY_SAME_HALF, POLICY_CIVIL_CODE)

DEFAULT_SESSIONS = ((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0)))


@lru_cache(maxsize=64)
def _public_calendar(year):
    """The `holidays` package's Vietnam calendar for one year, built once per process.

    `expand=False` keeps the cached object read-only: asking it about another year would
    otherwise populate that year in place. Make-up Saturdays (`weekend_workdays`), including
    those that fall in the previous calendar year, are filled in when the object is built.
    """
    return holidays.country_holidays("VN", years=year, expand=False)


def _is_public_working_day(d):
    """Monday–Friday minus public holidays, plus make-up weekend days (no overrides)."""
    return _public_calendar(d.year).is_working_day(d)


def _tz():
    return timezone.get_default_timezone()  # settings.TIME_ZONE, cached by Django


def _local(moment, name="datetime"):
    """`moment` converted to the project's time zone; naive datetimes are refused."""
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}.")
    if timezone.is_naive(moment):
        raise ValueError(f"{name} must be timezone-aware (got naive {moment.isoformat()}).")
    return moment.astimezone(_tz())


def _at(day, moment_of_day):
    """The aware datetime at local wall-clock time `moment_of_day` on `day`."""
    return datetime.combine(day, moment_of_day, tzinfo=_tz())


def _as_date(d):
    if isinstance(d, datetime):
        return _local(d, "d").date()
    if not isinstance(d, date):
        raise TypeError(f"Expected a date, not {type(d).__name__}.")
    return d


def _non_negative_number(value, name):
    """`value` as a finite, non-negative Decimal (floats via their shortest repr)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}.")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite() or number < 0:
        raise ValueError(f"{name} must be a finite number ≥ 0 (got {value!r}).")
    return number


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days are working days and which hours of them are working time.

    `extra_days_off` / `extra_working_days` are the admin overrides; they take precedence
    over the `holidays` package. `sessions` are the office sessions of every working day as
    ``(start, end)`` local wall-clock times, in order and not overlapping (normally a morning
    and an afternoon: each one is a "half day" for the ``same_half`` policy).
    """

    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    sessions: tuple[tuple[time, time], ...] = DEFAULT_SESSIONS

    def __post_init__(self):
        # Accept any iterables, store hashable immutable values.
        object.__setattr__(self, "extra_days_off", frozenset(self.extra_days_off))
        object.__setattr__(self, "extra_working_days", frozenset(self.extra_working_days))
        object.__setattr__(self, "sessions", tuple((start, end) for start, end in self.sessions))
        both = self.extra_days_off & self.extra_working_days
        if both:
            days = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(f"A date cannot be both an extra day off and an extra working day: {days}.")
        if not self.sessions:
            raise ValueError("A working calendar needs at least one office session.")
        previous_end = None
        for start, end in self.sessions:
            if not (isinstance(start, time) and isinstance(end, time)):
                raise TypeError("Office sessions must be (start, end) pairs of datetime.time.")
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("Office session times are local wall-clock times; give them without tzinfo.")
            if start >= end:
                raise ValueError(f"Office session {start:%H:%M}–{end:%H:%M} must start before it ends.")
            if previous_end is not None and start < previous_end:
                raise ValueError("Office sessions must be in order and must not overlap.")
            previous_end = end

    def is_working_day(self, d: date) -> bool:
        """Whether `d` is a working day: overrides first, then the public calendar
        (Monday–Friday minus `holidays.VN` holidays, plus make-up weekend days)."""
        d = _as_date(d)
        if d in self.extra_days_off:
            return False
        if d in self.extra_working_days:
            return True
        return _is_public_working_day(d)

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        d = _as_date(d) + timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after `d` (n ≥ 0); n = 0 gives `d` if it is a working day,
        otherwise the next working day (like `holidays`' `get_nth_working_day`, but with
        the overrides applied)."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, not {type(n).__name__}.")
        if n < 0:
            raise ValueError(f"n must be ≥ 0 (got {n}).")
        d = _as_date(d)
        if n == 0:
            return d if self.is_working_day(d) else self.next_working_day(d)
        for _ in range(n):
            d = self.next_working_day(d)
        return d

    # Session helpers (private: the public API is the module functions).

    def _slot_at_or_after(self, moment):
        """``(day, session index)`` of the working session containing the local datetime
        `moment` (sessions are half-open ``[start, end)``), or of the first one after it."""
        day = moment.date()
        if self.is_working_day(day):
            for index, (_, end) in enumerate(self.sessions):
                if moment < _at(day, end):
                    return day, index
        return self.next_working_day(day), 0

    def _next_slot(self, day, index):
        if index + 1 < len(self.sessions):
            return day, index + 1
        return self.next_working_day(day), 0

    def _session_bounds(self, day, index):
        start, end = self.sessions[index]
        return _at(day, start), _at(day, end)

    # The working-day vocabulary (public): every caller outside this module uses these instead
    # of reading `sessions` itself.

    def close_of_day(self, day):
        """The end of the last office session of `day` ("end of the working day")."""
        return _at(day, self.sessions[-1][1])

    def opening_of_day(self, day):
        """The start of the first office session of `day` ("đầu giờ")."""
        return _at(day, self.sessions[0][0])

    def session_close_at_or_after(self, moment):
        """The close of the office session containing the local datetime `moment`, or of the next
        session of the same working day (lunch break → the afternoon's close); None when `moment`
        is on a day off or after the day's last session has closed. A moment exactly at a
        session's close is that session's close ("nhận sáng trả sáng": appointments are given at the
        close of a session)."""
        local = _local(moment, "moment")
        if not self.is_working_day(local.date()):
            return None
        for _start, end in self.sessions:
            close = _at(local.date(), end)
            if local <= close:
                return close
        return None

    def in_office_hours(self, moment):
        """True during a working day's office hours, from the opening to the close (the lunch
        break included: offices are open that day)."""
        local = _local(moment, "moment")
        return self.is_working_day(local.date()) and self.sessions[0][0] <= local.time() <= self.sessions[-1][1]

    @property
    def day_minutes(self):
        """The working minutes of one full working day (all sessions)."""
        return sum((end.hour * 60 + end.minute) - (start.hour * 60 + start.minute) for start, end in self.sessions)


def get_calendar() -> WorkingCalendar:
    """The project's calendar: `CalendarOverride` rows (one query) and `settings.OFFICE_HOURS`.

    Not cached, so an admin's change applies to the next computation; the public holidays
    behind it are cached per year in-process.
    """
    from procedures.models import CalendarOverride  # local: keeps this module import-light

    days_off, working_days = set(), set()
    for day, kind in CalendarOverride.objects.order_by().values_list("date", "kind"):
        if kind == CalendarOverride.Kind.DAY_OFF:
            days_off.add(day)
        elif kind == CalendarOverride.Kind.WORKING_DAY:
            working_days.add(day)
    sessions = settings.OFFICE_HOURS or DEFAULT_SESSIONS
    return WorkingCalendar(
        extra_days_off=frozenset(days_off), extra_working_days=frozenset(working_days), sessions=tuple(sessions)
    )


def close_of_day(day: date, calendar: WorkingCalendar | None = None) -> datetime:
    """The end of the working day `day` (the close of its last office session)."""
    return (get_calendar() if calendar is None else calendar).close_of_day(_as_date(day))


def civil_period_end(notice_at: datetime, days: int, calendar: WorkingCalendar | None = None) -> datetime:
    """The end of a period of `days` calendar days that starts with a notice at `notice_at`,
    counted by the Civil Code 2015: the day of the notice is not counted (Art. 147.3), so day 1 is
    the next day; the period ends at 24:00 of day `days` (Art. 148.6), i.e. the first moment of the
    day after; when day `days` is not a working day (weekend, public holiday, an admin day off),
    the period ends at 24:00 of the next working day (Art. 148.5). Returns that moment (local)."""
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"days must be an int, not {type(days).__name__}.")
    if days < 1:
        raise ValueError(f"days must be ≥ 1 (got {days}).")
    cal = get_calendar() if calendar is None else calendar
    last = _local(notice_at, "notice_at").date() + timedelta(days=days)
    if not cal.is_working_day(last):
        last = cal.next_working_day(last)
    return _at(last + timedelta(days=1), time.min)


def in_office_hours(moment: datetime, calendar: WorkingCalendar | None = None) -> bool:
    return (get_calendar() if calendar is None else calendar).in_office_hours(moment)


def due_soon_end(now: datetime, working_days: int, calendar: WorkingCalendar | None = None) -> datetime:
    """The end of the "due soon" window at `now`: midnight after the `working_days`-th working day
    after today (0: the end of today). See `DossierQuerySet.due_soon`."""
    cal = get_calendar() if calendar is None else calendar
    today = _local(now, "now").date()
    last = cal.add_working_days(today, working_days) if working_days > 0 else today
    return _at(last + timedelta(days=1), time.min)


def counting_start(received_at: datetime, calendar: WorkingCalendar | None = None) -> datetime:
    """When the clock starts for something received at `received_at`: that moment if it is
    within an office session of a working day, otherwise the start of the next session
    (lunch break → afternoon; evening, weekend or holiday → next working morning)."""
    cal = get_calendar() if calendar is None else calendar
    moment = _local(received_at, "received_at")
    day, index = cal._slot_at_or_after(moment)
    session_start, _ = cal._session_bounds(day, index)
    return max(moment, session_start)


def compute_due_at(
    received_at: datetime,
    processing_days: Decimal | int | float,
    *,
    cutoff: time | None = None,
    calendar: WorkingCalendar | None = None,
    policy: str | None = None,
) -> datetime:
    """The appointment date (due_at) of a dossier accepted at `received_at`.

    `processing_days` is the procedure's processing time in working days (0 = same day,
    0.5 = half a day). `cutoff` is the published same-day cut-off time (local wall clock),
    used only when `processing_days` is 0: accepted after it → the next working day.
    `policy` is ``"same_half"`` or ``"civil_code"`` (default: `settings.DEADLINE_POLICY`).
    See the module docstring for the rules.
    """
    if policy is None:
        policy = settings.DEADLINE_POLICY
    if policy not in POLICIES:
        raise ValueError(
            f"Unknown deadline policy {policy!r} (check settings.DEADLINE_POLICY); "
            f"expected one of: {', '.join(POLICIES)}."
        )
    days = _non_negative_number(processing_days, "processing_days")
    if cutoff is not None:
        if not isinstance(cutoff, time):
            raise TypeError(f"cutoff must be a datetime.time, not {type(cutoff).__name__}.")
        if cutoff.tzinfo is not None:
            raise ValueError("cutoff is a local wall-clock time; give it without tzinfo.")
    cal = get_calendar() if calendar is None else calendar
    start = counting_start(received_at, cal)

    if days == 0:
        # Same day: counting always starts inside a session of a working day.
        day = start.date()
        if cutoff is not None and start.time() > cutoff:
            day = cal.next_working_day(day)
        return cal.close_of_day(day)

    if policy == POLICY_SAME_HALF:
        units = math.ceil(days * len(cal.sessions))
        day, index = cal._slot_at_or_after(start)
        for _ in range(units):
            day, index = cal._next_slot(day, index)
        return cal._session_bounds(day, index)[1]

    # Civil Code: the acceptance day is not counted; the period ends at the close of day N.
    acceptance_day = _local(received_at, "received_at").date()
    return cal.close_of_day(cal.add_working_days(acceptance_day, math.ceil(days)))


def add_working_minutes(start: datetime, minutes: float, calendar: WorkingCalendar | None = None) -> datetime:
    """The earliest moment at which `minutes` of working time (office sessions of working
    days) have elapsed since `start`. 0 minutes → `start` itself; the result can be the end of
    a session (e.g. Friday 17:00), not the start of the next one.

    Used for step deadlines and to move a due date by a pause's working time."""
    cal = get_calendar() if calendar is None else calendar
    moment = _local(start, "start")
    remaining = timedelta(minutes=float(_non_negative_number(minutes, "minutes")))
    if not remaining:
        return moment
    while True:
        day, index = cal._slot_at_or_after(moment)
        session_start, session_end = cal._session_bounds(day, index)
        moment = max(moment, session_start)
        available = session_end - moment
        if remaining <= available:
            return moment + remaining
        remaining -= available
        moment = session_end


def working_minutes_between(start: datetime, end: datetime, calendar: WorkingCalendar | None = None) -> float:
    """Minutes of working time (office sessions of working days) in ``[start, end)``;
    0 if `end` <= `start`. The inverse of `add_working_minutes`."""
    cal = get_calendar() if calendar is None else calendar
    lower, upper = _local(start, "start"), _local(end, "end")
    if upper <= lower:
        return 0.0
    total = timedelta()
    day = lower.date()
    while day <= upper.date():
        if cal.is_working_day(day):
            for index in range(len(cal.sessions)):
                session_start, session_end = cal._session_bounds(day, index)
                overlap = min(upper, session_end) - max(lower, session_start)
                if overlap > timedelta():
                    total += overlap
        day += timedelta(days=1)
    return total.total_seconds() / 60
