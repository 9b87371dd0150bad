"""Online submissions from the national portal: fetched from the sandbox over HTTP (or pushed by
its webhook), they become status-1 dossiers in the desk's queue; accepted, they get our code, and
the receipt carries both references; the desk is alerted after 2 working hours (Art. 17.2)."""

import io
import json
from datetime import timedelta

import time_machine
from pypdf import PdfReader

from dossiers import selectors
from dossiers.models import Channel, Status
from interop import fields as F
from interop import inbound
from interop.models import InboundSubmission
from interop.sandbox import seed
from interop.sandbox.models import SandboxDossier
from interop.tasks import run_sync
from notifications import reminders
from notifications.models import Reminder
from tests.factories import Office, vn


def test_an_online_submission_reaches_the_desk_is_accepted_and_printed_with_both_references(sandbox, client):
    office = Office()
    office.procedure.service_level = "full"
    office.procedure.save()
    submission = seed.make_submission("001090000001", office.procedure.code, agency_code=office.agency.code)

    result = run_sync()
    assert result["imported"] == 1
    row = InboundSubmission.objects.get(national_code=submission.national_code)
    dossier = row.dossier
    assert dossier.status == Status.SUBMITTED_ONLINE and dossier.channel == Channel.ONLINE
    assert dossier.applicant_name == "Nguyễn Văn An" and dossier.applicant_id_number == "001090000001"
    assert dossier.receiving_agency == office.agency
    assert [a.original_name for a in dossier.attachments.all()] == ["Tờ khai.pdf"]
    assert dossier.pk in {d.pk for d in selectors.queue(office.reception, "waiting")}
    submission.refresh_from_db()
    assert submission.acknowledged_at is not None and submission.our_code == dossier.code

    assert run_sync()["imported"] == 0  # fetched again: kept once
    assert InboundSubmission.objects.count() == 1

    provisional = dossier.code
    assert provisional.startswith("TC-")
    accepted = office.act(dossier, "receive")
    assert accepted.status == Status.RECEIVED and accepted.code != provisional  # the Art. 28 code now
    run_sync()
    national = SandboxDossier.objects.get(national_code=submission.national_code)
    assert national.status == "2" and national.data[F.D_RECEIPT_NUMBER] == accepted.code

    client.force_login(office.reception)
    response = client.get(f"/can-bo/ho-so/{accepted.code}/in/receipt.pdf")
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    assert accepted.code in text and submission.national_code in text
    page = client.get(accepted.get_absolute_url()).content.decode()
    assert submission.national_code in page


def test_a_pushed_submission_needs_a_valid_signature(client, db, settings):
    settings.DVCQG_WEBHOOK_SECRET = "s3cret"
    body = json.dumps({F.DATA: [{F.D_CODE: "G22.99-260302-000001", F.D_PROCEDURE_CODE: "1.001193"}]}).encode()
    url = "/dvcqg/webhook/"
    assert client.post(url, body, content_type="application/json").status_code == 401
    bad = client.post(url, body, content_type="application/json", headers={"X-DVCQG-Signature": "sha256=00"})
    assert bad.status_code == 401
    signed = {"X-DVCQG-Signature": inbound.signature(body)}
    ok = client.post(url, body, content_type="application/json", headers=signed)
    assert ok.status_code == 202 and ok.json()["new"] == 1
    again = client.post(url, body, content_type="application/json", headers=signed)
    assert again.status_code == 202 and again.json()["new"] == 0
    assert InboundSubmission.objects.get().via == InboundSubmission.Via.WEBHOOK
    junk = b"{not json"
    junk_signed = {"X-DVCQG-Signature": inbound.signature(junk)}
    assert client.post(url, junk, content_type="application/json", headers=junk_signed).status_code == 400


def test_a_submission_for_an_unknown_procedure_is_rejected_with_its_reason(db):
    inbound.receive([{F.D_CODE: "G22.99-X", F.D_PROCEDURE_CODE: "0.000000", F.D_APPLICANT: "A"}])
    assert inbound.import_pending() == []
    row = InboundSubmission.objects.get()
    assert row.state == InboundSubmission.State.REJECTED and "0.000000" in row.error


def test_the_desk_is_alerted_two_working_hours_after_an_online_submission(db):
    """Time frozen: submitted Monday 08:00; at 09:59 nothing, at 10:01 the reception is alerted;
    the 8-working-hour limit of Art. 17.2 is the intake step's deadline (flagged when passed)."""
    office = Office()
    monday = vn(2026, 3, 2, 8, 0)
    with time_machine.travel(monday, tick=False):
        inbound.receive(
            [
                {
                    F.D_CODE: "G22.99-260302-000009",
                    F.D_PROCEDURE_CODE: office.procedure.code,
                    F.D_AGENCY_CODE: office.agency.code,
                    F.D_APPLICANT: "Trần Thị Bình",
                    F.D_ID_NUMBER: "001090000002",
                    F.D_SUBMITTED_AT: F.moment(monday),
                }
            ]
        )
        (dossier,) = inbound.import_pending()
    assert dossier.submitted_at == monday
    # 8 working hours: 08:00–11:30 and 13:30–17:00 are 7, then 07:30–08:30 the next morning.
    assert dossier.step_due_at == vn(2026, 3, 3, 8, 30)
    reminders.scan(monday + timedelta(hours=1, minutes=59))
    assert not Reminder.objects.filter(dossier=dossier, kind="online_intake").exists()
    reminders.scan(monday + timedelta(hours=2, minutes=1))
    assert Reminder.objects.filter(dossier=dossier, kind="online_intake").count() == 1
    reminders.scan(monday + timedelta(hours=3))
    assert Reminder.objects.filter(dossier=dossier, kind="online_intake").count() == 1  # once
