"""The working-day engine (procedures/deadlines.py): calendar, appointment dates, working time.

Pure functions get an explicit `WorkingCalendar`; the override tests go through the database
and `get_calendar()`. Expected dates are the 2026 Vietnamese calendar: Tết 16–20 Feb, Hùng
Kings observed Mon 27 Apr, 30/4, 1/5, National Day Tue 1 + Wed 2 Sep with Mon 31 Aug swapped
for Saturday 22 Aug, Vietnam Cultural Day Tue 24 Nov.
"""

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from procedures.deadlines import (
    WorkingCalendar,
    add_working_minutes,
    civil_period_end,
    compute_due_at,
    counting_start,
    get_calendar,
    working_minutes_between,
)
from procedures.models import CalendarOverride

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar()


def vn(year, month, day, hour=0, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=VN)


# --- Working days -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 13), True),  # Friday before Tết
        (date(2026, 2, 16), False),  # Tết eve (Monday)
        (date(2026, 2, 20), False),  # 4th day of Tết (Friday)
        (date(2026, 2, 23), True),  # back to work
        (date(2026, 3, 7), False),  # an ordinary Saturday
        (date(2026, 3, 8), False),  # an ordinary Sunday
        (date(2026, 4, 27), False),  # Hùng Kings' day (Sunday 26/4) observed on Monday
        (date(2026, 4, 30), False),
        (date(2026, 5, 1), False),
        (date(2026, 8, 22), True),  # make-up Saturday for Monday 31/8
        (date(2026, 8, 31), False),  # swapped day off
        (date(2026, 9, 1), False),  # day adjacent to National Day
        (date(2026, 9, 2), False),  # National Day
        (date(2026, 11, 24), False),  # Vietnam Cultural Day, from 2026
        (date(2025, 11, 24), True),  # ... not before
        (date(2014, 12, 27), True),  # make-up Saturday for 2 Jan 2015 (swap across years)
        (date(2019, 1, 5), True),  # make-up Saturday for 31 Dec 2018 (swap across years)
    ],
)
def test_is_working_day_follows_the_vietnamese_public_calendar(day, working):
    assert CAL.is_working_day(day) is working


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2026, 2, 13), 5, date(2026, 2, 27)),  # across Tết
        (date(2026, 8, 21), 1, date(2026, 8, 22)),  # the make-up Saturday counts
        (date(2026, 8, 28), 2, date(2026, 9, 4)),  # skips 31/8, 1/9, 2/9
        (date(2026, 11, 23), 1, date(2026, 11, 25)),  # skips 24/11
        (date(2026, 3, 3), 0, date(2026, 3, 3)),  # n=0 on a working day: that day
        (date(2026, 3, 8), 0, date(2026, 3, 9)),  # n=0 on a Sunday: the next working day
        (date(2026, 2, 16), 0, date(2026, 2, 23)),  # n=0 during Tết
        (date(2026, 3, 6), 1, date(2026, 3, 9)),  # Friday + 1 → Monday
    ],
)
def test_add_working_days(day, n, expected):
    assert CAL.add_working_days(day, n) == expected


def test_next_working_day_is_strictly_after_the_given_day():
    assert CAL.next_working_day(date(2026, 3, 3)) == date(2026, 3, 4)
    assert CAL.next_working_day(date(2026, 2, 13)) == date(2026, 2, 23)


def test_add_working_days_rejects_negative_n():
    with pytest.raises(ValueError, match="n must be"):
        CAL.add_working_days(date(2026, 3, 3), -1)


@pytest.mark.parametrize(
    ("overrides", "day", "working"),
    [
        ({"extra_days_off": {date(2026, 3, 3)}}, date(2026, 3, 3), False),  # ordinary Tuesday off
        ({"extra_working_days": {date(2026, 3, 7)}}, date(2026, 3, 7), True),  # ordinary Saturday worked
        ({"extra_working_days": {date(2026, 9, 1)}}, date(2026, 9, 1), True),  # beats a public holiday
        ({"extra_days_off": {date(2026, 8, 22)}}, date(2026, 8, 22), False),  # cancels a make-up Saturday
    ],
)
def test_overrides_win_over_the_public_calendar(overrides, day, working):
    assert CAL.is_working_day(day) is not working  # the override changes the answer
    assert WorkingCalendar(**overrides).is_working_day(day) is working


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"extra_days_off": {date(2026, 3, 3)}, "extra_working_days": {date(2026, 3, 3)}}, "both"),
        ({"sessions": ()}, "at least one"),
        ({"sessions": ((time(11), time(8)),)}, "start before"),
        ({"sessions": ((time(7), time(12)), (time(11), time(17)))}, "overlap"),
    ],
)
def test_inconsistent_calendar_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WorkingCalendar(**kwargs)


# --- Counting start -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received_at", "expected"),
    [
        (vn(2026, 3, 3, 9, 15), vn(2026, 3, 3, 9, 15)),  # inside the morning session: unchanged
        (vn(2026, 3, 3, 7, 30), vn(2026, 3, 3, 7, 30)),  # session start is inside
        (vn(2026, 3, 3, 6, 0), vn(2026, 3, 3, 7, 30)),  # before opening
        (vn(2026, 3, 3, 11, 30), vn(2026, 3, 3, 13, 30)),  # session end is outside
        (vn(2026, 3, 3, 12, 0), vn(2026, 3, 3, 13, 30)),  # lunch break
        (vn(2026, 3, 3, 17, 0), vn(2026, 3, 4, 7, 30)),  # closing time
        (vn(2026, 3, 6, 19, 0), vn(2026, 3, 9, 7, 30)),  # Friday evening → Monday
        (vn(2026, 3, 8, 10, 0), vn(2026, 3, 9, 7, 30)),  # Sunday
        (vn(2026, 9, 1, 10, 0), vn(2026, 9, 3, 7, 30)),  # public holiday
        (vn(2026, 8, 22, 8, 0), vn(2026, 8, 22, 8, 0)),  # make-up Saturday is a working day
    ],
)
def test_counting_start_moves_to_the_next_working_session(received_at, expected):
    assert counting_start(received_at, CAL) == expected


def test_results_are_aware_datetimes_in_the_project_time_zone():
    received_utc = datetime(2026, 3, 3, 2, 0, tzinfo=timezone.utc)  # 09:00 in Hanoi
    assert counting_start(received_utc, CAL) == vn(2026, 3, 3, 9, 0)
    due = compute_due_at(received_utc, 1, calendar=CAL, policy="same_half")
    assert due == vn(2026, 3, 4, 11, 30)
    assert due.tzinfo.key == "Asia/Ho_Chi_Minh"
    assert due.utcoffset() == timedelta(hours=7)
    assert add_working_minutes(received_utc, 30, CAL).tzinfo.key == "Asia/Ho_Chi_Minh"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_due_at(datetime(2026, 3, 3, 9, 0), 1, calendar=CAL)
    with pytest.raises(ValueError, match="timezone-aware"):
        working_minutes_between(datetime(2026, 3, 3, 9, 0), vn(2026, 3, 3, 10), CAL)


# --- Appointment dates: "same_half" -------------------------------------------------------


@pytest.mark.parametrize(
    ("received_at", "days", "expected"),
    [
        # The required examples.
        (vn(2026, 2, 13, 9, 0), 5, vn(2026, 2, 27, 11, 30)),  # across Tết, morning → morning
        (vn(2026, 2, 13, 14, 0), 5, vn(2026, 2, 27, 17, 0)),  # afternoon → afternoon
        (vn(2026, 8, 21, 9, 0), 1, vn(2026, 8, 22, 11, 30)),  # due on the make-up Saturday
        (vn(2026, 8, 28, 9, 0), 2, vn(2026, 9, 4, 11, 30)),  # across the National Day break
        (vn(2026, 11, 23, 9, 0), 1, vn(2026, 11, 25, 11, 30)),  # skips 24/11
        # Morning vs afternoon receipt.
        (vn(2026, 3, 3, 8, 0), 3, vn(2026, 3, 6, 11, 30)),
        (vn(2026, 3, 3, 15, 0), 3, vn(2026, 3, 6, 17, 0)),
        (vn(2026, 3, 3, 11, 29), 1, vn(2026, 3, 4, 11, 30)),
        # Outside office hours: counts from the next working session.
        (vn(2026, 3, 3, 12, 0), 1, vn(2026, 3, 4, 17, 0)),  # lunch → afternoon
        (vn(2026, 3, 3, 11, 30), 1, vn(2026, 3, 4, 17, 0)),  # end of the morning → afternoon
        (vn(2026, 3, 3, 18, 0), 1, vn(2026, 3, 5, 11, 30)),  # evening → next morning
        (vn(2026, 3, 3, 6, 45), 1, vn(2026, 3, 4, 11, 30)),  # before opening → that morning
        (vn(2026, 3, 8, 10, 0), 1, vn(2026, 3, 10, 11, 30)),  # Sunday → Monday morning
        (vn(2026, 3, 6, 17, 30), 2, vn(2026, 3, 11, 11, 30)),  # Friday evening → Monday morning
        (vn(2026, 9, 1, 9, 0), 1, vn(2026, 9, 4, 11, 30)),  # on a public holiday
        # Half days and fractions (units = ceil(days * 2)).
        (vn(2026, 3, 3, 9, 0), Decimal("0.5"), vn(2026, 3, 3, 17, 0)),  # morning → that afternoon
        (vn(2026, 3, 3, 14, 0), Decimal("0.5"), vn(2026, 3, 4, 11, 30)),  # afternoon → next morning
        (vn(2026, 3, 6, 14, 0), 0.5, vn(2026, 3, 9, 11, 30)),  # Friday afternoon → Monday morning
        (vn(2026, 3, 3, 9, 0), Decimal("1.5"), vn(2026, 3, 4, 17, 0)),
        (vn(2026, 3, 3, 9, 0), Decimal("1.2"), vn(2026, 3, 4, 17, 0)),  # rounded up to 1.5
        (vn(2026, 3, 3, 9, 0), 1.0, vn(2026, 3, 4, 11, 30)),  # float
        (vn(2026, 3, 3, 9, 0), Decimal("15"), vn(2026, 3, 24, 11, 30)),
    ],
)
def test_same_half_due_date(received_at, days, expected):
    assert compute_due_at(received_at, days, calendar=CAL, policy="same_half") == expected


@pytest.mark.parametrize(
    ("received_at", "cutoff", "expected"),
    [
        (vn(2026, 3, 3, 10, 0), time(15, 0), vn(2026, 3, 3, 17, 0)),  # before the cut-off
        (vn(2026, 3, 3, 15, 0), time(15, 0), vn(2026, 3, 3, 17, 0)),  # at it (not after)
        (vn(2026, 3, 3, 15, 1), time(15, 0), vn(2026, 3, 4, 17, 0)),  # after → next working day
        (vn(2026, 3, 6, 15, 30), time(15, 0), vn(2026, 3, 9, 17, 0)),  # Friday after → Monday
        (vn(2026, 3, 7, 10, 0), time(15, 0), vn(2026, 3, 9, 17, 0)),  # Saturday → Monday
        (vn(2026, 8, 21, 16, 0), time(15, 0), vn(2026, 8, 22, 17, 0)),  # → the make-up Saturday
        (vn(2026, 3, 3, 16, 30), None, vn(2026, 3, 3, 17, 0)),  # no cut-off: same day
        (vn(2026, 3, 6, 18, 0), None, vn(2026, 3, 9, 17, 0)),  # after hours → next working day
    ],
)
@pytest.mark.parametrize("policy", ["same_half", "civil_code"])
def test_same_day_procedure_with_cutoff(received_at, cutoff, expected, policy):
    assert compute_due_at(received_at, 0, cutoff=cutoff, calendar=CAL, policy=policy) == expected


def test_cutoff_only_applies_to_same_day_procedures():
    received = vn(2026, 3, 3, 16, 0)
    assert compute_due_at(received, 1, cutoff=time(15), calendar=CAL) == compute_due_at(received, 1, calendar=CAL)


# --- Appointment dates: "civil_code" and the policy setting -------------------------------


@pytest.mark.parametrize(
    ("received_at", "days", "expected"),
    [
        (vn(2026, 2, 13, 9, 0), 5, vn(2026, 2, 27, 17, 0)),
        (vn(2026, 3, 3, 9, 0), 1, vn(2026, 3, 4, 17, 0)),
        (vn(2026, 3, 3, 18, 0), 1, vn(2026, 3, 4, 17, 0)),  # evening: still day 1 = next day
        (vn(2026, 3, 3, 9, 0), Decimal("0.5"), vn(2026, 3, 4, 17, 0)),  # fractions round up
        (vn(2026, 3, 7, 10, 0), 1, vn(2026, 3, 9, 17, 0)),  # Saturday receipt
        (vn(2026, 8, 28, 9, 0), 2, vn(2026, 9, 4, 17, 0)),
    ],
)
def test_civil_code_due_date_is_the_close_of_the_nth_working_day(received_at, days, expected):
    assert compute_due_at(received_at, days, calendar=CAL, policy="civil_code") == expected


def test_policy_defaults_to_the_setting(settings):
    received = vn(2026, 3, 3, 9, 0)
    settings.DEADLINE_POLICY = "same_half"
    assert compute_due_at(received, 1, calendar=CAL) == vn(2026, 3, 4, 11, 30)
    settings.DEADLINE_POLICY = "civil_code"
    assert compute_due_at(received, 1, calendar=CAL) == vn(2026, 3, 4, 17, 0)


def test_unknown_policy_is_a_clear_error(settings):
    with pytest.raises(ValueError, match=r"Unknown deadline policy 'weekly'.*same_half, civil_code"):
        compute_due_at(vn(2026, 3, 3, 9), 1, calendar=CAL, policy="weekly")
    settings.DEADLINE_POLICY = "bogus"
    with pytest.raises(ValueError, match="Unknown deadline policy 'bogus'"):
        compute_due_at(vn(2026, 3, 3, 9), 1, calendar=CAL)


@pytest.mark.parametrize("days", [-1, Decimal("-0.5"), float("nan"), float("inf"), Decimal("NaN")])
def test_invalid_processing_days_are_refused(days):
    with pytest.raises(ValueError, match="processing_days"):
        compute_due_at(vn(2026, 3, 3, 9), days, calendar=CAL)


# --- Admin overrides through the database ---------------------------------------------------


@pytest.mark.django_db
def test_get_calendar_reads_overrides_in_one_query(django_assert_num_queries):
    CalendarOverride.objects.create(date=date(2026, 3, 4), kind=CalendarOverride.Kind.DAY_OFF)
    CalendarOverride.objects.create(date=date(2026, 3, 7), kind=CalendarOverride.Kind.WORKING_DAY)
    with django_assert_num_queries(1):
        calendar = get_calendar()
    assert calendar.extra_days_off == {date(2026, 3, 4)}
    assert calendar.extra_working_days == {date(2026, 3, 7)}


@pytest.mark.django_db
def test_extra_day_off_pushes_the_due_date():
    received = vn(2026, 3, 3, 9, 0)
    assert compute_due_at(received, 1) == vn(2026, 3, 4, 11, 30)
    CalendarOverride.objects.create(date=date(2026, 3, 4), kind=CalendarOverride.Kind.DAY_OFF, note="storm")
    assert compute_due_at(received, 1) == vn(2026, 3, 5, 11, 30)


@pytest.mark.django_db
def test_extra_working_day_pulls_the_due_date():
    received = vn(2026, 3, 6, 9, 0)  # Friday
    assert compute_due_at(received, 1) == vn(2026, 3, 9, 11, 30)
    CalendarOverride.objects.create(date=date(2026, 3, 7), kind=CalendarOverride.Kind.WORKING_DAY)
    assert compute_due_at(received, 1) == vn(2026, 3, 7, 11, 30)


@pytest.mark.django_db
def test_working_day_override_beats_a_public_holiday():
    received = vn(2026, 11, 23, 9, 0)
    assert compute_due_at(received, 1) == vn(2026, 11, 25, 11, 30)
    CalendarOverride.objects.create(date=date(2026, 11, 24), kind=CalendarOverride.Kind.WORKING_DAY)
    assert compute_due_at(received, 1) == vn(2026, 11, 24, 11, 30)


@pytest.mark.django_db
def test_office_hours_come_from_the_settings(settings):
    settings.OFFICE_HOURS = ((time(8, 0), time(12, 0)), (time(13, 0), time(17, 30)))
    assert get_calendar().sessions == settings.OFFICE_HOURS
    assert compute_due_at(vn(2026, 3, 3, 12, 30), 1) == vn(2026, 3, 4, 17, 30)  # lunch → 13:00 session
    assert compute_due_at(vn(2026, 3, 3, 7, 45), 1) == vn(2026, 3, 4, 12, 0)
    assert working_minutes_between(vn(2026, 3, 3, 0, 0), vn(2026, 3, 4, 0, 0)) == 8.5 * 60


# --- Working time: add_working_minutes / working_minutes_between --------------------------

WORKING_TIME_CASES = [
    # (start, minutes, end)
    (vn(2026, 3, 3, 10, 0), 60, vn(2026, 3, 3, 11, 0)),  # inside a session
    (vn(2026, 3, 3, 11, 0), 60, vn(2026, 3, 3, 14, 0)),  # across lunch
    (vn(2026, 3, 3, 12, 0), 30, vn(2026, 3, 3, 14, 0)),  # starting at lunch
    (vn(2026, 3, 3, 16, 30), 60, vn(2026, 3, 4, 8, 0)),  # across the night
    (vn(2026, 3, 3, 9, 0), 480, vn(2026, 3, 4, 9, 30)),  # 8 working hours
    (vn(2026, 3, 3, 7, 30), 450, vn(2026, 3, 3, 17, 0)),  # a whole day ends at 17:00, not next morning
    (vn(2026, 3, 6, 16, 0), 120, vn(2026, 3, 9, 8, 30)),  # across a weekend
    (vn(2026, 3, 8, 12, 0), 30, vn(2026, 3, 9, 8, 0)),  # starting on a Sunday
    (vn(2026, 8, 28, 16, 30), 60, vn(2026, 9, 3, 8, 0)),  # weekend + 31/8 + 1/9 + 2/9
    (vn(2026, 8, 21, 16, 30), 60, vn(2026, 8, 22, 8, 0)),  # onto the make-up Saturday
    (vn(2026, 2, 13, 16, 0), 90, vn(2026, 2, 23, 8, 0)),  # across Tết
    (vn(2026, 3, 3, 10, 0), 0.5, vn(2026, 3, 3, 10, 0) + timedelta(seconds=30)),
]


@pytest.mark.parametrize(("start", "minutes", "end"), WORKING_TIME_CASES)
def test_add_working_minutes(start, minutes, end):
    assert add_working_minutes(start, minutes, CAL) == end


@pytest.mark.parametrize(("start", "minutes", "end"), WORKING_TIME_CASES)
def test_working_minutes_between(start, minutes, end):
    assert working_minutes_between(start, end, CAL) == pytest.approx(minutes)


@pytest.mark.parametrize(
    ("start", "end", "minutes"),
    [
        (vn(2026, 3, 3, 12, 0), vn(2026, 3, 3, 13, 30), 0),  # lunch only
        (vn(2026, 3, 3, 17, 0), vn(2026, 3, 4, 7, 30), 0),  # night only
        (vn(2026, 2, 14, 0, 0), vn(2026, 2, 23, 0, 0), 0),  # Tết
        (vn(2026, 3, 3, 10, 0), vn(2026, 3, 3, 10, 0), 0),  # empty
        (vn(2026, 3, 3, 11, 0), vn(2026, 3, 3, 10, 0), 0),  # end before start
        (vn(2026, 3, 2, 0, 0), vn(2026, 3, 9, 0, 0), 5 * 450),  # an ordinary week
        (vn(2026, 8, 17, 0, 0), vn(2026, 8, 24, 0, 0), 6 * 450),  # a week with a make-up Saturday
    ],
)
def test_working_minutes_between_counts_only_office_sessions(start, end, minutes):
    assert working_minutes_between(start, end, CAL) == minutes


def test_add_working_minutes_from_a_moment_outside_office_hours_with_zero_minutes_is_that_moment():
    assert add_working_minutes(vn(2026, 3, 7, 10, 0), 0, CAL) == vn(2026, 3, 7, 10, 0)


def test_add_working_minutes_refuses_negative_minutes():
    with pytest.raises(ValueError, match="minutes"):
        add_working_minutes(vn(2026, 3, 3, 10, 0), -5, CAL)


def _starts_around_national_day():
    """Every 37 minutes over 26 Aug – 7 Sep 2026: sessions, lunch, nights, a weekend, the
    make-up-swapped Monday and both National Day holidays."""
    moment, last = vn(2026, 8, 26, 0, 0), vn(2026, 9, 7, 0, 0)
    while moment < last:
        yield moment
        moment += timedelta(minutes=37)


def _strictly_inside_or_at_end_of_a_session(moment):
    clock = moment.time()
    in_session = any(start < clock <= end for start, end in CAL.sessions)
    return in_session and CAL.is_working_day(moment.date())


@pytest.mark.parametrize("minutes", [1, 45, 210, 451, 2000])
def test_add_working_minutes_and_working_minutes_between_are_inverse(minutes):
    checked = 0
    for start in _starts_around_national_day():
        end = add_working_minutes(start, minutes, CAL)
        assert end > start
        assert working_minutes_between(start, end, CAL) == pytest.approx(minutes)
        assert _strictly_inside_or_at_end_of_a_session(end)
        # And the other way round, for ends inside office sessions.
        later = start + timedelta(minutes=minutes * 3 + 7)
        if _strictly_inside_or_at_end_of_a_session(later):
            assert add_working_minutes(start, working_minutes_between(start, later, CAL), CAL) == later
            checked += 1
    assert checked > 50


def test_a_financial_obligation_pause_moves_the_due_date_by_the_paused_working_time():
    due = compute_due_at(vn(2026, 3, 3, 9, 0), 5, calendar=CAL, policy="same_half")
    assert due == vn(2026, 3, 10, 11, 30)
    paused = working_minutes_between(vn(2026, 3, 4, 16, 30), vn(2026, 3, 5, 8, 0), CAL)  # 30 + 30
    assert paused == 60
    assert add_working_minutes(due, paused, CAL) == vn(2026, 3, 10, 14, 30)


# --- Calendar-day periods counted by the Civil Code (Art. 147.3, 148.1, 148.5, 148.6) ------------


@pytest.mark.parametrize(
    ("notice_at", "days", "ends"),
    [
        # Wed 25/11/2026 10:00 + 15: day 1 Thu 26/11, day 15 Thu 10/12 → 24:00 Thu 10/12.
        (vn(2026, 11, 25, 10, 0), 15, vn(2026, 12, 11, 0, 0)),
        # A notice at 23:59 or at 00:01 of the same day: the same end (the notice day is not counted).
        (vn(2026, 11, 25, 23, 59), 15, vn(2026, 12, 11, 0, 0)),
        (vn(2026, 11, 25, 0, 1), 15, vn(2026, 12, 11, 0, 0)),
        # Fri 04/12/2026 + 15: day 15 Sat 19/12 is a day off → the end of Mon 21/12.
        (vn(2026, 12, 4, 10, 0), 15, vn(2026, 12, 22, 0, 0)),
        # Mon 02/02/2026 + 15: day 15 Tue 17/02 is in Tết (16–20/02) → the end of Mon 23/02.
        (vn(2026, 2, 2, 9, 0), 15, vn(2026, 2, 24, 0, 0)),
        # Fri 07/08/2026 + 15: day 15 Sat 22/08 is a make-up working day → it ends that day.
        (vn(2026, 8, 7, 9, 0), 15, vn(2026, 8, 23, 0, 0)),
        # Days off inside the period are counted: Sat 12/12/2026 + 2 → Mon 14/12, a working day.
        (vn(2026, 12, 12, 9, 0), 2, vn(2026, 12, 15, 0, 0)),
    ],
)
def test_civil_period_end_counts_calendar_days_and_moves_past_days_off(notice_at, days, ends):
    assert civil_period_end(notice_at, days, CAL) == ends


def test_civil_period_end_follows_the_admin_days_off(db):
    # Thu 10/12/2026 made a day off: the period of a notice on Wed 25/11 moves to the end of Fri 11/12.
    CalendarOverride.objects.create(date=date(2026, 12, 10), kind=CalendarOverride.Kind.DAY_OFF)
    assert civil_period_end(vn(2026, 11, 25, 10, 0), 15, get_calendar()) == vn(2026, 12, 12, 0, 0)


@pytest.mark.parametrize("days", [0, -1, 1.5, True])
def test_civil_period_end_refuses_periods_that_are_not_whole_positive_days(days):
    with pytest.raises((TypeError, ValueError)):
        civil_period_end(vn(2026, 3, 2, 9, 0), days, CAL)


@pytest.mark.parametrize(
    ("moment", "close"),
    [
        (vn(2026, 3, 10, 8, 15), vn(2026, 3, 10, 11, 30)),
        (vn(2026, 3, 10, 11, 30), vn(2026, 3, 10, 11, 30)),
        (vn(2026, 3, 10, 12, 0), vn(2026, 3, 10, 17, 0)),
        (vn(2026, 3, 10, 6, 0), vn(2026, 3, 10, 11, 30)),
        (vn(2026, 3, 10, 17, 1), None),
        (vn(2026, 3, 7, 9, 0), None),  # Saturday
    ],
)
def test_session_close_at_or_after(moment, close):
    assert CAL.session_close_at_or_after(moment) == close
