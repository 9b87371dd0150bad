"""Inter-agency routing across three agencies (two communes and a department): the department's
queue, its list of requests, the API list and search show what the own commune handed to it or
asked it, and nothing of the other commune; the other commune sees nothing of either (the
`world` fixture of tests/security/conftest.py; the generated matrix covers every endpoint)."""

import pytest
from django.urls import reverse

from .conftest import token_for

pytestmark = pytest.mark.django_db


def page(client, user, name, **query):
    client.force_login(user)
    response = client.get(reverse(name), query)
    assert response.status_code == 200, (name, user, response.status_code)
    return response.content.decode()


def api_codes(client, user, **query):
    response = client.get(reverse("dossier-list"), query, HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    assert response.status_code == 200
    return {row["code"] for row in response.json()["results"]}


def test_the_department_sees_what_it_was_given_and_nothing_else(client, world):
    own, other, dept = world.own, world.other, world.dept
    for user in (dept.reception, dept.specialist, dept.leader):
        waiting = page(client, user, "dossiers:workspace")
        assert own.handed.code in waiting, user  # the hand-over waits for its acceptance
        assert other.dossier.code not in waiting and other.dossier.applicant_name not in waiting
        assert api_codes(client, user) == {own.handed.code, own.dossier.code}
        assert not api_codes(client, user, search=other.dossier.applicant_name)
        for queue in ("due_soon", "overdue", "mine", "supplement"):
            assert other.dossier.code not in page(client, user, "dossiers:workspace", q=queue)
    for user in (dept.specialist, dept.leader):
        requests = page(client, user, "dossiers:consultations")
        assert own.dossier.code in requests and other.dossier.code not in requests
    # A department officer asking for the other commune's dossier: 404, as for any unknown code.
    client.force_login(dept.leader)
    assert client.get(reverse("dossiers:detail", args=[other.dossier.code])).status_code == 404


def test_the_other_commune_sees_nothing_of_the_hand_over_or_the_consultation(client, world):
    own, other = world.own, world.other
    for user in (other.reception, other.specialist, other.leader, other.supervisor):
        for queue in ("waiting", "due_soon", "overdue", "mine", "supplement"):
            html = page(client, user, "dossiers:workspace", q=queue)
            assert own.handed.code not in html and own.dossier.code not in html
        assert own.handed.code not in api_codes(client, user)
        assert not api_codes(client, user, search=own.handed.applicant_name)
        client.force_login(user)
        assert client.get(reverse("dossiers:detail", args=[own.handed.code])).status_code == 404
    assert own.dossier.code not in page(client, other.leader, "dossiers:consultations")
