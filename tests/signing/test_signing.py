"""Signed results (issue 17): both back ends sign the approved result; pyHanko validates it (intact,
signer, chain to the test CA, signing time); a failing service leaves the dossier unapproved with
nothing half-done; one changed byte is "not intact" on the verification page and the upload check."""

import io
import subprocess

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from accounts.models import AuditEntry
from dossiers.models import DossierEvent, Stage, Status
from dossiers.sealing import SealError
from reporting.models import StatCounter
from signing import documents, pades, pki
from signing.models import ResultDocument
from signing.sandbox import set_fault
from tests.factories import api_token


def pyhanko_status(data, ca):
    embedded = PdfFileReader(io.BytesIO(data)).embedded_signatures[-1]
    context = ValidationContext(trust_roots=[pades._pem_certs(ca.cert_pem)[0]], allow_fetching=False)
    return pades.outside_event_loop(validate_pdf_signature, embedded, context)


def signed_file(dossier):
    document = ResultDocument.objects.get(dossier=dossier)
    with document.signed_file.open("rb") as handle:
        return document, handle.read()


def qr_of(pdf_bytes, tmp_path):
    path = tmp_path / "result.pdf"
    path.write_bytes(pdf_bytes)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(path), str(tmp_path / "page")], check=True)
    out = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "page.png")], capture_output=True, text=True)
    return out.stdout.strip()


def test_local_back_end_signs_the_approved_result(local_signing, office, test_ca, tmp_path):
    dossier, _pin = office.to_approval()
    document = ResultDocument.objects.get(dossier=dossier)  # made with its number when proposed
    assert document.number.startswith("1/") and not document.is_signed
    dossier = office.act(dossier, "approve")
    assert dossier.status == Status.RESULT_READY
    document, data = signed_file(dossier)
    status = pyhanko_status(data, test_ca)
    assert status.intact and status.valid and status.trusted
    assert status.signing_cert.subject.native["common_name"] == "Trần Thị Bình"
    assert status.signer_reported_dt is not None
    assert status.coverage.name == "ENTIRE_FILE"
    # The signed file's hash is in the approval's event (the dossier's hash chain).
    event = DossierEvent.objects.get(dossier=dossier, action="approve")
    assert event.data["result_sha256"] == document.sha256 == documents.sha256(data)
    assert event.data["verification_code"] == document.verification_code
    assert AuditEntry.objects.filter(kind=AuditEntry.Kind.RESULT_SIGNED, data__document=document.number).exists()
    # The QR code opens the verification page.
    assert qr_of(data, tmp_path) == f"http://testserver/xac-thuc/{document.verification_code}"


def test_a_result_not_chaining_to_the_trust_roots_is_not_trusted(local_signing, office, settings, tmp_path):
    dossier, _pin = office.to_approval()
    office.act(dossier, "approve")
    _document, data = signed_file(dossier)
    other = pki.make_ca("Another CA")
    path = tmp_path / "other.pem"
    path.write_bytes(other.cert_pem)
    settings.SIGNING_TRUST_ROOTS = [str(path)]
    report = pades.validate(data)
    assert report.ok and not report.trusted and not report.certificate_valid


def test_no_certificate_leaves_the_dossier_unapproved(local_signing, office, settings, tmp_path):
    settings.SIGNING_LOCAL_KEYSTORE_DIR = str(tmp_path / "empty")
    dossier, _pin = office.to_approval()
    events, counters = DossierEvent.objects.count(), list(StatCounter.objects.values_list())
    with pytest.raises(SealError, match="No certificate"):
        office.act(dossier, "approve")
    dossier.refresh_from_db()
    assert (dossier.status, dossier.stage) == (Status.PROCESSING, Stage.APPROVAL)
    assert DossierEvent.objects.count() == events
    assert list(StatCounter.objects.values_list()) == counters
    assert not ResultDocument.objects.get(dossier=dossier).is_signed
    assert AuditEntry.objects.filter(kind=AuditEntry.Kind.SIGNING_FAILED, data__dossier=dossier.code).exists()


def test_the_specialists_uploaded_pdf_is_what_gets_signed(local_signing, office, client, test_ca, tmp_path):
    from weasyprint import HTML

    dossier, _pin = office.to_approval()
    upload = ContentFile(HTML(string="<h1>Giấy phép số 12</h1>").write_pdf(), name="giay-phep.pdf")
    client.force_login(office.specialist)
    response = client.post(reverse("signing:upload", args=[dossier.code]), {"result_file": upload})
    assert response.status_code == 302
    document = ResultDocument.objects.get(dossier=dossier)
    assert document.source == ResultDocument.Source.UPLOAD
    office.act(dossier, "approve")
    document, data = signed_file(dossier)
    status = pyhanko_status(data, test_ca)
    assert status.intact and status.valid and status.trusted
    assert len(PdfFileReader(io.BytesIO(data)).root["/Pages"]["/Kids"]) == 1  # the upload's page, signed on it
    assert qr_of(data, tmp_path).endswith(document.verification_code)


def test_an_upload_that_is_not_a_pdf_is_refused(local_signing, office, client):
    dossier, _pin = office.to_approval()
    client.force_login(office.specialist)
    png = ContentFile(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, name="anh.pdf")
    response = client.post(reverse("signing:upload", args=[dossier.code]), {"result_file": png}, follow=True)
    assert response.status_code == 200
    assert ResultDocument.objects.get(dossier=dossier).source == ResultDocument.Source.TEMPLATE


def test_verification_page_and_upload_check(local_signing, office, client, tmp_path):
    dossier, _pin = office.to_approval()
    office.act(dossier, "approve")
    document, data = signed_file(dossier)
    url = reverse("signing:verify", args=[document.verification_code])
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert document.number in text and "Trần Thị Bình" in text and office.agency.name in text
    assert "Nguyễn Văn An" not in text  # only the masked name
    assert page.context["check"]["intact"] and page.context["check"]["certificate_valid"]
    same = client.post(url, {"file": ContentFile(data, name="ket-qua.pdf")})
    assert same.context["upload"]["same_file"] and same.context["upload"]["intact"]
    # One changed byte inside the signed range: the upload check says "not intact".
    changed = bytearray(data)
    position = data.index(b"/Type /Page") + 3 if b"/Type /Page" in data else len(data) // 3
    changed[position] ^= 0x01
    other = client.post(url, {"file": ContentFile(bytes(changed), name="ket-qua.pdf")})
    assert not other.context["upload"]["intact"] and not other.context["upload"]["same_file"]
    assert "Not intact" in other.content.decode() or "không còn nguyên vẹn" in other.content.decode().lower()
    # The same byte changed in the stored file: the page itself says "not intact".
    with document.signed_file.storage.open(document.signed_file.name, "wb") as handle:
        handle.write(bytes(changed))
    tampered = client.get(url)
    assert not tampered.context["check"]["intact"]
    assert AuditEntry.objects.filter(kind=AuditEntry.Kind.RESULT_VERIFIED).count() == 4


def test_unknown_verification_codes_are_throttled_like_the_lookup(local_signing, client, settings):
    settings.LOOKUP_MAX_FAILURES = 2
    assert client.get("/xac-thuc/AAAAA-AAAAA").status_code == 404
    assert client.get("/xac-thuc/AAAAA-AAAAB").status_code == 404
    response = client.get("/xac-thuc/AAAAA-AAAAC")
    assert response.status_code == 429 and response["Retry-After"]


def test_result_pdf_api_and_lookup_links(local_signing, office, client):
    dossier, pin = office.to_approval()
    token = api_token(office.leader)
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    url = f"/api/v1/dossiers/{dossier.code}/result.pdf"
    assert client.get(url, **auth).status_code == 404  # not approved yet
    lookup = client.get("/api/v1/lookup/", {"code": dossier.code, "pin": pin}).json()
    assert lookup["result_url"] is None and lookup["verification_url"] is None
    office.act(dossier, "approve")
    document, data = signed_file(dossier)
    response = client.get(url, **auth)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == data
    # Ready but not handed over: the default template offers the download once returned.
    lookup = client.get("/api/v1/lookup/", {"code": dossier.code, "pin": pin}).json()
    assert lookup["result_url"] is None
    assert lookup["verification_url"] == f"http://testserver/xac-thuc/{document.verification_code}"
    office.act(dossier, "return_result", collected_by="Nguyễn Văn An", result_form="both")
    document.refresh_from_db()
    assert document.delivered_form == "both"
    lookup = client.get("/api/v1/lookup/", {"code": dossier.code, "pin": pin}).json()
    download = client.get(lookup["result_url"].removeprefix("http://testserver"))
    assert download.status_code == 200 and b"".join(download.streaming_content) == data
    assert client.get("/tra-cuu/ket-qua/forged:token/").status_code == 404
    # Another agency's officer does not get the file.
    from tests.factories import Office

    stranger = Office()
    other = {"HTTP_AUTHORIZATION": f"Token {api_token(stranger.leader)}"}
    assert client.get(url, **other).status_code == 404


def test_electronic_hand_over_needs_a_signed_result(db, office, settings):
    settings.RESULT_SIGNING_BACKEND = ""
    dossier, _pin = office.to_approval()
    office.act(dossier, "approve")
    from dossiers.workflow import WorkflowConflict

    with pytest.raises(WorkflowConflict, match="no signed electronic result"):
        office.act(dossier, "return_result", collected_by="An", result_form="electronic")
    dossier.refresh_from_db()
    assert dossier.status == Status.RESULT_READY
    office.act(dossier, "return_result", collected_by="An", result_form="paper")


# --- The remote (CSC) back end against the project's sandbox ------------------------------------


@pytest.mark.slow
def test_csc_back_end_signs_after_the_confirmation(csc_signing, office, test_ca, tmp_path):
    dossier, _pin = office.to_approval()
    dossier = office.act(dossier, "approve")
    assert dossier.status == Status.RESULT_READY
    document, data = signed_file(dossier)
    status = pyhanko_status(data, test_ca)
    assert status.intact and status.valid and status.trusted
    assert status.signing_cert.subject.native["common_name"] == "Trần Thị Bình"
    assert document.backend == "csc" and document.timestamped  # the sandbox's TSA: PAdES B-T
    report = pades.validate(data)
    assert report.certificate_valid and report.timestamped and report.signing_time is not None
    assert qr_of(data, tmp_path).endswith(f"/xac-thuc/{document.verification_code}")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fault", "message"),
    [("down", "not available"), ("refuse", "refused on the signing app"), ("slow", "No confirmation arrived")],
)
def test_a_failing_signing_service_leaves_nothing_half_done(csc_signing, office, settings, fault, message):
    dossier, _pin = office.to_approval()
    events, counters = DossierEvent.objects.count(), list(StatCounter.objects.values_list())
    set_fault(fault)
    settings.SIGNING_CONFIRM_TIMEOUT = 1.5
    with pytest.raises(SealError, match=message):
        office.act(dossier, "approve")
    dossier.refresh_from_db()
    assert (dossier.status, dossier.stage) == (Status.PROCESSING, Stage.APPROVAL)
    assert DossierEvent.objects.count() == events
    assert list(StatCounter.objects.values_list()) == counters
    assert not ResultDocument.objects.get(dossier=dossier).is_signed
    assert AuditEntry.objects.filter(kind=AuditEntry.Kind.SIGNING_FAILED, data__dossier=dossier.code).exists()
    set_fault("")
    assert office.act(dossier, "approve").status == Status.RESULT_READY  # and it works again
