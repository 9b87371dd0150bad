"""Issue 14, legal conformity round 2: one time-frozen test per rule, dates worked out by hand in
the comments (2026 Vietnamese calendar; office hours 07:30–11:30 and 13:30–17:00; 24/11 is Vietnam
Cultural Day from 2026; Tết 2026 is Mon 16 – Fri 20 February).

Rules of Decree 118/2025/NĐ-CP (and the Civil Code 2015 for calendar-day periods). Time is frozen by
passing `now=` to every service call; states are reached through `dossier_create` / `dossier_act`."""

import pytest
from django.core.exceptions import PermissionDenied
from rest_framework.test import APIClient

from dossiers import lookup
from dossiers.models import Dossier, Status
from dossiers.services import ActionInputError, WorkflowConflict, available_actions, close_expired_supplements
from notifications import reminders
from notifications.models import Notification, Reminder, ReminderKind
from tests.factories import Office, vn

pytestmark = pytest.mark.django_db
S = Status


def in_processing(office, at):
    dossier, _pin = office.receive(now=at)
    return office.act(dossier, "assign", now=at)


def returned(office, at):
    """Received at `at` (Mon 02/03 09:00 → due Thu 05/03 11:30), result returned Wed 04/03 10:00."""
    dossier = in_processing(office, at)
    office.act(dossier, "propose_result", now=vn(2026, 3, 3, 9, 0), result="Cấp giấy khai sinh số 12")
    office.act(dossier, "approve", now=vn(2026, 3, 3, 10, 0))
    return office.act(dossier, "return_result", now=vn(2026, 3, 4, 10, 0), collected_by="Nguyễn Văn An")


# --- 1. The 15-day closure of an uncompleted supplement (Art. 19.5; Civil Code Art. 147–148) ---------


def test_a_supplement_requested_on_wednesday_closes_at_midnight_after_day_15():
    office = Office(code="H60.01")
    # Requested Wed 25/11/2026 10:00: the notice day is not counted, day 1 is Thu 26/11, day 15 is
    # Thu 10/12 (a working day), so the period ends at 24:00 of Thu 10/12 (the old rule: 15 × 24 h =
    # Thu 10/12 10:00, 14 hours early).
    dossier, _pin = office.receive(now=vn(2026, 11, 25, 10, 0), missing_documents=["Giấy chứng sinh"])
    assert dossier.events.get().data["complete_by"] == vn(2026, 12, 11, 0, 0).isoformat()
    assert close_expired_supplements(now=vn(2026, 12, 10, 16, 0)) == 0
    assert close_expired_supplements(now=vn(2026, 12, 10, 23, 59)) == 0
    assert close_expired_supplements(now=vn(2026, 12, 11, 8, 0)) == 1
    dossier.refresh_from_db()
    assert (dossier.status, dossier.finished_at) == (S.STOPPED, vn(2026, 12, 11, 8, 0))


def test_a_supplement_requested_on_friday_whose_day_15_is_a_saturday_stays_open_to_the_end_of_monday():
    office = Office(code="H60.02")
    # Requested during processing Fri 04/12/2026 10:00: day 15 is Sat 19/12, a day off, so the period
    # moves to the end of the next working day, Mon 21/12 (the old rule closed it Sat 19/12 10:00).
    dossier = in_processing(office, vn(2026, 12, 2, 9, 0))  # Wed 02/12, within the 3 working days
    office.act(dossier, "request_supplement", now=vn(2026, 12, 4, 10, 0), comment="Thiếu bản sao")
    assert close_expired_supplements(now=vn(2026, 12, 19, 10, 0)) == 0
    assert close_expired_supplements(now=vn(2026, 12, 21, 16, 59)) == 0
    assert close_expired_supplements(now=vn(2026, 12, 21, 23, 59)) == 0
    assert close_expired_supplements(now=vn(2026, 12, 22, 0, 0)) == 1
    dossier.refresh_from_db()
    assert dossier.status == S.STOPPED


# --- 2. Transfer to the processing agency (Art. 18.2) ------------------------------------------------


def test_a_paper_dossier_received_after_15_00_is_transferred_at_the_start_of_the_next_working_day():
    office = Office(code="H60.03")
    # In person Mon 23/11/2026 15:30; Tue 24/11 is Vietnam Cultural Day: the next working day is Wed
    # 25/11, and "at the start" is its first working hour (TRANSFER_NEXT_DAY_MINUTES = 60): 08:30,
    # not 11:30 as before.
    dossier, _pin = office.receive(now=vn(2026, 11, 23, 15, 30))
    assert dossier.step_due_at == vn(2026, 11, 25, 8, 30)
    # By post it is paper too: same rule.
    posted, _pin = office.receive(now=vn(2026, 11, 23, 15, 30), channel="post")
    assert posted.step_due_at == vn(2026, 11, 25, 8, 30)
    # Before 15:00 (15:00 itself included): the close of the same day.
    early, _pin = office.receive(now=vn(2026, 11, 23, 15, 0))
    assert early.step_due_at == vn(2026, 11, 23, 17, 0)


def test_an_online_dossier_accepted_after_15_00_is_not_held_to_the_paper_transfer_rule(settings):
    office = Office(code="H60.04")
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 14, 0), channel="online")
    # Accepted Mon 02/03 15:30, 3 days → due Thu 05/03 17:00. Its intake step takes the reception
    # step's 10 % of Mon 15:30 → Thu 17:00 (90 + 450 + 450 + 450 = 1 440 min): 144 min, 90 on Monday
    # and 54 from Tue 07:30 → Tue 08:24 (a paper dossier would have had until Tue 08:30).
    dossier = office.act(dossier, "receive", now=vn(2026, 3, 2, 15, 30))
    assert dossier.due_at == vn(2026, 3, 5, 17, 0)
    assert dossier.step_due_at == vn(2026, 3, 3, 8, 24)


# --- 3. Withdrawal from the successful receipt by the system (Art. 21.1b) -----------------------------


def test_an_online_submission_can_be_withdrawn_before_it_is_accepted():
    office = Office(code="H60.05")
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0), channel="online")
    assert "withdraw" in available_actions(office.reception, dossier, now=vn(2026, 3, 2, 10, 0))
    dossier = office.act(dossier, "withdraw", now=vn(2026, 3, 2, 10, 0), comment="Công dân xin rút")
    assert (dossier.status, dossier.finished_at) == (S.WITHDRAWN, vn(2026, 3, 2, 10, 0))
    event = dossier.events.last()
    assert (event.action, event.from_status, event.to_status) == ("withdraw", S.SUBMITTED_ONLINE, S.WITHDRAWN)


# --- 4. One supplement request during processing (Art. 11.2c, 19.5) ----------------------------------


def test_a_second_supplement_request_during_processing_is_refused():
    office = Office(code="H60.06")
    # Received Mon 02/03 09:00: requests are possible until the close of Thu 05/03 (3 working days).
    dossier = in_processing(office, vn(2026, 3, 2, 9, 0))
    office.act(dossier, "request_supplement", now=vn(2026, 3, 2, 10, 0), comment="Thiếu bản sao")
    office.act(dossier, "supplement_received", now=vn(2026, 3, 3, 9, 0))
    assert "request_supplement" not in available_actions(office.specialist, dossier, now=vn(2026, 3, 3, 10, 0))
    events = dossier.events.count()
    with pytest.raises(WorkflowConflict, match="bổ sung một lần trong quá trình giải quyết"):
        office.act(dossier, "request_supplement", now=vn(2026, 3, 3, 10, 0), comment="Thiếu tờ khai")
    dossier.refresh_from_db()
    assert (dossier.status, dossier.supplement_requests, dossier.events.count()) == (S.PROCESSING, 1, events)


def test_the_second_processing_request_is_a_readable_409_in_the_api():
    office = Office(code="H60.07")
    dossier = in_processing(office, vn(2026, 3, 2, 9, 0))
    office.act(dossier, "request_supplement", now=vn(2026, 3, 2, 10, 0), comment="Thiếu bản sao")
    office.act(dossier, "supplement_received", now=vn(2026, 3, 2, 11, 0))
    client = APIClient()
    client.force_authenticate(office.specialist)
    url = f"/api/v1/dossiers/{dossier.code}/actions/request_supplement/"
    response = client.post(url, {"comment": "Thiếu tờ khai", "missing_documents": ["Tờ khai"]}, format="json")
    assert response.status_code == 409
    assert "chỉ được yêu cầu bổ sung một lần" in response.json()["detail"]  # Vietnamese by default


# --- 5. More than one supplement request is late, even before the due date ----------------------------


def test_a_result_after_two_supplement_requests_is_late_though_before_the_due_date():
    office = Office(code="H60.08")
    # Intake request Mon 02/03 08:00, accepted 09:00 (due Thu 05/03 11:30), processing request 10:00.
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 8, 0), missing_documents=["Giấy chứng sinh"])
    office.act(dossier, "supplement_received", user=office.reception, now=vn(2026, 3, 2, 9, 0))
    office.act(dossier, "assign", now=vn(2026, 3, 2, 9, 30))
    office.act(dossier, "request_supplement", now=vn(2026, 3, 2, 10, 0), comment="Thiếu tờ khai")
    office.act(dossier, "supplement_received", now=vn(2026, 3, 2, 11, 0))
    office.act(dossier, "propose_result", now=vn(2026, 3, 3, 9, 0), result="Cấp giấy")
    dossier = office.act(dossier, "approve", now=vn(2026, 3, 3, 10, 0))
    assert dossier.supplement_requests == 2 and dossier.finished_at < dossier.due_at
    assert dossier.outcome == "late"


# --- 6. The extension letter's new date: a working day, at a session's close (Art. 19.6, 12.5) --------


@pytest.mark.parametrize(
    ("value", "field_error"),
    [
        ("07/03/2026", "không phải ngày làm việc"),  # a Saturday
        ("2026-04-30", "không phải ngày làm việc"),  # Reunification Day
        ("2026-03-10T18:00:00+07:00", "cơ quan không làm việc"),  # after the afternoon session
    ],
)
def test_an_extension_date_on_a_day_off_or_after_hours_is_refused_and_changes_nothing(value, field_error):
    office = Office(code="H60.09")
    dossier = in_processing(office, vn(2026, 3, 2, 9, 0))  # due Thu 05/03 11:30
    before = (Dossier.objects.filter(pk=dossier.pk).values().get(), dossier.events.count())
    with pytest.raises(ActionInputError) as info:
        office.act(dossier, "extend", now=vn(2026, 3, 3, 9, 0), comment="Cần xác minh", new_due_at=value)
    assert field_error in " ".join(info.value.errors["new_due_at"])
    assert (Dossier.objects.filter(pk=dossier.pk).values().get(), dossier.events.count()) == before


def test_the_refusal_of_a_saturday_names_the_next_working_day():
    office = Office(code="H60.10")
    dossier = in_processing(office, vn(2026, 3, 2, 9, 0))
    with pytest.raises(ActionInputError) as info:
        office.act(dossier, "extend", now=vn(2026, 3, 3, 9, 0), comment="Cần xác minh", new_due_at="07/03/2026")
    assert "09/03/2026" in " ".join(info.value.errors["new_due_at"])  # Monday


@pytest.mark.parametrize(
    ("value", "due_at"),
    [
        ("10/03/2026", vn(2026, 3, 10, 17, 0)),  # a date: the close of that working day
        ("2026-03-10T08:15:00+07:00", vn(2026, 3, 10, 11, 30)),  # morning → the morning's close
        ("2026-03-10T12:00:00+07:00", vn(2026, 3, 10, 17, 0)),  # lunch break → the afternoon's close
        ("2026-08-22", vn(2026, 8, 22, 17, 0)),  # the make-up Saturday is a working day
    ],
)
def test_an_extension_date_is_set_at_the_close_of_a_session(value, due_at):
    office = Office(code="H60.11")
    dossier = in_processing(office, vn(2026, 3, 2, 9, 0))
    dossier = office.act(dossier, "extend", now=vn(2026, 3, 3, 9, 0), comment="Cần xác minh", new_due_at=value)
    assert (dossier.due_at, dossier.original_due_at) == (due_at, vn(2026, 3, 5, 11, 30))


# --- 7. The dossier code is given at acceptance and carries the acceptance date (Art. 28.2b, 17.3) -----


def test_an_online_submission_has_a_provisional_reference_until_it_is_accepted():
    office = Office(code="000.01.21.H60")
    # Submitted Sun 01/03 21:00; accepted Mon 02/03 08:00: the code carries 260302, not 260301.
    dossier, pin = office.receive(now=vn(2026, 3, 1, 21, 0), channel="online")
    reference = dossier.code
    assert reference == "TC-000.01.21.H60-260301-0001"
    # The desk's own complete dossier that evening takes the first Art. 28 number of the day.
    first, _pin = office.receive(now=vn(2026, 3, 2, 7, 45))
    assert first.code == "000.01.21.H60-260302-0001"
    dossier = office.act(dossier, "receive", now=vn(2026, 3, 2, 8, 0))
    assert (dossier.code, dossier.provisional_code) == ("000.01.21.H60-260302-0002", reference)
    assert dossier.events.last().data["code"] == dossier.code
    # The PIN given at submission keeps working, with the new code and with the old reference.
    assert dossier.check_pin(pin)
    assert lookup.find_dossier(dossier.code, pin).pk == dossier.pk
    assert lookup.find_dossier(reference, pin).pk == dossier.pk
    assert lookup.find_dossier(reference, "000000" if pin != "000000" else "111111") is None
    # The officers' API and pages find it by either.
    client = APIClient()
    client.force_authenticate(office.reception)
    assert client.get(f"/api/v1/dossiers/{reference}/").json()["code"] == dossier.code
    # The citizen's "received" notice carries the new code.
    received = Notification.objects.filter(dossier=dossier, kind="citizen.received").first()
    assert received is not None and dossier.code in received.subject


def test_an_incomplete_dossier_gets_its_code_when_the_supplement_makes_it_complete():
    office = Office(code="000.01.22.H60")
    dossier, pin = office.receive(now=vn(2026, 3, 2, 9, 0), missing_documents=["Giấy chứng sinh"])
    assert dossier.code == "TC-000.01.22.H60-260302-0001" and dossier.received_at is None
    dossier = office.act(dossier, "supplement_received", user=office.reception, now=vn(2026, 3, 4, 9, 0))
    assert dossier.code == "000.01.22.H60-260304-0001"
    assert dossier.provisional_code == "TC-000.01.22.H60-260302-0001"
    assert dossier.check_pin(pin)


def test_a_dossier_complete_at_the_desk_gets_its_code_at_once():
    office = Office(code="000.01.23.H60")
    dossier, pin = office.receive(now=vn(2026, 3, 2, 9, 0))
    assert (dossier.code, dossier.provisional_code) == ("000.01.23.H60-260302-0001", None)
    assert dossier.check_pin(pin)


# --- Not implemented before: Art. 17.2, 23.1, 24.3 ---------------------------------------------------


def test_the_desk_is_alerted_when_an_online_submission_waits_two_working_hours():
    office = Office(code="H60.12")
    # Submitted Mon 02/03 10:00: 90 min to 11:30, 30 more from 13:30 → alert at 14:00.
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 10, 0), channel="online")
    reminders.scan(vn(2026, 3, 2, 13, 59))
    assert not Reminder.objects.filter(dossier=dossier, kind=ReminderKind.ONLINE_INTAKE).exists()
    reminders.scan(vn(2026, 3, 2, 14, 0))
    assert Reminder.objects.filter(dossier=dossier, kind=ReminderKind.ONLINE_INTAKE).count() == 1
    notified = set(
        Notification.objects.filter(dossier=dossier, kind="reminder.online_intake").values_list("recipient", flat=True)
    )
    assert office.reception.pk in notified and office.specialist.pk not in notified
    reminders.scan(vn(2026, 3, 2, 15, 0))  # once per submission
    assert Reminder.objects.filter(dossier=dossier, kind=ReminderKind.ONLINE_INTAKE).count() == 1
    # Accepted in time: no alert for a dossier accepted before the two hours.
    accepted, _pin = office.receive(now=vn(2026, 3, 2, 10, 0), channel="online")
    office.act(accepted, "receive", now=vn(2026, 3, 2, 11, 0))
    reminders.scan(vn(2026, 3, 2, 16, 0))
    assert not Reminder.objects.filter(dossier=accepted, kind=ReminderKind.ONLINE_INTAKE).exists()


def test_a_wrong_result_is_corrected_keeping_the_original_and_the_corrected_one():
    office = Office(code="H60.13")
    dossier = returned(office, vn(2026, 3, 2, 9, 0))
    with pytest.raises(WorkflowConflict):  # nothing reported yet
        office.act(dossier, "correct_result", user=office.leader, now=vn(2026, 3, 6, 9, 0), result="x")
    # Reported at the desk Fri 06/03 09:00: corrected by the close of the 3rd working day after it,
    # Mon 09, Tue 10, Wed 11 → Wed 11/03 17:00.
    dossier = office.act(
        dossier, "report_result_error", user=office.reception, now=vn(2026, 3, 6, 9, 0), comment="Sai ngày sinh"
    )
    assert (dossier.status, dossier.correction_due_at) == (S.RETURNED, vn(2026, 3, 11, 17, 0))
    with pytest.raises(PermissionDenied):  # the competent agency's leader issues it
        office.act(dossier, "correct_result", user=office.reception, now=vn(2026, 3, 11, 16, 0), result="y")
    with pytest.raises(ActionInputError):
        office.act(dossier, "correct_result", user=office.leader, now=vn(2026, 3, 11, 16, 0), result=" ")
    corrected = "Cấp giấy khai sinh số 12 (đính chính)"
    dossier = office.act(dossier, "correct_result", user=office.leader, now=vn(2026, 3, 11, 16, 0), result=corrected)
    assert dossier.original_result == "Cấp giấy khai sinh số 12"
    assert dossier.result_summary == "Cấp giấy khai sinh số 12 (đính chính)"
    assert dossier.correction_due_at is None and dossier.status == S.RETURNED
    data = dossier.events.last().data
    assert (data["original_result"], data["corrected_result"], data["correction_outcome"]) == (
        "Cấp giấy khai sinh số 12",
        "Cấp giấy khai sinh số 12 (đính chính)",
        "on_time",
    )


def test_an_uncorrected_result_reminds_the_competent_leader_after_three_working_days():
    office = Office(code="H60.14")
    dossier = returned(office, vn(2026, 3, 2, 9, 0))
    office.act(dossier, "report_result_error", user=office.leader, now=vn(2026, 3, 6, 9, 0), comment="Sai tên")
    reminders.scan(vn(2026, 3, 11, 16, 59))
    assert not Reminder.objects.filter(kind=ReminderKind.CORRECTION_OVERDUE).exists()
    reminders.scan(vn(2026, 3, 12, 8, 0))
    assert Reminder.objects.filter(dossier=dossier, kind=ReminderKind.CORRECTION_OVERDUE).count() == 1
    recipients = set(
        Notification.objects.filter(kind="reminder.correction_overdue").values_list("recipient", flat=True)
    )
    assert recipients == {office.leader.pk}
    # Corrected late: recorded as late.
    dossier = office.act(dossier, "correct_result", user=office.leader, now=vn(2026, 3, 12, 9, 0), result="Đã sửa")
    assert dossier.events.last().data["correction_outcome"] == "late"


def test_a_fee_collected_at_the_desk_must_be_remitted_within_8_working_hours():
    office = Office(code="H60.15")
    office.procedure.fee_vnd = 50_000
    office.procedure.save()
    # Accepted Mon 02/03 09:00: 150 + 210 working minutes on Monday, 120 on Tuesday → Tue 03/03 09:30.
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))
    assert (dossier.fee_collected_at, dossier.fee_remit_due_at) == (vn(2026, 3, 2, 9, 0), vn(2026, 3, 3, 9, 30))
    # Shown in the desk's queue.
    client = office_client(office)
    page = client.get("/can-bo/").content.decode()
    assert dossier.code in page and "03/03/2026" in page.split(dossier.code, 1)[1].split("</tr>", 1)[0]
    # Not remitted by then: the desk is reminded once.
    reminders.scan(vn(2026, 3, 3, 9, 29))
    assert not Reminder.objects.filter(kind=ReminderKind.FEE_REMITTANCE_OVERDUE).exists()
    reminders.scan(vn(2026, 3, 3, 9, 31))
    assert Reminder.objects.filter(dossier=dossier, kind=ReminderKind.FEE_REMITTANCE_OVERDUE).count() == 1
    # Remitted (late) by the desk; a second remittance is a conflict.
    dossier = office.act(dossier, "remit_fee", user=office.reception, now=vn(2026, 3, 3, 10, 0))
    assert dossier.fee_remitted_at == vn(2026, 3, 3, 10, 0)
    assert dossier.events.last().data["fee_remittance_outcome"] == "late"
    with pytest.raises(WorkflowConflict):
        office.act(dossier, "remit_fee", user=office.reception, now=vn(2026, 3, 3, 11, 0))
    # Online submissions pay through the payment platform: nothing for the desk to remit.
    online, _pin = office.receive(now=vn(2026, 3, 2, 9, 0), channel="online")
    online = office.act(online, "receive", now=vn(2026, 3, 2, 9, 30))
    assert online.fee_remit_due_at is None


def office_client(office):
    from django.test import Client

    client = Client()
    client.force_login(office.reception)
    return client
