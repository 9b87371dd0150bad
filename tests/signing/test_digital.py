"""Digitisation at the desk (Circular 01/2023/TT-VPCP) and the two Decision 766 indicators:
digitisation rate and electronic-result rate per agency (reporting/digital.py)."""

from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from dossiers.models import DossierEvent
from signing.models import Digitisation
from tests.factories import api_token


def pdf_scan(name="cccd.pdf"):
    from weasyprint import HTML

    return ContentFile(HTML(string="<p>Bản chụp</p>").write_pdf(), name=name)


def test_the_desk_attaches_scans_and_marks_the_dossier_digitised(local_signing, office, client):
    dossier, _pin = office.receive(documents=[{"name": "Tờ khai", "originals": 1, "copies": 0}])
    client.force_login(office.reception)
    url = reverse("signing:digitise", args=[dossier.code])
    assert client.get(url).status_code == 200
    response = client.post(url, {"scan-0": pdf_scan(), "complete": "1"})
    assert response.status_code == 302
    digitisation = Digitisation.objects.get(dossier=dossier)
    assert digitisation.scans == 1 and digitisation.digitised_by == office.reception
    assert dossier.attachments.count() == 1
    assert DossierEvent.objects.filter(dossier=dossier, action="digitise").count() == 1
    # A rejected file leaves nothing behind and says why.
    bad = client.post(url, {"scan-0": ContentFile(b"<html>", name="x.pdf")})
    assert bad.status_code == 400 and dossier.attachments.count() == 1
    # Other roles may not.
    client.force_login(office.specialist)
    assert client.get(url).status_code == 403


def test_digitisation_and_electronic_result_rates(local_signing, office, client):
    today = timezone.localdate()
    first, _pin = office.to_approval()
    second, _pin = office.receive()
    client.force_login(office.reception)
    client.post(reverse("signing:digitise", args=[first.code]), {"scan-other": pdf_scan(), "complete": "1"})
    office.act(first, "approve")
    office.act(first, "return_result", collected_by="An", result_form="electronic")
    token = api_token(office.supervisor)
    response = client.get(
        "/api/v1/stats/digital/",
        {"from": today.isoformat(), "to": today.isoformat()},
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    assert response.status_code == 200, response.content
    total = response.json()["total"]
    assert total == {
        "received": 2,
        "digitised": 1,
        "digitisation_rate": 50.0,
        "returned": 1,
        "electronic_results": 1,
        "electronic_result_rate": 100.0,
    }
    assert response.json()["rows"][0]["agency"] == office.agency.code
    assert second.code  # received, not digitised: the denominator
    specialist = api_token(office.specialist)
    assert client.get("/api/v1/stats/digital/", HTTP_AUTHORIZATION=f"Token {specialist}").status_code == 403
