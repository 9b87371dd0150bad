"""The rules of DESIGN.md §4 (Decree 118/2025/NĐ-CP) as the workflow service applies them.

Time is frozen by passing `now=` to every service call. Expected dates are worked out by hand
on the 2026 Vietnamese calendar (office hours 07:30–11:30 and 13:30–17:00; Tết 16–20 Feb;
National Day Tue 1 + Wed 2 Sep with Mon 31 Aug swapped for Sat 22 Aug).
"""

import hashlib
import hmac
import re
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils.dateparse import parse_datetime

from dossiers.models import Dossier, DossierEvent, DossierSequence, Pause, Stage, Status
from dossiers.services import (
    ActionInputError,
    WorkflowConflict,
    available_actions,
    close_expired_supplements,
    dossier_create,
)
from procedures import deadlines
from procedures.models import RequiredDocument, Role
from tests.factories import Office, make_agency, make_procedure, make_user, vn

pytestmark = pytest.mark.django_db

S = Status
MON = vn(2026, 3, 2, 9, 0)  # Monday 2 March 2026, 09:00: a 3-day dossier is due Thu 5 March 11:30
DUE = vn(2026, 3, 5, 11, 30)


def processing(office, now=MON):
    dossier, _pin = office.receive(now=now)
    return office.act(dossier, "assign", now=now)


def unchanged(dossier):
    return (
        Dossier.objects.filter(pk=dossier.pk).values().get(),
        DossierEvent.objects.filter(dossier=dossier).count(),
        Pause.objects.filter(dossier=dossier).count(),
    )


# --- Appointment date at receipt (Art. 17.3) ----------------------------------------------------


@pytest.mark.parametrize(
    ("received_at", "days", "cutoff", "due_at"),
    [
        # Morning in, morning out: 3 working days later, end of the morning session.
        (vn(2026, 3, 2, 9, 0), "3", None, vn(2026, 3, 5, 11, 30)),
        # Afternoon in, afternoon out.
        (vn(2026, 3, 2, 14, 0), "3", None, vn(2026, 3, 5, 17, 0)),
        # Saturday: counting starts on Monday morning.
        (vn(2026, 3, 7, 10, 0), "3", None, vn(2026, 3, 12, 11, 30)),
        # Friday afternoon before Tết: 16–20 Feb are holidays, so Mon 23, Tue 24, Wed 25 Feb.
        (vn(2026, 2, 13, 14, 0), "3", None, vn(2026, 2, 25, 17, 0)),
        # Half a day: the next session.
        (vn(2026, 3, 2, 9, 0), "0.5", None, vn(2026, 3, 2, 17, 0)),
        # Same-day certification with a 15:00 cut-off: before → today, after → next working day.
        (vn(2026, 3, 2, 14, 59), "0", time(15, 0), vn(2026, 3, 2, 17, 0)),
        (vn(2026, 3, 6, 15, 30), "0", time(15, 0), vn(2026, 3, 9, 17, 0)),
    ],
)
def test_due_date_is_set_at_receipt_by_the_deadline_engine(received_at, days, cutoff, due_at):
    office = Office(days=days, cutoff=cutoff)
    dossier, _pin = office.receive(now=received_at)
    assert dossier.received_at == received_at
    assert dossier.due_at == due_at
    assert dossier.due_at == deadlines.compute_due_at(received_at, Decimal(days), cutoff=cutoff)
    assert parse_datetime(dossier.events.get().data["due_at"]) == due_at


def test_online_submission_gets_its_due_date_when_accepted_not_when_submitted():
    office = Office()
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0), channel="online")
    assert dossier.due_at is None
    dossier = office.act(dossier, "receive", now=vn(2026, 3, 3, 14, 0))
    assert dossier.due_at == vn(2026, 3, 6, 17, 0)


# --- One supplement request at intake (Art. 11.2c, 16.3, 17.1c) ---------------------------------


def test_second_supplement_request_at_intake_is_refused():
    office = Office()
    dossier, _pin = office.receive(now=MON, missing_documents=["Giấy chứng sinh"])
    dossier = office.act(dossier, "supplement_received", user=office.reception, now=MON + timedelta(hours=2))
    assert (dossier.status, dossier.stage) == (S.RECEIVED, Stage.INTAKE)
    assert "request_supplement" not in available_actions(office.reception, dossier, now=MON + timedelta(hours=3))
    before = unchanged(dossier)
    with pytest.raises(WorkflowConflict):
        office.act(
            dossier,
            "request_supplement",
            user=office.reception,
            now=MON + timedelta(hours=3),
            comment="Thiếu tờ khai",
            missing_documents=["Tờ khai"],
        )
    assert unchanged(dossier) == before


def test_a_received_dossier_may_get_its_one_intake_supplement_request_later():
    office = Office()
    dossier, _pin = office.receive(now=MON)
    dossier = office.act(
        dossier, "request_supplement", user=office.reception, now=MON, comment="Thiếu", missing_documents="A\n\nB\n"
    )
    assert dossier.status == S.AWAITING_SUPPLEMENT
    assert dossier.events.last().data["missing_documents"] == ["A", "B"]
    dossier = office.act(dossier, "supplement_received", user=office.reception, now=MON + timedelta(hours=1))
    with pytest.raises(WorkflowConflict):
        office.act(dossier, "request_supplement", user=office.reception, now=MON + timedelta(hours=2), comment="x")


# --- Supplement during processing (Art. 19.5) ----------------------------------------------------


@pytest.mark.parametrize(
    ("received_at", "last_moment"),
    [
        # Received Monday: the 3 working days are Tue, Wed, Thu.
        (vn(2026, 3, 2, 9, 0), vn(2026, 3, 5, 17, 0)),
        # Received the Friday before Tết: Mon 23, Tue 24, Wed 25 Feb.
        (vn(2026, 2, 13, 9, 0), vn(2026, 2, 25, 17, 0)),
    ],
)
def test_processing_supplement_is_accepted_within_3_working_days_of_intake_only(received_at, last_moment):
    office = Office(days="10")
    late = processing(office, now=received_at)
    before = unchanged(late)
    with pytest.raises(WorkflowConflict):
        office.act(late, "request_supplement", now=last_moment + timedelta(minutes=1), comment="Thiếu giấy tờ")
    assert unchanged(late) == before
    assert "request_supplement" not in available_actions(office.specialist, late, now=last_moment + timedelta(hours=15))

    in_time = processing(office, now=received_at)
    assert "request_supplement" in available_actions(office.specialist, in_time, now=last_moment)
    in_time = office.act(in_time, "request_supplement", now=last_moment, comment="Thiếu giấy tờ")
    assert (in_time.status, in_time.stage, in_time.is_paused) == (S.AWAITING_SUPPLEMENT, Stage.PROCESSING, True)
    assert in_time.pauses.get().kind == Pause.Kind.SUPPLEMENT


def test_resubmitted_supplement_restarts_the_processing_period_from_zero():
    office = Office()
    dossier = processing(office)
    dossier = office.act(dossier, "request_supplement", now=vn(2026, 3, 3, 10, 0), comment="Thiếu giấy chứng sinh")
    back = vn(2026, 3, 9, 14, 0)  # Monday afternoon, a week later
    dossier = office.act(dossier, "supplement_received", now=back)
    assert (dossier.status, dossier.stage) == (S.PROCESSING, Stage.PROCESSING)
    # A fresh 3-day period from Monday afternoon: due Thursday 12 March at the end of the afternoon.
    assert dossier.due_at == vn(2026, 3, 12, 17, 0)
    assert dossier.received_at == MON  # the receipt date itself does not change
    assert parse_datetime(dossier.events.last().data["previous_due_at"]) == DUE
    assert dossier.pauses.get().ended_at == back
    # The specialist's step gets 70 % (10 % reception + 60 %) of the restarted period, counted from
    # the restart: 1,530 working minutes from Mon 14:00 to Thu 17:00, 70 % = 1,071 minutes →
    # Mon 180 + Tue 450 + Wed morning 240 + 201 minutes from 13:30 = Wed 11 March 16:51.
    assert dossier.period_started_at == back
    assert dossier.step_due_at == vn(2026, 3, 11, 16, 51)


# --- Supplements not completed within 15 days are closed (Art. 19.5) ------------------------------


def test_supplement_not_completed_within_15_days_closes_the_dossier_once():
    office = Office()
    waiting, _pin = office.receive(now=MON, missing_documents=["Giấy chứng sinh"])
    in_processing = processing(office)
    in_processing = office.act(in_processing, "request_supplement", now=MON, comment="Thiếu tờ khai")
    recent, _pin = office.receive(now=MON + timedelta(days=10), missing_documents=["Giấy chứng sinh"])
    # Civil Code: requested Mon 02/03 → day 1 is Tue 03/03, day 15 Tue 17/03 (a working day), so the
    # period ends at 24:00 of Tue 17/03 (= Wed 18/03 00:00), not at Mon 02/03 + 15 × 24 h.
    limit = vn(2026, 3, 18, 0, 0)

    assert close_expired_supplements(now=limit - timedelta(minutes=1)) == 0
    assert Dossier.objects.filter(status=S.AWAITING_SUPPLEMENT).count() == 3

    counts = {d.pk: d.events.count() for d in (waiting, in_processing, recent)}
    assert close_expired_supplements(now=limit) == 2
    for dossier in (waiting, in_processing):
        dossier.refresh_from_db()
        assert (dossier.status, dossier.stage, dossier.finished_at) == (S.STOPPED, Stage.CLOSED, limit)
        assert dossier.events.count() == counts[dossier.pk] + 1
        event = dossier.events.last()
        assert (event.action, event.actor, event.from_status, event.to_status) == (
            "stop",
            None,
            S.AWAITING_SUPPLEMENT,
            S.STOPPED,
        )
        assert "15" in event.comment
    assert in_processing.pauses.get().ended_at == limit
    recent.refresh_from_db()
    assert recent.status == S.AWAITING_SUPPLEMENT

    assert close_expired_supplements(now=limit + timedelta(minutes=1)) == 0
    assert {d.pk: d.events.count() for d in (waiting, in_processing)} == {
        waiting.pk: counts[waiting.pk] + 1,
        in_processing.pk: counts[in_processing.pk] + 1,
    }


# --- Waiting for a financial obligation pauses the clock -----------------------------------------


def working_minutes_by_hand(intervals):
    """Sum of (start, end) pieces of office time written out by hand in the test."""
    return sum((end - start).total_seconds() / 60 for start, end in intervals)


def test_financial_obligation_pause_over_national_day_moves_the_due_date_by_the_paused_working_time():
    office = Office(days="5")
    received = vn(2026, 8, 26, 9, 0)  # Wednesday
    dossier = processing(office, now=received)
    # Wed AM + 10 half-days: Wed PM, Thu ×2, Fri ×2, (Mon 31/8, Tue 1/9, Wed 2/9 off), Thu ×2, Fri ×2, Mon 7/9 AM.
    assert dossier.due_at == vn(2026, 9, 7, 11, 30)
    step_due = dossier.step_due_at

    dossier = office.act(dossier, "request_obligation", now=vn(2026, 8, 28, 15, 0), comment="Nộp lệ phí")  # Friday
    assert not dossier.is_overdue(now=vn(2026, 9, 30))  # paused: never overdue
    dossier = office.act(dossier, "obligation_fulfilled", now=vn(2026, 9, 3, 10, 0))  # Thursday after the holiday

    # Paused office time: Fri 28/8 15:00–17:00; Mon 31/8, Tue 1/9, Wed 2/9 are days off; Thu 3/9 07:30–10:00.
    paused = working_minutes_by_hand(
        [(vn(2026, 8, 28, 15, 0), vn(2026, 8, 28, 17, 0)), (vn(2026, 9, 3, 7, 30), vn(2026, 9, 3, 10, 0))]
    )
    assert paused == 270
    assert dossier.pauses.get().working_minutes == paused
    assert dossier.events.last().data["paused_working_minutes"] == paused
    # 270 minutes after Mon 7/9 11:30: the afternoon (210), then 60 minutes of Tuesday morning.
    assert dossier.due_at == vn(2026, 9, 8, 8, 30)
    # The running step's deadline moves by the same working time.
    assert deadlines.working_minutes_between(step_due, dossier.step_due_at) == paused


# --- Apology and extension letter (Art. 19.6, 12.5) ----------------------------------------------


def test_extension_the_day_before_the_due_date_keeps_the_original_date_and_is_allowed_once():
    office = Office()
    dossier = processing(office)
    eve = vn(2026, 3, 4, 16, 0)  # Wednesday, the day before the due date
    assert "extend" in available_actions(office.specialist, dossier, now=eve)
    dossier = office.act(dossier, "extend", now=eve, comment="Cần xác minh thêm", new_due_at="10/03/2026")
    assert dossier.original_due_at == DUE
    assert dossier.due_at == vn(2026, 3, 10, 17, 0)
    data = dossier.events.last().data
    assert parse_datetime(data["original_due_at"]) == DUE
    assert parse_datetime(data["new_due_at"]) == vn(2026, 3, 10, 17, 0)

    before = unchanged(dossier)
    with pytest.raises(WorkflowConflict):
        office.act(dossier, "extend", user=office.leader, now=eve, comment="Lần hai", new_due_at="2026-03-20")
    assert unchanged(dossier) == before
    assert "extend" not in available_actions(office.leader, dossier, now=eve)


def test_extension_on_the_due_date_is_refused():
    office = Office()
    dossier = processing(office)
    on_the_day = vn(2026, 3, 5, 7, 30)
    assert "extend" not in available_actions(office.specialist, dossier, now=on_the_day)
    before = unchanged(dossier)
    with pytest.raises(WorkflowConflict):
        office.act(dossier, "extend", now=on_the_day, comment="Muộn", new_due_at="10/03/2026")
    assert unchanged(dossier) == before


@pytest.mark.parametrize(
    ("value", "due_at"),
    [
        ("2026-03-10", vn(2026, 3, 10, 17, 0)),
        # A time: the close of the session it falls in (Art. 19.6: a working day, at a session's close).
        ("2026-03-10T09:00:00+07:00", vn(2026, 3, 10, 11, 30)),
        (vn(2026, 3, 10, 11, 30), vn(2026, 3, 10, 11, 30)),
    ],
)
def test_extension_accepts_dates_and_datetimes(value, due_at):
    office = Office()
    dossier = processing(office)
    dossier = office.act(dossier, "extend", now=vn(2026, 3, 3, 9, 0), comment="Lý do", new_due_at=value)
    assert dossier.due_at == due_at


@pytest.mark.parametrize("value", ["", "32/13/2026", "soon", "04/03/2026", "2026-03-01"])
def test_extension_with_a_bad_or_earlier_date_is_an_input_error(value):
    office = Office()
    dossier = processing(office)
    before = unchanged(dossier)
    with pytest.raises(ActionInputError) as info:
        office.act(dossier, "extend", now=vn(2026, 3, 3, 9, 0), comment="Lý do", new_due_at=value)
    assert "new_due_at" in info.value.errors
    assert unchanged(dossier) == before


# --- Refusal after appraisal must come before the due date (Art. 19.3) ---------------------------


def test_refusal_after_the_due_date_is_refused_and_before_it_is_accepted():
    office = Office()
    late = processing(office)
    after_due = DUE + timedelta(minutes=1)
    assert "refuse" not in available_actions(office.leader, late, now=after_due)
    before = unchanged(late)
    with pytest.raises(WorkflowConflict):
        office.act(late, "refuse", now=after_due, comment="Không đủ điều kiện")
    assert unchanged(late) == before

    in_time = processing(office)
    in_time = office.act(in_time, "refuse", now=DUE, comment="Không đủ điều kiện")
    assert (in_time.status, in_time.finished_at) == (S.REFUSED, DUE)


# --- Dossier codes (Art. 28) -----------------------------------------------------------------


def test_dossier_code_is_agency_date_and_a_daily_sequence():
    office = Office(code="000.01.21.H12")
    other = Office(code="000.02.22.H12")
    codes = [
        office.receive(now=vn(2026, 3, 2, 7, 0))[0].code,
        office.receive(now=vn(2026, 3, 2, 23, 59), channel="online")[0].code,
        other.receive(now=vn(2026, 3, 2, 10, 0))[0].code,
        # 00:01 in Vietnam is still 2 March in UTC: the local date counts.
        office.receive(now=vn(2026, 3, 3, 0, 1))[0].code,
        office.receive(now=vn(2026, 3, 3, 9, 0), channel="post")[0].code,
    ]
    # The online submission is not accepted yet: a provisional reference, not an Art. 28 code (it
    # uses no number of the agency's sequence; tests/dossiers/test_conformity.py accepts one).
    assert codes == [
        "000.01.21.H12-260302-0001",
        "TC-000.01.21.H12-260302-0001",
        "000.02.22.H12-260302-0001",
        "000.01.21.H12-260303-0001",
        "000.01.21.H12-260303-0002",
    ]
    assert all(re.fullmatch(r"[0-9A-Z.]+-\d{6}-\d{4}", code) for code in codes if not code.startswith("TC-"))


# --- Step deadlines and early / on time / late ---------------------------------------------------


def test_each_step_event_records_its_deadline_and_whether_it_was_early_on_time_or_late():
    office = Office()
    dossier, _pin = office.receive(now=MON)
    # Paper received before 15:00 goes to processing the same working day (Art. 18.2).
    assert dossier.step_due_at == vn(2026, 3, 2, 17, 0)
    dossier = office.act(dossier, "assign", now=vn(2026, 3, 2, 16, 0))
    assign = dossier.events.last()
    assert (assign.step_due_at, assign.step_outcome) == (vn(2026, 3, 2, 17, 0), "on_time")

    # The period Mon 09:00 → Thu 11:30 holds 360 + 450 + 450 + 240 = 1500 working minutes.
    # Reception 10 % + specialist 60 %: the specialist step ends after 1050 minutes, Wed 11:30.
    assert dossier.step_due_at == vn(2026, 3, 4, 11, 30)
    dossier = office.act(dossier, "request_obligation", now=vn(2026, 3, 2, 16, 30), comment="Lệ phí")
    dossier = office.act(dossier, "obligation_fulfilled", now=vn(2026, 3, 2, 16, 30))
    for event in dossier.events.filter(action__in=["request_obligation", "obligation_fulfilled"]):
        assert (event.step_due_at, event.step_outcome) == (None, "")  # no step ended
    dossier = office.act(dossier, "propose_result", now=vn(2026, 3, 3, 10, 0), result="Giấy khai sinh")
    propose = dossier.events.last()
    assert (propose.step_due_at, propose.step_outcome) == (vn(2026, 3, 4, 11, 30), "early")

    # Leader 20 % more: 1350 minutes, Thu 09:00.
    assert dossier.step_due_at == vn(2026, 3, 5, 9, 0)
    dossier = office.act(dossier, "approve", now=vn(2026, 3, 5, 10, 0))
    approve = dossier.events.last()
    assert (approve.step_due_at, approve.step_outcome) == (vn(2026, 3, 5, 9, 0), "late")

    assert dossier.step_due_at == DUE
    dossier = office.act(dossier, "return_result", now=vn(2026, 3, 5, 11, 0), collected_by="Nguyễn Văn An")
    returned = dossier.events.last()
    assert (returned.step_due_at, returned.step_outcome) == (DUE, "on_time")
    assert dossier.outcome == "on_time"


def test_late_intake_step_and_early_transfer_after_the_cutoff():
    office = Office()
    late, _pin = office.receive(now=MON)
    late = office.act(late, "assign", now=vn(2026, 3, 3, 8, 0))
    assert (late.events.last().step_due_at, late.events.last().step_outcome) == (vn(2026, 3, 2, 17, 0), "late")

    # Received after the 15:00 cut-off: transferred at the start of the next working day (Art. 18.2;
    # within its first working hour: Mon 07:30 + 60 min = 08:30).
    early, _pin = office.receive(now=vn(2026, 3, 6, 15, 30))  # Friday
    assert early.step_due_at == vn(2026, 3, 9, 8, 30)
    early = office.act(early, "assign", now=vn(2026, 3, 6, 16, 0))
    assert (early.events.last().step_due_at, early.events.last().step_outcome) == (vn(2026, 3, 9, 8, 30), "early")


def test_accepting_an_online_submission_closes_the_8_working_hour_step():
    office = Office()
    dossier, _pin = office.receive(now=MON, channel="online")
    # 8 working hours from Mon 09:00: 150 + 210 minutes on Monday, then 120 on Tuesday → 09:30.
    assert dossier.step_due_at == vn(2026, 3, 3, 9, 30)
    dossier = office.act(dossier, "receive", now=vn(2026, 3, 3, 10, 0))
    receive = dossier.events.last()
    assert (receive.step_due_at, receive.step_outcome) == (vn(2026, 3, 3, 9, 30), "late")
    # Art. 18.2 is about paper dossiers: the accepted online dossier's intake step takes the
    # reception step's 10 %. Due Fri 06/03 11:30; Tue 10:00 → Fri 11:30 holds 300 + 450 + 450 + 240
    # = 1440 working minutes; 144 of them from Tue 10:00 end at Tue 14:24.
    assert dossier.step_due_at == vn(2026, 3, 3, 14, 24)


def test_a_step_judged_on_the_due_day_before_the_deadline_is_on_time():
    office = Office()
    dossier = processing(office)
    dossier = office.act(dossier, "propose_result", now=vn(2026, 3, 4, 11, 30), result="x")
    assert dossier.events.last().step_outcome == "on_time"


# --- The dossier keeps the procedure as it was at receipt -----------------------------------------


def test_dossier_keeps_its_procedure_version_and_snapshot_when_the_procedure_changes():
    office = Office()
    dossier = processing(office)
    assert dossier.procedure_version == 1
    snapshot = dict(dossier.procedure_snapshot)
    assert (snapshot["name"], Decimal(snapshot["processing_days"]), snapshot["version"]) == ("Đăng ký khai sinh", 3, 1)
    assert [d["name"] for d in snapshot["documents"]] == ["Tờ khai đăng ký khai sinh", "Giấy chứng sinh"]
    assert [s["role"] for s in snapshot["workflow"]] == ["reception", "specialist", "leader", "reception"]

    procedure = office.procedure
    procedure.name = "Đăng ký khai sinh (sửa đổi)"
    procedure.processing_days = Decimal("10")
    procedure.version = 2
    procedure.save()
    procedure.documents.all().delete()
    RequiredDocument.objects.create(procedure=procedure, name="Giấy tờ mới")
    procedure.workflow_steps.all().delete()

    dossier = Dossier.objects.get(pk=dossier.pk)
    assert dossier.procedure_version == 1
    assert dossier.procedure_snapshot == snapshot
    assert dossier.due_at == DUE
    # Later deadlines still use the 3 days of the snapshot, and the leader step it contained.
    dossier = office.act(dossier, "request_supplement", now=vn(2026, 3, 3, 9, 0), comment="Thiếu")
    dossier = office.act(dossier, "supplement_received", now=vn(2026, 3, 9, 9, 0))
    assert dossier.due_at == vn(2026, 3, 12, 11, 30)
    with pytest.raises(WorkflowConflict):
        office.act(dossier, "mark_result_ready", now=vn(2026, 3, 9, 10, 0), result="x")

    fresh, _pin = office.receive(now=MON)
    assert (fresh.procedure_version, fresh.procedure_snapshot["name"]) == (2, "Đăng ký khai sinh (sửa đổi)")


# --- The lookup PIN is stored hashed ------------------------------------------------------------


def test_pin_is_stored_only_as_a_keyed_hash_and_check_pin_works():
    office = Office()
    dossier, pin = office.receive(
        now=MON, applicant_id_number="", applicant_phone="", applicant_email="", applicant_address="Thôn Bản Mòng"
    )
    assert re.fullmatch(r"\d{6}", pin)
    row = Dossier.objects.filter(pk=dossier.pk).values().get()
    assert all(pin not in str(value) for value in row.values())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Dossier._meta.db_table} WHERE id = %s", [dossier.pk])  # noqa: S608
        assert all(pin not in str(value) for value in cursor.fetchone())
    assert all(pin not in str(event) for event in DossierEvent.objects.filter(dossier=dossier).values())

    key = (settings.PIN_HASH_KEY or settings.SECRET_KEY).encode()
    assert dossier.pin_hash == hmac.new(key, f"{dossier.code}:{pin}".encode(), hashlib.sha256).hexdigest()
    assert dossier.check_pin(pin)
    assert dossier.check_pin(f" {pin} ")
    assert not dossier.check_pin(f"{(int(pin) + 1) % 10**6:06d}")
    assert not dossier.check_pin("")
    assert not dossier.check_pin(None)
    other, other_pin = office.receive(now=MON)
    assert not other.check_pin(pin) or other_pin == pin
    assert other.pin_hash != dossier.pin_hash


def test_only_a_reception_officer_of_the_desk_creates_a_dossier_and_bad_input_is_refused():
    office = Office()
    stranger = make_user("khach", agency=make_agency(), role=Role.RECEPTION)
    with pytest.raises(PermissionDenied):
        dossier_create(
            actor=stranger, procedure=office.procedure, applicant_name="Lò Văn Páo", receiving_agency=office.agency
        )
    with pytest.raises(PermissionDenied):
        dossier_create(
            actor=office.specialist,
            procedure=office.procedure,
            applicant_name="Lò Văn Páo",
            receiving_agency=office.agency,
        )
    with pytest.raises(ActionInputError) as info:
        dossier_create(actor=office.reception, procedure=office.procedure, applicant_name="  ")
    assert "applicant_name" in info.value.errors
    with pytest.raises(ActionInputError) as info:
        dossier_create(actor=office.reception, procedure=office.procedure, applicant_name="An", channel="fax")
    assert "channel" in info.value.errors
    unpublished = make_procedure(agencies=[office.agency])
    unpublished.published = False
    unpublished.save()
    with pytest.raises(ActionInputError) as info:
        dossier_create(actor=office.reception, procedure=unpublished, applicant_name="An")
    assert "procedure" in info.value.errors
    assert not Dossier.objects.exists()
    assert not DossierSequence.objects.exists()
