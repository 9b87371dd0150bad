"""An inter-agency dossier (liên thông, Decree 118/2025 Art. 20) in real browsers, on the demo
catalogue and the demo officers: the commune desk receives a land registration dossier (1.013978),
the commune's specialist checks it and hands it to the provincial Department of Agriculture and
Environment, whose specialist finds it in "Waiting for me" and accepts it, proposes the result,
whose leader approves it on a phone; the result comes back to the commune desk, which returns it.

At each step the dossier page shows the agency holding it and the step's deadline as the
working-day engine computes it; the events and the control slip (Mẫu 06, parsed back with pypdf)
name the giving and receiving side of each hand-over; the citizen's lookup tells it in plain
Vietnamese. The API walk of the same journey is tests/dossiers/test_interagency.py (services) and
tests/dossiers/test_interagency_api.py (HTTP).
"""

import io
import re

import pytest
from django.utils import timezone
from pypdf import PdfReader

from dossiers import periods
from dossiers.models import Dossier, Stage, Status
from procedures import deadlines
from procedures.demo import DEMO_DEPARTMENT_CODE
from procedures.models import Agency, Procedure

from .helpers import act, assert_fits_width, log_in, log_in_with_cookie, screenshot

pytestmark = pytest.mark.browser

LAND = "1.013978"  # Đăng ký đất đai … lần đầu: commune desk → commune → department → commune desk


def planned(dossier, index):
    """Step `index`'s deadline by the working-day engine: the cumulative share of the working time
    between acceptance and the due date (docs/workflow.md, "Step deadlines"); the desk's step of a
    paper dossier ends with its transfer (Art. 18.2: the same day before 15:00, else 08:30 the next)."""
    if index == 0:
        return periods.transfer_deadline(dossier.received_at)
    steps = dossier.procedure_snapshot["workflow"]
    share = sum(int(s["share"]) for s in steps[: index + 1])
    start = deadlines.counting_start(dossier.received_at)
    total = deadlines.working_minutes_between(start, dossier.due_at)
    return deadlines.add_working_minutes(start, total * share / 100)


def shown(value):
    return timezone.localtime(value).strftime("%d/%m/%Y %H:%M")


def panel_facts(page):
    """The inter-agency panel's facts as {label: value}."""
    panel = page.locator("section.ws-interagency")
    labels = panel.locator("dl.ws-facts dt").all_inner_texts()
    values = panel.locator("dl.ws-facts dd").all_inner_texts()
    return dict(zip(labels, values, strict=True))


def check_step(page, dossier, index, agency):
    """The page shows who holds the dossier, its step and that step's deadline (the engine's)."""
    dossier.refresh_from_db()
    assert (dossier.step_index, dossier.handling_agency) == (index, agency)
    assert dossier.step_due_at == planned(dossier, index)
    facts = panel_facts(page)
    assert facts["Agency holding the dossier"] == agency.name
    assert facts["Current step"] == dossier.procedure_snapshot["workflow"][index]["name"]
    assert facts["Step deadline"] == shown(dossier.step_due_at)


def test_a_commune_dossier_through_the_department_and_back(site, contexts):
    from django.contrib.auth import get_user_model

    users = {u.username: u for u in get_user_model().objects.all()}
    department = Agency.objects.get(code=DEMO_DEPARTMENT_CODE)
    land = Procedure.objects.get(code=LAND)
    assert [s.agency_id for s in land.workflow_steps.order_by("position")] == [
        None,
        None,
        department.pk,
        department.pk,
        None,
    ]

    # --- The commune desk receives the dossier (the reception form) ----------------------------
    desk = contexts.new().new_page()
    log_in(desk, site.reception, next_url="/can-bo/tiep-nhan/")
    desk.locator("#id_procedure").fill(LAND)
    with desk.expect_navigation():
        desk.locator("#id_procedure").press("Enter")
    desk.locator("#id_applicant_name").fill("Hoàng Văn Đất")
    desk.locator("#id_applicant_id_number").fill("019080004321")
    desk.locator("#id_applicant_phone").fill("0987 654 321")
    for checkbox in desk.locator("input[name=documents]").all():
        checkbox.check()
    with desk.expect_navigation():
        desk.get_by_role("button", name="Receive and print the receipt").click()
    code = desk.locator(".ws-receipt .ws-code").inner_text().strip()
    pin = desk.locator(".ws-receipt .ws-pin").inner_text().strip()
    dossier = Dossier.objects.get(code=code)
    assert (dossier.status, dossier.handling_agency) == (Status.RECEIVED, site.commune)
    desk.goto(dossier.get_absolute_url())
    check_step(desk, dossier, 0, site.commune)
    act(desk, "assign")

    # --- The commune's specialist hands it over: the form says where it goes --------------------
    commune_specialist = contexts.new()
    log_in_with_cookie(commune_specialist, site.specialist, site.url)
    specialist = commune_specialist.new_page()
    specialist.goto(dossier.get_absolute_url())
    check_step(specialist, dossier, 1, site.commune)
    handover = specialist.locator("form[action$='/hanh-dong/hand_over/']")
    assert department.name in handover.inner_text()
    assert "propose_result" not in specialist.content()  # the next step is the department's
    act(specialist, "hand_over")
    dossier.refresh_from_db()
    assert (dossier.stage, dossier.handling_agency) == (Stage.HANDOVER, department)
    # The commune follows it read-only now.
    assert "holds this dossier now" in specialist.locator("section.ws-interagency").inner_text()
    assert specialist.locator("form[action*='/hanh-dong/']").count() == 0

    # --- The department's specialist finds it in "Waiting for me" and accepts it ---------------
    department_desk = contexts.new()
    log_in_with_cookie(department_desk, users["chuyenvien_so"], site.url)
    so = department_desk.new_page()
    so.goto("/can-bo/?q=waiting")
    assert so.locator("a.ws-tab[aria-current=page]").inner_text().startswith("Waiting for me")
    row = so.locator("table a", has_text=code)
    assert row.count() >= 1, "the hand-over is not in the department's Waiting for me"
    with so.expect_navigation():
        row.first.click()
    check_step(so, dossier, 2, department)
    act(so, "accept_handover")
    dossier.refresh_from_db()
    assert (dossier.stage, dossier.assignee.username) == (Stage.PROCESSING, "chuyenvien_so")
    check_step(so, dossier, 2, department)
    act(so, "propose_result", result="Cấp Giấy chứng nhận quyền sử dụng đất thửa số 112, tờ bản đồ số 7")

    # --- The department's leader approves on a phone: the result goes back to the commune ------
    leader = contexts.new(phone=True).new_page()
    log_in(leader, users["lanhdao_so"], next_url="/can-bo/phe-duyet/")
    assert_fits_width(leader)
    card = leader.locator(".ws-card", has_text=code)
    assert card.count() == 1
    with leader.expect_navigation():
        card.tap()
    assert_fits_width(leader)
    screenshot(leader, "interagency-department-approval-phone-en", full_page=True)
    with leader.expect_navigation():
        leader.locator("form.ws-decide__approve button[type=submit]").tap()
    dossier.refresh_from_db()
    assert (dossier.status, dossier.stage, dossier.handling_agency) == (Status.RESULT_READY, Stage.RETURN, site.commune)

    # --- The commune desk returns the result ----------------------------------------------------
    desk.goto(dossier.get_absolute_url())
    assert desk.locator("section.ws-interagency").count() == 1
    act(desk, "return_result", collected_by="Hoàng Văn Đất")
    dossier.refresh_from_db()
    assert dossier.status == Status.RETURNED
    screenshot(desk, "interagency-returned-desktop-en", full_page=True)

    # The events: each hand-over with its giver and receiver, on the page too.
    handovers = [
        (e.action, e.data["handover"]["giver_agency"], e.data["handover"]["receiver_agency"])
        for e in dossier.events.order_by("created_at", "pk")
        if "handover" in (e.data or {})
    ]
    commune_code, department_code = site.commune.code, department.code
    assert handovers == [
        ("hand_over", commune_code, department_code),
        ("accept_handover", commune_code, department_code),
        ("approve", department_code, commune_code),
    ]
    timeline = desk.locator(".ws-timeline").inner_text()
    assert f"From {site.commune.name} to {department.name}" in timeline
    assert f"From {department.name} to {site.commune.name}" in timeline
    hand_overs = desk.locator(".ws-handovers li").all_inner_texts()
    assert len(hand_overs) == 1 and f"{site.commune.name} → {department.name}" in hand_overs[0]

    # The control slip (Mẫu 06), parsed back: each hand-over with giving and receiving side.
    slip = desk.context.request.get(f"/can-bo/ho-so/{code}/in/control-slip.pdf")
    assert slip.ok and slip.headers["content-type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(slip.body())).pages)
    text = re.sub(r"\s+", " ", text)
    assert "PHIẾU KIỂM SOÁT QUÁ TRÌNH" in text.upper()
    assert "Chuyển hồ sơ liên thông" in text and "Tiếp nhận hồ sơ liên thông" in text
    assert text.count(department.name) >= 2 and "Vũ Thị Lan" in text  # chuyenvien_so accepted it
    assert "Đặng Quốc Hưng" in text  # lanhdao_so gave the result back

    # --- The citizen's lookup, in Vietnamese -----------------------------------------------------
    citizen = contexts.new(phone=True, language=None).new_page()
    citizen.goto(f"/tra-cuu/?ma={code}&pin={pin}")
    assert_fits_width(citizen)
    entries = citizen.locator("ol.timeline > li").all_inner_texts()
    expected = [
        f"Hồ sơ của ông/bà đã được tiếp nhận tại {site.commune.name}.",
        "Hồ sơ của ông/bà đã được chuyển đi giải quyết.",
        f"Hồ sơ của ông/bà đã được chuyển đến {department.name} để giải quyết phần việc của cơ quan này.",
        f"{department.name} đã nhận hồ sơ của ông/bà và đang giải quyết.",
        f"Đã có kết quả. Mời ông/bà đến nhận tại {site.commune.name}.",
        "Đã trả kết quả.",
    ]
    assert len(entries) == len(expected), entries
    for entry, sentence in zip(entries, expected, strict=True):
        assert sentence in entry, (sentence, entry)
    screenshot(citizen, "interagency-lookup-phone-vi", full_page=True)
