"""Deadline reminders (dossiers/reminders.py), the tick's claims (dossiers/tasks.py) and the
citizen notifications written by the workflow service (dossiers/notifications.py).

Dossiers are brought to their state through the real services with explicit `now=`; scans run
at explicit moments. Expected dates are written by hand from the 2026 calendar facts in
docs/deadlines.md: Monday 2 March is a working Monday; 22/08 (Saturday) is a make-up working
day for Monday 31/08; 31/08, 01/09 and 02/09 are days off; 03/09 is a working Thursday.
"""

import threading
from datetime import date, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from dossiers.models import OPEN_STATUSES, PAUSED_STATUSES, Dossier, Status
from dossiers.services import WorkflowConflict
from notifications import reminders, tasks
from notifications.models import Notification, NotificationChannel, Reminder, ReminderKind, ReminderPolicy
from procedures import deadlines
from procedures.models import Role
from tests.factories import VN, Office, make_user, vn

K = ReminderKind


def key(moment):
    """A deadline as the thresholds name it: local ISO time."""
    return moment.astimezone(VN).isoformat()


def reminder_set(dossier):
    return set(Reminder.objects.filter(dossier=dossier).values_list("kind", "threshold"))


def processing_dossier(office, received, **kwargs):
    """Received at `received`, transferred to the office's specialist five minutes later."""
    dossier, _pin = office.receive(now=received, **kwargs)
    return office.act(dossier, "assign", now=received + timedelta(minutes=5), assignee=office.specialist.username)


@pytest.fixture
def office(db):
    office = Office(days="3")
    office.specialist.email = "chuyenvien@example.com"
    office.specialist.save()
    return office


# --- Thresholds ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_due_monday_after_a_weekend_is_due_soon_on_friday_then_due_today_then_overdue_daily(office):
    # Received Wed 4/3 09:00, 3 working days, same half → due Mon 9/3 11:30.
    dossier = processing_dossier(office, vn(2026, 3, 4, 9, 0))
    due = vn(2026, 3, 9, 11, 30)
    assert dossier.due_at == due
    # The processing step (70 % of the period) ends Fri 6/3 11:30.
    assert dossier.step_due_at == vn(2026, 3, 6, 11, 30)
    prompt = (K.EXTENSION_PROMPT, due.isoformat())

    reminders.scan(vn(2026, 3, 5, 10, 0))  # Thursday: Monday is two working days away
    assert reminder_set(dossier) == {prompt}

    reminders.scan(vn(2026, 3, 6, 10, 0))  # Friday: the next working day is Monday
    assert reminder_set(dossier) == {prompt, (K.DUE_SOON, due.isoformat())}

    reminders.scan(vn(2026, 3, 6, 14, 0))  # Friday afternoon: the step deadline has passed
    step = (K.STEP_OVERDUE, f"processing:{vn(2026, 3, 6, 11, 30).isoformat()}")
    assert reminder_set(dossier) == {prompt, (K.DUE_SOON, due.isoformat()), step}

    assert reminders.scan(vn(2026, 3, 7, 10, 0)) == 0  # Saturday
    assert reminders.scan(vn(2026, 3, 8, 10, 0)) == 0  # Sunday

    reminders.scan(vn(2026, 3, 9, 8, 0))  # Monday morning: due today
    assert (K.DUE_TODAY, due.isoformat()) in reminder_set(dossier)
    assert not any(kind == K.OVERDUE for kind, _t in reminder_set(dossier))


@pytest.mark.django_db
def test_overdue_reminder_once_per_working_day_and_none_at_the_weekend(office):
    dossier = processing_dossier(office, vn(2026, 3, 4, 9, 0))  # due Mon 9/3 11:30

    def overdue_days():
        return sorted(t for kind, t in reminder_set(dossier) if kind == K.OVERDUE)

    reminders.scan(vn(2026, 3, 9, 14, 0))
    reminders.scan(vn(2026, 3, 9, 16, 45))  # a second scan the same day
    assert overdue_days() == ["2026-03-09"]

    reminders.scan(vn(2026, 3, 10, 7, 30))
    assert overdue_days() == ["2026-03-09", "2026-03-10"]

    reminders.scan(vn(2026, 3, 14, 9, 0))  # Saturday
    reminders.scan(vn(2026, 3, 15, 9, 0))  # Sunday
    assert overdue_days() == ["2026-03-09", "2026-03-10"]

    reminders.scan(vn(2026, 3, 16, 7, 45))  # Monday
    assert overdue_days() == ["2026-03-09", "2026-03-10", "2026-03-16"]


@pytest.mark.django_db
def test_due_on_the_day_after_the_national_day_holiday_is_due_soon_on_the_friday_before(office):
    # Received Thu 27/8 09:00, 2 working days (Thu pm, Fri am, Fri pm, then 31/8–2/9 off) → Thu 3/9 11:30.
    office.procedure.processing_days = 2
    office.procedure.save()
    dossier = processing_dossier(office, vn(2026, 8, 27, 9, 0))
    due = vn(2026, 9, 3, 11, 30)
    assert dossier.due_at == due

    reminders.scan(vn(2026, 8, 27, 10, 0))  # Thu: the next working day is Fri 28/8
    assert (K.DUE_SOON, due.isoformat()) not in reminder_set(dossier)
    # …but Thu 3/9 is already the second working day: the apology letter prompt starts.
    assert (K.EXTENSION_PROMPT, due.isoformat()) in reminder_set(dossier)

    reminders.scan(vn(2026, 8, 28, 10, 0))  # Fri 28/8: the next working day is Thu 3/9
    assert (K.DUE_SOON, due.isoformat()) in reminder_set(dossier)

    before = reminder_set(dossier)
    for day in (29, 30, 31):  # weekend and the first day off
        reminders.scan(vn(2026, 8, day, 10, 0))
    reminders.scan(vn(2026, 9, 1, 10, 0))
    reminders.scan(vn(2026, 9, 2, 10, 0))
    assert reminder_set(dossier) - before <= {(K.STEP_OVERDUE, f"processing:{key(dossier.step_due_at)}")}

    reminders.scan(vn(2026, 9, 3, 7, 30))
    assert (K.DUE_TODAY, due.isoformat()) in reminder_set(dossier)


@pytest.mark.django_db
def test_make_up_saturday_counts_as_a_working_day(office):
    # Sat 22/8/2026 is a make-up working day (for Mon 31/8).
    office.procedure.processing_days = 1
    office.procedure.save()
    # Received Fri 21/8 09:00, 1 day → Sat 22/8 11:30 (docs/deadlines.md).
    overdue = processing_dossier(office, vn(2026, 8, 21, 9, 0))
    assert overdue.due_at == vn(2026, 8, 22, 11, 30)
    # Received on the make-up Saturday 22/8 09:00, 1 day → Mon 24/8 11:30.
    due_monday = processing_dossier(office, vn(2026, 8, 22, 9, 0))
    assert due_monday.due_at == vn(2026, 8, 24, 11, 30)

    reminders.scan(vn(2026, 8, 22, 14, 0))  # the make-up Saturday afternoon
    assert (K.OVERDUE, "2026-08-22") in reminder_set(overdue)
    assert (K.DUE_SOON, key(due_monday.due_at)) in reminder_set(due_monday)

    reminders.scan(vn(2026, 8, 23, 10, 0))  # an ordinary Sunday: no overdue reminder
    assert (K.OVERDUE, "2026-08-23") not in reminder_set(overdue)


@pytest.mark.django_db
def test_step_deadline_passed_gives_one_reminder_per_step_deadline(office):
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))
    # Paper accepted before the 15:00 cut-off goes to the processing agency the same day.
    assert dossier.step_due_at == vn(2026, 3, 2, 17, 0)
    reminders.scan(vn(2026, 3, 2, 16, 59))
    assert reminder_set(dossier) == set()
    reminders.scan(vn(2026, 3, 2, 17, 1))
    reminders.scan(vn(2026, 3, 3, 8, 0))
    assert reminder_set(dossier) == {(K.STEP_OVERDUE, f"intake:{vn(2026, 3, 2, 17, 0).isoformat()}")}


@pytest.mark.django_db
def test_extension_prompt_only_while_an_extension_is_still_possible(office):
    # Received Mon 2/3 09:00, 3 days → due Thu 5/3 11:30.
    due = vn(2026, 3, 5, 11, 30)
    prompted = processing_dossier(office, vn(2026, 3, 2, 9, 0))
    at_intake, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))
    extended = processing_dossier(office, vn(2026, 3, 2, 9, 0))
    assert prompted.due_at == at_intake.due_at == extended.due_at == due
    office.act(extended, "extend", now=vn(2026, 3, 2, 11, 0), comment="Cần xác minh", new_due_at="13/03/2026")

    def prompts(dossier):
        return {t for kind, t in reminder_set(dossier) if kind == K.EXTENSION_PROMPT}

    reminders.scan(vn(2026, 3, 2, 14, 0))  # Mon: Thursday is three working days away
    assert prompts(prompted) == set()
    reminders.scan(vn(2026, 3, 3, 9, 0))  # Tue: within two working days
    assert prompts(prompted) == {due.isoformat()}
    assert prompts(at_intake) == set()  # the letter cannot be issued at intake

    reminders.scan(vn(2026, 3, 11, 9, 0))  # the extended one, two working days before 13/3
    assert prompts(extended) == set()  # rescheduled once already: no second extension


@pytest.mark.django_db
def test_a_dossier_due_at_the_close_of_the_furthest_day_is_not_missed(office):
    # Received Mon 2/3 14:00 (afternoon), 3 days → due Thu 5/3 17:00, the very end of the day
    # the extension prompt looks ahead to on Tuesday.
    dossier = processing_dossier(office, vn(2026, 3, 2, 14, 0))
    assert dossier.due_at == vn(2026, 3, 5, 17, 0)
    reminders.scan(vn(2026, 3, 3, 10, 0))
    assert (K.EXTENSION_PROMPT, vn(2026, 3, 5, 17, 0).isoformat()) in reminder_set(dossier)


@pytest.mark.django_db
def test_no_extension_prompt_on_the_due_date_itself(office):
    dossier = processing_dossier(office, vn(2026, 3, 2, 9, 0))  # due Thu 5/3 11:30
    reminders.scan(vn(2026, 3, 5, 8, 0))
    assert reminder_set(dossier) == {
        (K.DUE_TODAY, key(dossier.due_at)),
        (K.STEP_OVERDUE, f"processing:{key(dossier.step_due_at)}"),
    }
    # And the service agrees: the letter can no longer be issued today.
    with pytest.raises(WorkflowConflict):
        office.act(dossier, "extend", now=vn(2026, 3, 5, 8, 0), comment="Lý do", new_due_at="13/03/2026")


@pytest.mark.django_db
def test_paused_dossiers_get_no_reminders(office):
    waiting_obligation = processing_dossier(office, vn(2026, 3, 2, 9, 0))
    office.act(waiting_obligation, "request_obligation", now=vn(2026, 3, 2, 10, 0), comment="Nộp lệ phí")
    waiting_supplement = processing_dossier(office, vn(2026, 3, 2, 9, 0))
    office.act(
        waiting_supplement,
        "request_supplement",
        now=vn(2026, 3, 2, 10, 0),
        comment="Thiếu giấy tờ",
        missing_documents=["Giấy chứng sinh"],
    )
    at_intake_supplement, _pin = office.receive(now=vn(2026, 3, 2, 9, 0), missing_documents=["Tờ khai"])
    for moment in (vn(2026, 3, 4, 10, 0), vn(2026, 3, 5, 8, 0), vn(2026, 3, 9, 14, 0)):
        reminders.scan(moment)
    assert (
        Reminder.objects.filter(dossier__in=[waiting_obligation, waiting_supplement, at_intake_supplement]).count() == 0
    )


@pytest.mark.django_db
def test_finished_dossiers_get_no_more_reminders(office):
    dossier = processing_dossier(office, vn(2026, 3, 2, 9, 0))
    reminders.scan(vn(2026, 3, 5, 14, 0))  # overdue
    count = Reminder.objects.filter(dossier=dossier).count()
    office.act(dossier, "propose_result", now=vn(2026, 3, 5, 15, 0), result="Cấp giấy khai sinh")
    office.act(dossier, "approve", now=vn(2026, 3, 5, 15, 30))
    reminders.scan(vn(2026, 3, 6, 9, 0))
    assert Reminder.objects.filter(dossier=dossier).count() == count


@pytest.mark.django_db
def test_a_second_scan_creates_nothing(office):
    processing_dossier(office, vn(2026, 3, 2, 9, 0))
    office.receive(now=vn(2026, 3, 2, 9, 0))
    now = vn(2026, 3, 5, 14, 0)
    assert reminders.scan(now) > 0
    counts = (Reminder.objects.count(), Notification.objects.count())
    assert reminders.scan(now) == 0
    assert reminders.scan(now + timedelta(minutes=15)) == 0
    assert (Reminder.objects.count(), Notification.objects.count()) == counts


@pytest.mark.django_db
def test_candidates_are_processed_in_batches_without_missing_any(office, monkeypatch):
    monkeypatch.setattr(reminders, "BATCH", 3)  # a size constant (not behaviour): small batches
    dossiers = [office.receive(now=vn(2026, 3, 2, 9, 0))[0] for _ in range(7)]
    far, _pin = office.receive(now=vn(2026, 3, 4, 8, 0))  # due Mon 9/3, step due Wed 17:00: not a candidate
    now = vn(2026, 3, 4, 9, 0)
    calendar = deadlines.get_calendar()
    policy = ReminderPolicy.get()
    assert [len(b) for b in reminders.candidates(now, calendar, policy)] == [3, 3, 1]
    assert far.pk not in reminders.candidate_ids(now, calendar, policy)
    reminders.scan(now)
    for dossier in dossiers:
        assert (K.DUE_SOON, key(dossier.due_at)) in reminder_set(dossier)


# --- Recipients -----------------------------------------------------------------------------------


def notifications_of(dossier, kind):
    return set(
        Notification.objects.filter(dossier=dossier, kind=f"reminder.{kind}").values_list(
            "recipient__username", "channel", "address"
        )
    )


@pytest.mark.django_db
def test_reminders_go_to_the_assignee_and_the_leaders_in_the_app_and_by_email_when_they_have_one(office):
    other_leader = make_user("lanhdao2", agency=office.agency, role=Role.LEADER, email="ld2@example.com")
    dossier = processing_dossier(office, vn(2026, 3, 2, 9, 0))
    reminders.scan(vn(2026, 3, 5, 8, 0))
    assert notifications_of(dossier, K.DUE_TODAY) == {
        (office.specialist.username, NotificationChannel.IN_APP, ""),
        (office.specialist.username, NotificationChannel.EMAIL, "chuyenvien@example.com"),
        (office.leader.username, NotificationChannel.IN_APP, ""),  # no address: in the app only
        (other_leader.username, NotificationChannel.IN_APP, ""),
        (other_leader.username, NotificationChannel.EMAIL, "ld2@example.com"),
    }
    # Other specialists and the reception desk are not bothered.
    assert not Notification.objects.filter(recipient=office.reception).exists()


@pytest.mark.django_db
def test_reminders_at_intake_go_to_the_reception_desk(office):
    office.reception.email = "tiepnhan@example.com"
    office.reception.save()
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))
    reminders.scan(vn(2026, 3, 2, 17, 30))
    assert notifications_of(dossier, K.STEP_OVERDUE) == {
        (office.reception.username, NotificationChannel.IN_APP, ""),
        (office.reception.username, NotificationChannel.EMAIL, "tiepnhan@example.com"),
        (office.leader.username, NotificationChannel.IN_APP, ""),
    }


@pytest.mark.django_db
def test_policy_can_switch_off_leaders_and_officer_email(office):
    policy = ReminderPolicy.get()
    policy.notify_leaders = False
    policy.email_officers = False
    policy.save()
    dossier = processing_dossier(office, vn(2026, 3, 2, 9, 0))
    reminders.scan(vn(2026, 3, 5, 8, 0))
    assert notifications_of(dossier, K.DUE_TODAY) == {(office.specialist.username, NotificationChannel.IN_APP, "")}


@pytest.mark.django_db
def test_reminder_texts_name_the_dossier_and_its_deadline(office):
    dossier = processing_dossier(office, vn(2026, 3, 4, 9, 0))
    reminders.scan(vn(2026, 3, 6, 10, 0))
    note = Notification.objects.get(
        dossier=dossier, kind="reminder.due_soon", recipient=office.specialist, channel=NotificationChannel.EMAIL
    )
    assert dossier.code in note.subject
    assert "11:30 09/03/2026" in note.body
    assert f"/can-bo/ho-so/{dossier.code}/" in note.body
    assert note.state == Notification.State.PENDING
    in_app = Notification.objects.get(
        dossier=dossier, kind="reminder.due_soon", recipient=office.specialist, channel=NotificationChannel.IN_APP
    )
    assert in_app.state == Notification.State.SENT  # delivered by being written
    assert in_app.link == f"/can-bo/ho-so/{dossier.code}/"


# --- Digests and the tick's claims -------------------------------------------------------------


@pytest.mark.django_db
def test_morning_digest_once_per_officer_per_working_day(office):
    processing_dossier(office, vn(2026, 3, 2, 9, 0))  # due Thu 5/3 11:30
    office.receive(now=vn(2026, 3, 2, 9, 0))  # at the desk
    # A supervisor has nothing waiting for them (the workspace tab is empty too): no digest.
    idle = make_user("idle", agency=office.agency, role=Role.SUPERVISOR, email="idle@example.com")

    morning = vn(2026, 3, 5, 7, 30)
    tasks.run_tick(morning)
    tasks.run_tick(morning + timedelta(minutes=1))
    digests = Notification.objects.filter(kind="digest")
    assert set(digests.values_list("recipient__username", "channel")) == {
        (office.specialist.username, NotificationChannel.IN_APP),
        (office.specialist.username, NotificationChannel.EMAIL),
        (office.reception.username, NotificationChannel.IN_APP),
        (office.leader.username, NotificationChannel.IN_APP),
    }
    assert not digests.filter(recipient=idle).exists()  # nothing waiting: no digest
    body = digests.get(recipient=office.specialist, channel=NotificationChannel.EMAIL).body
    assert "Hồ sơ đang chờ anh/chị: 1" in body
    assert "Quá hạn: 0" in body

    # Not before the digest time, not at the weekend; again the next working morning.
    assert "digests" not in tasks.run_tick(vn(2026, 3, 6, 7, 0))
    assert "digests" not in tasks.run_tick(vn(2026, 3, 7, 8, 0))
    tasks.run_tick(vn(2026, 3, 6, 7, 31))
    assert digests.filter(recipient=office.specialist).count() == 4


@pytest.mark.django_db
def test_send_digests_twice_writes_nothing_new(office):
    processing_dossier(office, vn(2026, 3, 2, 9, 0))
    assert reminders.send_digests(vn(2026, 3, 3, 7, 30)) > 0
    assert reminders.send_digests(vn(2026, 3, 3, 9, 30)) == 0


@pytest.mark.django_db
def test_tick_scans_once_per_interval_and_only_in_office_hours(office):
    dossier = processing_dossier(office, vn(2026, 3, 2, 9, 0))
    assert "scan" not in tasks.run_tick(vn(2026, 3, 5, 6, 0))  # before office hours
    assert "scan" not in tasks.run_tick(vn(2026, 3, 7, 9, 0))  # Saturday
    first = tasks.run_tick(vn(2026, 3, 5, 8, 0))
    assert first["scan"] > 0
    assert "scan" not in tasks.run_tick(vn(2026, 3, 5, 8, 1))  # a second beat / a re-delivered tick
    assert "scan" not in tasks.run_tick(vn(2026, 3, 5, 8, 14))
    assert "scan" in tasks.run_tick(vn(2026, 3, 5, 8, 15))  # the next slot

    # Admins change the interval in the ReminderPolicy row; the next tick follows it.
    ReminderPolicy.objects.update(scan_interval_minutes=60)
    assert "scan" not in tasks.run_tick(vn(2026, 3, 5, 8, 45))
    assert "scan" in tasks.run_tick(vn(2026, 3, 5, 9, 15))
    assert (K.DUE_TODAY, key(dossier.due_at)) in reminder_set(dossier)


@pytest.mark.django_db
def test_management_command_scans_and_delivers_for_cron_sites(office, mailoutbox):
    dossier = processing_dossier(office, vn(2026, 3, 2, 9, 0))  # due Thu 5/3 11:30, step due Wed 11:30
    out = StringIO()
    with time_machine.travel(vn(2026, 3, 5, 8, 0), tick=False):
        call_command("send_deadline_reminders", stdout=out)
        call_command("send_deadline_reminders", stdout=StringIO())
    assert out.getvalue().strip()
    to_specialist = sorted(m.subject for m in mailoutbox if m.to == ["chuyenvien@example.com"])
    # Due today + step overdue, and the morning digest (07:30 has passed); once each.
    assert to_specialist == sorted(
        [
            f"Hồ sơ {dossier.code} đến hạn hôm nay",
            f"Hồ sơ {dossier.code}: bước xử lý đã quá hạn",
            "Tổng hợp hồ sơ ngày 05/03/2026",
        ]
    )
    assert [m.to for m in mailoutbox if m.to != ["chuyenvien@example.com"]] == [["an@example.com"]]


# --- Citizen notifications ----------------------------------------------------------------------


def citizen_rows(dossier, kind):
    return set(Notification.objects.filter(dossier=dossier, kind=kind).values_list("channel", "address", "state"))


BOTH = {
    (NotificationChannel.EMAIL, "an@example.com", Notification.State.PENDING),
    (NotificationChannel.SMS, "0912345678", Notification.State.PENDING),
}


@pytest.mark.django_db
def test_citizen_is_notified_on_receipt_by_email_and_sms(office):
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))
    assert citizen_rows(dossier, "citizen.received") == BOTH
    email = Notification.objects.get(dossier=dossier, kind="citizen.received", channel=NotificationChannel.EMAIL)
    assert email.subject == f"Hồ sơ {dossier.code} đã được tiếp nhận"
    assert "Ngày hẹn trả kết quả: 11:30 05/03/2026" in email.body
    assert f"/tra-cuu/?ma={dossier.code}" in email.body
    assert "001099012345" not in email.body  # no identity number in messages


@pytest.mark.django_db
def test_citizen_is_notified_of_supplement_refusal_result_and_extension(office):
    incomplete, _pin = office.receive(now=vn(2026, 3, 2, 9, 0), missing_documents=["Giấy chứng sinh", "Tờ khai"])
    assert citizen_rows(incomplete, "citizen.supplement") == BOTH
    body = Notification.objects.get(dossier=incomplete, kind="citizen.supplement", channel="email").body
    assert "- Giấy chứng sinh\n- Tờ khai" in body

    refused, _pin = office.receive(now=vn(2026, 3, 2, 9, 0), missing_documents=["Tờ khai"])
    office.act(refused, "refuse", user=office.reception, now=vn(2026, 3, 3, 9, 0), comment="Không thuộc thẩm quyền")
    assert citizen_rows(refused, "citizen.refused") == BOTH
    assert (
        "Không thuộc thẩm quyền"
        in Notification.objects.get(dossier=refused, kind="citizen.refused", channel="sms").body
    )

    extended = processing_dossier(office, vn(2026, 3, 2, 9, 0))
    office.act(extended, "extend", now=vn(2026, 3, 3, 9, 0), comment="Cần xác minh", new_due_at="13/03/2026")
    assert citizen_rows(extended, "citizen.extended") == BOTH
    body = Notification.objects.get(dossier=extended, kind="citizen.extended", channel="email").body
    assert "11:30 05/03/2026" in body and "17:00 13/03/2026" in body

    office.act(extended, "propose_result", now=vn(2026, 3, 4, 9, 0), result="Cấp giấy khai sinh")
    office.act(extended, "approve", now=vn(2026, 3, 4, 10, 0))
    assert citizen_rows(extended, "citizen.result_ready") == BOTH


@pytest.mark.django_db
def test_citizen_without_address_or_phone_gets_nothing_and_policy_can_switch_sms_off(office):
    silent, _pin = office.receive(now=vn(2026, 3, 2, 9, 0), applicant_email="", applicant_phone="")
    assert not Notification.objects.filter(dossier=silent).exists()
    policy = ReminderPolicy.get()
    policy.notify_citizens_by_sms = False
    policy.save()
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))
    assert set(Notification.objects.filter(dossier=dossier).values_list("channel", flat=True)) == {"email"}


@pytest.mark.django_db
def test_citizen_texts_are_vietnamese_whatever_the_officers_language(office):
    with translation.override("en"):
        dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))
    body = Notification.objects.get(dossier=dossier, kind="citizen.received", channel="email").body
    assert "09:00 02/03/2026" in body


@pytest.mark.django_db
def test_citizen_notifications_are_written_in_the_transaction_of_the_change(office):
    class Abort(Exception):
        pass

    dossier = processing_dossier(office, vn(2026, 3, 2, 9, 0))
    before = Notification.objects.count()
    with pytest.raises(Abort), transaction.atomic():
        office.act(dossier, "extend", now=vn(2026, 3, 3, 9, 0), comment="Cần xác minh", new_due_at="13/03/2026")
        assert Notification.objects.filter(dossier=dossier, kind="citizen.extended").count() == 2
        raise Abort  # anything failing later in the same transaction
    assert Notification.objects.count() == before
    dossier.refresh_from_db()
    assert dossier.original_due_at is None

    with pytest.raises(Abort), transaction.atomic():
        office.receive(now=vn(2026, 3, 2, 10, 0), applicant_name="Trần Thị B")
        raise Abort
    assert Notification.objects.count() == before


# --- Concurrency and scale (PostgreSQL) --------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_scans_racing_in_threads_create_no_duplicates():
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: SQLite serialises every write, so scans cannot race there.")
    office = Office(days="3")
    office.specialist.email = "cv@example.com"
    office.specialist.save()
    for _ in range(6):
        processing_dossier(office, vn(2026, 3, 2, 9, 0))
    now = vn(2026, 3, 5, 14, 0)  # overdue + step overdue for each
    barrier = threading.Barrier(4)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(reminders.scan(now))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(results) == 12  # every reminder created exactly once, by whichever thread won
    assert Reminder.objects.count() == 12
    # Per reminder: specialist in-app + e-mail, leader in-app.
    assert Notification.objects.filter(kind__startswith="reminder.").count() == 36


@pytest.mark.postgres
@pytest.mark.django_db
def test_candidate_queries_are_answered_by_partial_indexes():
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are checked on PostgreSQL.")
    calendar = deadlines.get_calendar()
    policy = ReminderPolicy(due_soon_working_days=1, extension_prompt_working_days=2)
    now = vn(2026, 3, 5, 9, 0)
    running = Dossier.objects.filter(status__in=OPEN_STATUSES).exclude(status__in=PAUSED_STATUSES)
    by_due = running.filter(due_at__lt=reminders.horizon(now, calendar, policy)).values_list("pk", flat=True)
    by_step = running.filter(step_due_at__lt=now).values_list("pk", flat=True)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # "can an index serve it?", whatever the table size
    assert "dossier_open_due_idx" in by_due.explain()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'dossier_open_step_due_idx'")
        has_step_index = cursor.fetchone() is not None
    if not has_step_index:
        pytest.skip("dossier_open_step_due_idx is not in the schema yet (Dossier.Meta.indexes, see docs/reminders.md)")
    assert "dossier_open_step_due_idx" in by_step.explain()


@pytest.mark.django_db
def test_the_scan_reads_the_calendar_overrides(office):
    from procedures.models import CalendarOverride

    dossier = processing_dossier(office, vn(2026, 3, 4, 9, 0))  # due Mon 9/3 11:30
    # An extra day off on Friday 6/3: Thursday's next working day is Monday.
    CalendarOverride.objects.create(date=date(2026, 3, 6), kind=CalendarOverride.Kind.DAY_OFF)
    reminders.scan(vn(2026, 3, 5, 10, 0))
    assert (K.DUE_SOON, key(dossier.due_at)) in reminder_set(dossier)


def test_scan_cost_per_new_reminder_is_a_few_queries(office):
    """Templates and the agency's officers are read once per scan, and each reminder's
    notifications are one insert: the cost follows the number of reminders, with a small factor."""

    def scan_cost(count, received):
        for _ in range(count):
            processing_dossier(office, received)
        with CaptureQueriesContext(connection) as captured:
            created = reminders.scan(received + timedelta(days=2))
        return created, len(captured)

    few, few_queries = scan_cost(2, vn(2026, 3, 2, 9, 0))
    many, many_queries = scan_cost(10, vn(2026, 3, 16, 9, 0))
    assert few > 0 and many > few
    per_reminder = (many_queries - few_queries) / (many - few)
    # Savepoint + reminder insert + one bulk insert of its notifications (+ the savepoint release).
    assert per_reminder <= 5, (few, few_queries, many, many_queries)


@pytest.mark.django_db
def test_scan_queries_are_the_same_for_5_or_50_due_dossiers_and_a_rerun_is_a_few_queries(office):
    """Set-based: per batch one load, one insert of the reminders (returning the new rows), one
    insert of their notifications; per scan one query per reminder kind (skipping, in SQL, the
    dossiers already reminded), the policy, the calendar, the templates and the officers."""

    def scan_cost(count, received):
        for _ in range(count):
            processing_dossier(office, received)
        now = received + timedelta(days=2)  # Wednesday: due Thursday
        with CaptureQueriesContext(connection) as first:
            created = reminders.scan(now)
        notes = Notification.objects.count()
        with CaptureQueriesContext(connection) as rerun:
            assert reminders.scan(now) == 0
        assert Notification.objects.count() == notes
        return created, len(first), len(rerun)

    few, few_queries, few_rerun = scan_cost(5, vn(2026, 3, 2, 9, 0))
    many, many_queries, many_rerun = scan_cost(50, vn(2026, 3, 16, 9, 0))
    assert few == 5 * 2 and many >= 50 * 2  # due_soon and extension_prompt each
    assert few_queries == many_queries, (few_queries, many_queries)
    # (The online-intake alert, the result correction and the fee remittance add one query each.)
    assert few_rerun == many_rerun <= 11, (few_rerun, many_rerun)


@pytest.mark.django_db
def test_waiting_online_submissions_cost_the_scan_no_query_each(office):
    """Each online submission still waiting is judged against the 2-working-hour alert with the
    scan's own calendar: the calendar overrides are read once per scan, not once per dossier
    (the 1,000,000-dossier benchmark's scan read them 673 times)."""

    def scan_cost(count, submitted):
        for _ in range(count):
            office.receive(now=submitted, channel="online")
        with CaptureQueriesContext(connection) as scan:
            created = reminders.scan(submitted + timedelta(days=2))  # alert and step deadline passed
        overrides = [q for q in scan.captured_queries if "calendaroverride" in q["sql"].lower()]
        return created, len(scan), len(overrides)

    few, few_queries, few_overrides = scan_cost(2, vn(2026, 3, 2, 9, 0))
    many, many_queries, many_overrides = scan_cost(20, vn(2026, 3, 9, 9, 0))
    assert Dossier.objects.filter(status=Status.SUBMITTED_ONLINE).count() == 22
    assert many > few > 0
    assert few_overrides == many_overrides == 1, (few_queries, many_queries)


@pytest.mark.django_db
def test_a_rerun_selects_no_candidate_so_the_sql_thresholds_match_the_python_ones(office):
    """The candidate queries skip existing reminders by their unique key, computed in SQL
    (`LocalISO`): after a scan nothing is selected again, on SQLite as on PostgreSQL."""
    for received in (vn(2026, 3, 2, 9, 0), vn(2026, 3, 3, 14, 17), vn(2026, 3, 4, 8, 0)):
        processing_dossier(office, received)
    office.receive(now=vn(2026, 3, 2, 9, 0))  # at intake: reception desk, step deadline
    now = vn(2026, 3, 6, 10, 0)
    calendar, policy = deadlines.get_calendar(), ReminderPolicy.get()
    assert len(reminders.candidate_ids(now, calendar, policy)) == 4
    created = reminders.scan(now)
    assert {kind for kind, _threshold in Reminder.objects.values_list("kind", "threshold")} >= {
        K.OVERDUE,
        K.STEP_OVERDUE,
        K.DUE_SOON,
    }
    assert created == Reminder.objects.count()
    assert reminders.candidate_ids(now, calendar, policy) == []
    # Microseconds and any zone: the SQL text is moment_key()'s.
    moments = [vn(2026, 3, 9, 11, 30), vn(2026, 3, 9, 11, 30, 5, 120), vn(2026, 12, 31, 23, 59, 59, 999999)]
    dossier = Dossier.objects.first()
    Reminder.objects.bulk_create(
        Reminder(dossier=dossier, kind=K.DUE_SOON, threshold=f"t{i}", created_at=m) for i, m in enumerate(moments)
    )
    rows = Reminder.objects.filter(threshold__startswith="t").annotate(key=reminders.LocalISO("created_at"))
    assert sorted(r.key for r in rows) == sorted(reminders.moment_key(m) for m in moments)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_scan_racing_a_scan_that_holds_its_batch_writes_nothing_twice():
    """The second scan's insert waits for the first's uncommitted rows, then skips them: each
    reminder is counted and notified once, by the scan whose transaction wrote it."""
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL: SQLite serialises every write, so scans cannot race there.")
    office = Office(days="3")
    for _ in range(4):
        processing_dossier(office, vn(2026, 3, 2, 9, 0))
    now = vn(2026, 3, 5, 14, 0)
    started, results, errors = threading.Event(), [], []

    def second():
        try:
            started.wait(30)
            results.append(("second", reminders.scan(now)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=second)
    thread.start()
    with transaction.atomic():
        first = reminders.scan(now)  # rows written, not committed yet
        started.set()
        thread.join(2)  # the second scan is blocked on our rows
        assert thread.is_alive()
    thread.join(60)
    assert errors == []
    assert first == 8 and results == [("second", 0)]
    assert Reminder.objects.count() == 8
    assert Notification.objects.filter(kind__startswith="reminder.").count() == 16  # specialist + leader, in-app
