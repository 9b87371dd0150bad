"""The whole inter-agency journey through the HTTP API (issue 16's "end-to-end test (API)"): a
commune's desk creates the dossier, hands it to a provincial department, which accepts it, asks
a third agency's opinion and the tax office's notice, proposes and approves its part and hands it
back to the commune's leader, who approves; the desk returns it. Every step goes through
`POST /api/v1/dossiers/<code>/actions/<action>/`; the detail shows who holds the dossier, its step
deadline, the consultations with their answers; the citizen's lookup API tells the hand-overs.
The browser walk is tests/e2e/test_interagency.py.
"""

import pytest
from django.utils import translation
from django.utils.dateparse import parse_datetime

from dossiers import periods
from dossiers.models import Dossier, Stage, Status
from tests.dossiers.test_interagency import Department, api, crossing_procedure, planned
from tests.factories import Office

pytestmark = pytest.mark.django_db


def test_the_journey_through_the_api():
    commune = Office()
    department = Department(name="Sở Nông nghiệp và Môi trường")
    opinion = Department(name="Công an tỉnh")
    tax = Department(name="Thuế cơ sở 1")
    other = Office()
    procedure = crossing_procedure(commune, department)

    steps = api(commune.reception).get(f"/api/v1/procedures/{procedure.code}/").json()["workflow_steps"]
    assert [s["agency"] for s in steps] == [None, department.agency.code, department.agency.code, None, None]

    created = api(commune.reception).post(
        "/api/v1/dossiers/",
        {"procedure": procedure.code, "applicant_name": "Lò Văn Đất", "channel": "in_person"},
        format="json",
    )
    assert created.status_code == 201, created.content
    code, pin = created.json()["code"], created.json()["pin"]

    def act(user, action, expected=200, **body):
        response = api(user).post(f"/api/v1/dossiers/{code}/actions/{action}/", body, format="json")
        assert response.status_code == expected, (action, response.content)
        if expected == 200:
            # The action's answer is the detail the actor's next GET returns (holder, step,
            # consultations, history, actions), not a copy made before the action's effects.
            assert response.json() == api(user).get(f"/api/v1/dossiers/{code}/").json(), action
        return response.json()

    def holder(user, agency, index):
        detail = api(user).get(f"/api/v1/dossiers/{code}/").json()
        dossier = Dossier.objects.get(code=code)
        assert (detail["handling_agency"]["code"], detail["step_index"]) == (agency.code, index)
        # The step's deadline by the working-day engine (the desk's: the transfer of Art. 18.2).
        expected = periods.transfer_deadline(dossier.received_at) if index == 0 else planned(dossier, index)
        assert parse_datetime(detail["step_due_at"]) == dossier.step_due_at == expected
        return detail

    holder(commune.reception, commune.agency, 0)
    act(commune.reception, "assign", expected=409)  # the next step is the department's
    act(commune.reception, "hand_over")
    # The department's list holds it; the other commune's does not.
    listed = {row["code"] for row in api(department.specialist).get("/api/v1/dossiers/").json()["results"]}
    assert listed == {code}
    assert api(other.leader).get(f"/api/v1/dossiers/{code}/").status_code == 404
    detail = holder(department.specialist, department.agency, 1)
    assert detail["stage"] == Stage.HANDOVER and "accept_handover" in detail["actions"]
    act(department.specialist, "accept_handover")

    # The department asks the police's opinion; bad input is a 400 naming the field.
    errors = act(department.specialist, "consult", expected=400, agencies=["NOPE"], days="2", comment="?")
    assert "agencies" in errors
    act(department.specialist, "consult", agencies=[opinion.agency.code], days="2", comment="Xác minh nhân thân")
    assert "answer_consultation" in api(opinion.leader).get(f"/api/v1/dossiers/{code}/").json()["actions"]
    act(opinion.leader, "answer_consultation", comment="Không có tranh chấp")
    # … and the tax office's notice (the clock waits).
    act(department.specialist, "request_obligation", tax_agency=tax.agency.code, comment="Lệ phí trước bạ")
    errors = act(tax.specialist, "record_obligation", expected=400, amount="abc", notice_number="")
    assert {"amount", "notice_number"} <= set(errors)
    act(tax.specialist, "record_obligation", amount="1.500.000", notice_number="TB-7/2026")
    act(department.specialist, "obligation_fulfilled")
    consultations = api(department.specialist).get(f"/api/v1/dossiers/{code}/").json()["consultations"]
    assert [(c["kind"], c["agency"]["code"], c["answer"], c["amount_vnd"]) for c in consultations] == [
        ("opinion", opinion.agency.code, "Không có tranh chấp", None),
        ("obligation", tax.agency.code, "", 1_500_000),
    ]
    assert all(c["outcome"] in ("early", "on_time") and c["answered_by"] for c in consultations)

    act(department.specialist, "propose_result", result="Chỉnh lý Giấy chứng nhận")
    holder(department.leader, department.agency, 2)
    act(department.leader, "approve", expected=409)  # the commune's leader signs next
    act(department.leader, "hand_over")
    holder(commune.leader, commune.agency, 3)
    act(commune.leader, "accept_handover")
    act(commune.leader, "approve")
    act(commune.reception, "return_result", collected_by="Lò Văn Đất", result_form="paper")
    dossier = Dossier.objects.get(code=code)
    assert dossier.status == Status.RETURNED

    events = api(commune.reception).get(f"/api/v1/dossiers/{code}/").json()["events"]
    handovers = [
        (e["action"], e["data"]["handover"]["giver_agency"], e["data"]["handover"]["receiver_agency"])
        for e in events
        if "handover" in e["data"]
    ]
    a, d, t = commune.agency.code, department.agency.code, tax.agency.code
    assert handovers == [
        ("hand_over", a, d),
        ("accept_handover", a, d),
        ("request_obligation", d, t),
        ("hand_over", d, a),
        ("accept_handover", d, a),
    ]
    # The department (and the agencies it asked) keep read access; the other commune never had any.
    assert api(department.leader).get(f"/api/v1/dossiers/{code}/").status_code == 200
    assert api(tax.specialist).get(f"/api/v1/dossiers/{code}/").status_code == 200
    assert api(other.reception).get(f"/api/v1/dossiers/{code}/").status_code == 404

    with translation.override("vi"):
        lookup = api(other.reception).get("/api/v1/lookup/", {"code": code, "pin": pin}, HTTP_ACCEPT_LANGUAGE="vi")
    texts = [entry["text"] for entry in lookup.json()["timeline"]]
    assert (
        f"Hồ sơ của ông/bà đã được chuyển đến {department.agency.name} để giải quyết phần việc của cơ quan này."
        in texts
    )
    assert f"{department.agency.name} đã nhận hồ sơ của ông/bà và đang giải quyết." in texts
    assert f"{opinion.agency.name} đã có ý kiến về hồ sơ của ông/bà." in texts
