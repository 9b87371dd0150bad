"""/thong-ke/ shows the table per handling agency (reporting/handling.py): a department that held a
commune's dossier past its step deadline has its late steps and the late dossier on its own row."""

from datetime import timedelta

import pytest
from django.urls import reverse

from dossiers.services import dossier_act
from tests.dossiers.test_interagency import Department, T, crossing_procedure
from tests.factories import Office, make_user

pytestmark = pytest.mark.django_db


def row_of(html, name):
    start = html.index(f'<th scope="row" class="st-sticky">{name}</th>', html.index('id="handling-title"'))
    return [cell.split(">", 1)[1] for cell in html[start : html.index("</tr>", start)].split("</td>")[:-1]]


def test_the_dashboard_charges_the_department_that_held_the_late_dossier(client, settings):
    commune = Office()
    department = Department(name="Sở Nông nghiệp và Môi trường")
    procedure = crossing_procedure(commune, department)
    d, _pin = commune.receive(procedure=procedure, now=T)
    d = dossier_act(dossier=d, actor=commune.reception, action="hand_over", now=T + timedelta(minutes=10))
    d = dossier_act(dossier=d, actor=department.specialist, action="accept_handover", now=T + timedelta(minutes=20))
    late = d.due_at + timedelta(hours=1)
    d = dossier_act(dossier=d, actor=department.specialist, action="propose_result", now=late, result="Chỉnh lý")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(make_user("root", is_superuser=True))
    response = client.get(reverse("stats:dashboard"), {"period": "custom", "from": "01/03/2026", "to": "30/04/2026"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Per handling agency" in html and "Late dossiers charged" in html
    held = row_of(html, "Sở Nông nghiệp và Môi trường")
    # steps, early, on time, late, open on time, open overdue, rate, late dossiers, opinions, late answers
    assert held[3] == "1" and held[7] == "1", held
    desk = row_of(html, commune.agency.name)
    assert desk[3] == "0" and desk[7] == "0", desk
