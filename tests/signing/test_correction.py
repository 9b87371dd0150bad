"""A corrected result (Art. 23.1, `correct_result`) is signed like the approval: a new document
with the next number of the register, replacing the signed one; the citizen's download, the API and
the dossier's panel give the correction; the first document's verification page says it was
replaced and links to the correction. A failed signature issues no correction."""

import io

import pypdf
import pytest

from dossiers.models import DossierEvent
from dossiers.sealing import SealError
from signing.models import ResultDocument
from tests.factories import api_token

from .test_signing import pyhanko_status


def returned_with_reported_error(office, result_form="both"):
    dossier, pin = office.to_approval()
    office.act(dossier, "approve")
    office.act(dossier, "return_result", collected_by="Nguyễn Văn An", result_form=result_form)
    office.act(dossier, "report_result_error", user=office.reception, comment="Sai tên người được khai sinh")
    return dossier, pin


def text_of(data):
    return " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_the_corrected_result_is_signed_as_a_new_document(local_signing, office, client, test_ca):
    dossier, pin = returned_with_reported_error(office)
    first = ResultDocument.objects.get(dossier=dossier)
    office.act(dossier, "correct_result", user=office.leader, result="Cấp giấy khai sinh cho cháu Nguyễn Văn Bảo")
    correction = ResultDocument.objects.current(dossier)
    assert correction.pk != first.pk and correction.replaces == first
    assert correction.number.startswith("2/") and correction.is_signed
    with correction.signed_file.open("rb") as handle:
        data = handle.read()
    status = pyhanko_status(data, test_ca)
    assert status.intact and status.valid and status.trusted
    text = text_of(data)
    assert "Nguyễn Văn Bảo" in text and f"thay thế văn bản số {first.number}" in text
    # The first file is kept as signed; the correction's hash is in the correction's event.
    assert signed_file_of(first) and first.sha256 != correction.sha256
    event = DossierEvent.objects.get(dossier=dossier, action="correct_result")
    assert event.data["result_sha256"] == correction.sha256
    assert (event.data["replaces_document"], event.data["result_document"]) == (first.number, correction.number)
    # The citizen's lookup and download, and the API, give the correction.
    lookup = client.get("/api/v1/lookup/", {"code": dossier.code, "pin": pin}).json()
    assert lookup["verification_url"].endswith(f"/xac-thuc/{correction.verification_code}")
    download = client.get(lookup["result_url"].removeprefix("http://testserver"))
    assert b"".join(download.streaming_content) == data
    auth = {"HTTP_AUTHORIZATION": f"Token {api_token(office.leader)}"}
    api = client.get(f"/api/v1/dossiers/{dossier.code}/result.pdf", **auth)
    assert b"".join(api.streaming_content) == data
    # The first document's page: intact, but replaced, with the way to the correction.
    old_page = client.get(f"/xac-thuc/{first.verification_code}")
    assert old_page.context["check"]["intact"] and old_page.context["replaced_by"] == correction
    assert f"/xac-thuc/{correction.verification_code}" in old_page.content.decode()
    new_page = client.get(f"/xac-thuc/{correction.verification_code}")
    assert new_page.context["check"]["intact"] and new_page.context["replaced_by"] is None
    # The dossier page's panel names the correction and what it replaces.
    client.force_login(office.leader)
    panel = client.get(dossier.get_absolute_url()).content.decode()
    assert correction.number in panel and first.number in panel


def signed_file_of(document):
    with document.signed_file.open("rb") as handle:
        return handle.read()


def test_a_failed_signature_issues_no_correction(local_signing, office, settings, tmp_path):
    dossier, _pin = returned_with_reported_error(office)
    keystores = settings.SIGNING_LOCAL_KEYSTORE_DIR
    settings.SIGNING_LOCAL_KEYSTORE_DIR = str(tmp_path / "empty")
    events = DossierEvent.objects.count()
    with pytest.raises(SealError, match="No certificate"):
        office.act(dossier, "correct_result", user=office.leader, result="Cấp giấy khai sinh (đính chính)")
    dossier.refresh_from_db()
    assert dossier.result_summary == "Cấp giấy khai sinh" and dossier.correction_due_at is not None
    assert DossierEvent.objects.count() == events
    draft = ResultDocument.objects.current(dossier)
    assert not draft.is_signed and draft.replaces is not None
    # Signed on the next try, on the same draft: no second number taken from the register.
    settings.SIGNING_LOCAL_KEYSTORE_DIR = keystores
    office.act(dossier, "correct_result", user=office.leader, result="Cấp giấy khai sinh (đính chính)")
    assert ResultDocument.objects.current(dossier).pk == draft.pk
    assert ResultDocument.objects.filter(dossier=dossier).count() == 2
    assert ResultDocument.objects.current(dossier).is_signed


def test_without_signing_a_correction_is_issued_on_paper(db, office, settings):
    settings.RESULT_SIGNING_BACKEND = ""
    dossier, _pin = returned_with_reported_error(office, result_form="paper")
    office.act(dossier, "correct_result", user=office.leader, result="Cấp giấy khai sinh (đính chính)")
    dossier.refresh_from_db()
    assert dossier.result_summary == "Cấp giấy khai sinh (đính chính)"
    assert not ResultDocument.objects.filter(dossier=dossier).exists()


def test_the_correction_form_says_the_leader_may_have_to_confirm(local_signing, office, client):
    dossier, _pin = returned_with_reported_error(office)
    client.force_login(office.leader)
    page = client.get(dossier.get_absolute_url()).content.decode()
    correct_url = f"/can-bo/ho-so/{dossier.code}/hanh-dong/correct_result/"
    form = page[page.index(f'action="{correct_url}"') :].split(">", 1)[0]
    assert "data-signing-wait=" in form
    assert "js/signing" in page and page.count("js/signing") == 1
