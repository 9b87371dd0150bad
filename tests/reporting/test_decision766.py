"""The four Decision 766 definitions of issue 14, each on a few dossiers with dates worked out by hand
(2026 calendar, office hours 07:30–11:30 and 13:30–17:00; a 3-day procedure received on a morning is
due three working days later at 11:30). The randomised brute-force comparison of every cell is in
test_stats.py; here each definition has its own readable case."""

from datetime import date

import pytest

from dossiers.services import close_expired_supplements
from reporting import stats
from reporting.models import StatFact
from tests.factories import Office, vn

pytestmark = pytest.mark.django_db


def table(office, start, end):
    scope = frozenset({office.agency.pk})
    filters = stats.Filters(start=start, end=end, agency=None, field=None, exact=False, agency_ids=scope)
    return stats.progress_table(filters).total


def in_processing(office, at):
    dossier, _pin = office.receive(now=at)
    return office.act(dossier, "assign", now=at.replace(minute=30))


def test_a_pending_supplement_is_judged_at_the_request_not_when_the_due_day_passes():
    office = Office(code="H59.01")
    # Received Mon 02/03 09:00 → due Thu 05/03 11:30; supplement requested Tue 03/03 09:00, before it.
    before_due = in_processing(office, vn(2026, 3, 2, 9, 0))
    office.act(before_due, "request_supplement", now=vn(2026, 3, 3, 9, 0), comment="Thiếu bản sao")
    # Judged at the end of Tue 31/03, long after the old due day: still within time (the wait is not counted).
    march = table(office, date(2026, 3, 1), date(2026, 3, 31))
    assert (march["paused_on_time"], march["paused_overdue"]) == (1, 0)

    # Incomplete at intake Mon 09/03 09:00 (request 1), complete at 10:00 (accepted: due Thu 12/03 11:30),
    # a second request during processing at 11:00: a dossier with two requests is late at once.
    twice, _pin = office.receive(now=vn(2026, 3, 9, 9, 0), missing_documents=["Giấy chứng sinh"])
    office.act(twice, "supplement_received", user=office.reception, now=vn(2026, 3, 9, 10, 0))
    office.act(twice, "assign", now=vn(2026, 3, 9, 10, 30))
    office.act(twice, "request_supplement", now=vn(2026, 3, 9, 11, 0), comment="Thiếu tờ khai")
    same_day = table(office, date(2026, 3, 9), date(2026, 3, 9))
    assert (same_day["paused_on_time"], same_day["paused_overdue"]) == (1, 1)

    # Obligation requested Mon 23/03 09:00 of a dossier received Mon 16/03 09:00, due Thu 19/03 11:30:
    # the request came after the due date, so the pause is overdue.
    after_due = in_processing(office, vn(2026, 3, 16, 9, 0))
    office.act(after_due, "request_obligation", now=vn(2026, 3, 23, 9, 0), comment="Nộp lệ phí")
    march = table(office, date(2026, 3, 1), date(2026, 3, 31))
    assert (march["paused"], march["paused_on_time"], march["paused_overdue"]) == (3, 1, 2)


def test_waiting_for_a_financial_obligation_does_not_turn_overdue_on_the_old_due_date():
    office = Office(code="H59.02")
    # Received Mon 02/03 09:00 → due Thu 05/03 11:30; obligation requested Tue 03/03 10:00.
    dossier = in_processing(office, vn(2026, 3, 2, 9, 0))
    office.act(dossier, "request_obligation", now=vn(2026, 3, 3, 10, 0), comment="Nộp lệ phí")
    for end in (date(2026, 3, 5), date(2026, 3, 6), date(2026, 3, 13)):
        counts = table(office, date(2026, 3, 1), end)
        assert (counts["paused_on_time"], counts["paused_overdue"]) == (1, 0), end
    # Paid Fri 13/03 09:00. Paused working time: Tue 03/03 10:00–11:30 and 13:30–17:00 (300 min),
    # 7 full days Wed 04 → Thu 12 (7 × 450), Fri 13 07:30–09:00 (90): 3 540 minutes. The due date
    # Thu 05/03 11:30 moves by them: 210 (Thu pm) + 450 × 6 (Fri 06 → Fri 13) + 450 (Mon 16) = 3 360,
    # and 180 more from Tue 17/03 07:30 → Tue 17/03 10:30.
    dossier = office.act(dossier, "obligation_fulfilled", now=vn(2026, 3, 13, 9, 0))
    assert dossier.due_at == vn(2026, 3, 17, 10, 30)
    counts = table(office, date(2026, 3, 1), date(2026, 3, 13))
    assert (counts["in_progress_on_time"], counts["in_progress_overdue"], counts["paused"]) == (1, 0, 0)


def test_on_time_rate_is_finished_on_time_plus_still_within_time_over_everything_received():
    office = Office(code="H59.03")
    # Received Mon 02/03 09:00, result Tue 03/03 10:00: finished early (due Thu 05/03 11:30).
    early = in_processing(office, vn(2026, 3, 2, 9, 0))
    office.act(early, "propose_result", now=vn(2026, 3, 3, 9, 0), result="Cấp giấy")
    office.act(early, "approve", now=vn(2026, 3, 3, 10, 0))
    # Received Mon 02/03 09:00 → due Thu 05/03 11:30: open and overdue at the end of Tue 10/03.
    in_processing(office, vn(2026, 3, 2, 9, 0))
    # Received Tue 10/03 09:00 → due Fri 13/03 11:30: open and within time at the end of 10/03.
    in_processing(office, vn(2026, 3, 10, 9, 0))
    counts = table(office, date(2026, 3, 1), date(2026, 3, 10))
    assert (counts["finished_early"], counts["in_progress_overdue"], counts["in_progress_on_time"]) == (1, 1, 1)
    # (1 finished early + 1 still within time) / 3 received and handled; the old code said 100.0.
    assert counts["on_time_rate"] == 66.7


def test_refused_withdrawn_and_stopped_dossiers_are_judged_on_time_or_late():
    office = Office(code="H59.04")
    # Withdrawn Wed 04/03 before the due date Thu 05/03 11:30: on time.
    withdrawn_early = in_processing(office, vn(2026, 3, 2, 9, 0))
    office.act(withdrawn_early, "withdraw", now=vn(2026, 3, 4, 9, 0), comment="Công dân rút")
    # Withdrawn Fri 06/03, after the due date: late.
    withdrawn_late = in_processing(office, vn(2026, 3, 2, 9, 0))
    office.act(withdrawn_late, "withdraw", now=vn(2026, 3, 6, 9, 0), comment="Công dân rút")
    # Refused Wed 04/03 before the due date, but after two supplement requests: late.
    refused, _pin = office.receive(now=vn(2026, 3, 2, 8, 0), missing_documents=["Giấy chứng sinh"])
    office.act(refused, "supplement_received", user=office.reception, now=vn(2026, 3, 2, 9, 0))
    office.act(refused, "assign", now=vn(2026, 3, 2, 9, 30))
    office.act(refused, "request_supplement", now=vn(2026, 3, 2, 10, 0), comment="Thiếu tờ khai")
    office.act(refused, "supplement_received", now=vn(2026, 3, 3, 9, 0))
    office.act(refused, "refuse", now=vn(2026, 3, 4, 9, 0), comment="Không đủ điều kiện")
    # Stopped by the 15-day closure: supplement requested Tue 03/03 09:00 (before the due date
    # Thu 05/03 11:30) → closed at 24:00 of Wed 18/03. Ended while paused: judged at the request, on time.
    closed = in_processing(office, vn(2026, 3, 2, 9, 0))
    office.act(closed, "request_supplement", now=vn(2026, 3, 3, 9, 0), comment="Thiếu bản sao")
    assert close_expired_supplements(now=vn(2026, 3, 19, 8, 0)) == 1

    counts = table(office, date(2026, 3, 1), date(2026, 3, 31))
    assert (counts["withdrawn"], counts["withdrawn_late"]) == (2, 1)
    assert (counts["refused"], counts["refused_late"]) == (1, 1)
    assert (counts["stopped"], counts["stopped_late"]) == (1, 0)
    assert counts["received"] == 4
    # On time: the early withdrawal and the stop → 2 / 4.
    assert counts["on_time_rate"] == 50.0
    assert set(StatFact.objects.filter(late=True).values_list("dossier__code", flat=True)) == {
        withdrawn_late.code,
        refused.code,
    }
    listed = stats.metric_dossiers(
        "refused_late",
        stats.Filters(
            start=date(2026, 3, 1),
            end=date(2026, 3, 31),
            agency=None,
            field=None,
            exact=False,
            agency_ids=frozenset({office.agency.pk}),
        ),
    )
    refused.refresh_from_db()  # its code was given at acceptance (supplement received)
    assert list(listed.values_list("code", flat=True)) == [refused.code]
