"""Query counts of the signed result's public pages stay constant whatever the data: the
verification page `/xac-thuc/<code>` and the lookup (page and API) of a dossier whose signed result
is available, for a dossier with a short history among few, and one with a long history (sent back
and proposed again, several events and documents) among many signed results."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from signing.models import ResultDocument


def signed_and_returned(office, rounds=0):
    """A dossier approved (signed) and handed over electronically, after `rounds` send-backs."""
    dossier, pin = office.to_approval()
    for n in range(rounds):
        office.act(dossier, "send_back", comment=f"Bổ sung ý kiến lần {n + 1}")
        office.act(dossier, "propose_result", result=f"Cấp giấy khai sinh (lần {n + 2})")
    office.act(dossier, "approve")
    office.act(dossier, "return_result", collected_by="Nguyễn Văn An", result_form="both")
    return dossier, pin


def count(client, url, data=None):
    client.get(url, data)  # the client's throttle rows exist from here on, for every case alike
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, data)
    assert response.status_code == 200, response.status_code
    return len(captured.captured_queries), response


def test_verification_page_queries_do_not_grow_with_the_data(local_signing, office, client):
    first, _pin = signed_and_returned(office)
    code = ResultDocument.objects.get(dossier=first).verification_code
    few, response = count(client, f"/xac-thuc/{code}")
    assert response.context["check"]["intact"]
    for _n in range(2):
        signed_and_returned(office)
    long, _pin = signed_and_returned(office, rounds=3)
    code = ResultDocument.objects.get(dossier=long).verification_code
    many, response = count(client, f"/xac-thuc/{code}")
    assert response.context["check"]["intact"]
    assert many == few, f"{few} queries for one signed result, {many} among {ResultDocument.objects.count()}"


def test_lookup_with_a_signed_result_queries_do_not_grow_with_the_data(local_signing, office, client):
    first, pin = signed_and_returned(office)
    few_page, response = count(client, "/tra-cuu/", {"ma": first.code, "pin": pin})
    assert response.context["result"]["result_url"]
    few_api, response = count(client, "/api/v1/lookup/", {"code": first.code, "pin": pin})
    assert response.json()["result_url"] and response.json()["verification_url"]
    for _n in range(2):
        signed_and_returned(office)
    long, pin = signed_and_returned(office, rounds=3)
    many_page, response = count(client, "/tra-cuu/", {"ma": long.code, "pin": pin})
    assert response.context["result"]["result_url"]
    assert long.events.count() >= 2 * first.events.count()
    many_api, response = count(client, "/api/v1/lookup/", {"code": long.code, "pin": pin})
    assert response.json()["result_url"]
    assert (many_page, many_api) == (few_page, few_api)
