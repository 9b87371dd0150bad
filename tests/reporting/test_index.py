"""The Decision 766 service index (reporting/index.py): page, API and export answer from the counters."""

from datetime import timedelta

from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import Office


def test_the_index_page_api_and_export_show_the_score_and_its_components(db):
    office = Office()
    now = timezone.now() - timedelta(hours=3)
    dossier, pin = office.to_approval(now=now)
    office.act(dossier, "approve", now=now + timedelta(minutes=5))
    office.act(dossier, "return_result", now=now + timedelta(minutes=10), collected_by="Chủ hồ sơ")
    APIClient().post("/api/v1/ratings/", {"code": dossier.code, "pin": pin, "level": "unsatisfied"}, format="json")
    api = APIClient()
    api.force_authenticate(office.supervisor)
    body = api.get("/api/v1/stats/index/").json()
    lines = {line["key"]: line for line in body["indicators"]}
    assert lines["on_time"]["status"] == "computed" and lines["on_time"]["denominator"] == 1
    assert lines["satisfaction"]["numerator"] == 0 and lines["satisfaction"]["denominator"] == 1
    assert lines["digitised"]["status"] == "not_recorded" and lines["online_payment"]["status"] == "outside"
    assert body["agencies"][0]["agency"] == office.agency.code
    assert any(d["code"] == dossier.code and d["kind"] == "unsatisfied" for d in body["costly_dossiers"])
    client = Client()
    client.force_login(office.supervisor)
    page = client.get("/thong-ke/chi-so/")
    assert page.status_code == 200 and dossier.code in page.content.decode()
    export = client.get("/thong-ke/chi-so.xlsx")
    assert export.status_code == 200
    assert Client().get("/thong-ke/chi-so/").status_code == 302
    assert api.get("/api/v1/stats/index/?from=bad").status_code == 400
