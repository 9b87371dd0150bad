"""The dossier admin is a read-only window: status changes only through the workflow service."""

import pytest
import time_machine
from django.urls import reverse

from dossiers.models import Dossier, DossierEvent, Stage, Status, ThrottleCounter
from tests.factories import Office, make_user, vn

pytestmark = pytest.mark.django_db

T = vn(2026, 3, 2, 9, 0)


@pytest.fixture(autouse=True)
def _frozen_time():
    # The admin's overdue flag and filter use the real clock: freeze it on Tuesday 3 March 2026.
    with time_machine.travel(vn(2026, 3, 3, 9, 0), tick=False):
        yield


@pytest.fixture
def admin_client(client):
    user = make_user("quantri", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def dossiers():
    office = Office(code="000.01.21.H12")
    received, _pin = office.receive(now=T, applicant_name="Nguyễn Văn An", applicant_id_number="001099012345")
    overdue, _pin = office.receive(
        now=vn(2026, 1, 5, 9, 0), applicant_name="Trần Thị Bình", applicant_id_number="002088000111"
    )
    overdue = office.act(overdue, "assign", now=vn(2026, 1, 5, 9, 0))
    returned, _pin = office.receive(now=T, applicant_name="Lò Thị Dung", applicant_id_number="")
    office.act(returned, "assign", now=T)
    office.act(returned, "propose_result", now=T, result="Giấy khai sinh")
    office.act(returned, "approve", now=T)
    office.act(returned, "return_result", now=T, collected_by="Lò Văn Páo")
    returned.refresh_from_db()
    return {"received": received, "overdue": overdue, "returned": returned}


def changelist(client, **params):
    return client.get(reverse("admin:dossiers_dossier_changelist"), params)


def test_superuser_sees_the_dossier_list_with_derived_overdue_flag(admin_client, dossiers):
    response = changelist(admin_client)
    assert response.status_code == 200
    listed = {d.code for d in response.context["cl"].result_list}
    assert listed == {d.code for d in dossiers.values()}
    body = response.content.decode()
    assert "000.01.21.H12" in body and "Nguyễn Văn An" in body

    response = changelist(admin_client, overdue="yes")
    assert [d.code for d in response.context["cl"].result_list] == [dossiers["overdue"].code]
    response = changelist(admin_client, overdue="no")
    assert dossiers["overdue"].code not in {d.code for d in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "Bình"}, ["overdue"]),
        ({"q": "001099012345"}, ["received"]),
        ({"status__exact": Status.RETURNED}, ["returned"]),
        ({"stage__exact": Stage.PROCESSING}, ["overdue"]),
        ({"channel__exact": "online"}, []),
        ({"submitted_at__year": "2026", "submitted_at__month": "1"}, ["overdue"]),
    ],
)
def test_dossier_list_searches_and_filters(admin_client, dossiers, params, expected):
    response = changelist(admin_client, **params)
    assert response.status_code == 200
    assert sorted(d.code for d in response.context["cl"].result_list) == sorted(dossiers[k].code for k in expected)


def test_dossier_list_searches_by_code(admin_client, dossiers):
    code = dossiers["returned"].code
    response = changelist(admin_client, q=code)
    assert [d.code for d in response.context["cl"].result_list] == [code]


def test_dossier_detail_shows_events_and_hides_the_pin_hash(admin_client, dossiers):
    dossier = dossiers["returned"]
    response = admin_client.get(reverse("admin:dossiers_dossier_change", args=[dossier.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert dossier.code in body
    assert "Lò Văn Páo" in body
    assert "return_result" in body and "approve" in body  # the events inline
    assert dossier.pin_hash not in body
    assert response.context["has_change_permission"] is False


def test_posting_a_status_change_through_the_admin_changes_nothing(admin_client, dossiers):
    dossier = dossiers["received"]
    before = Dossier.objects.filter(pk=dossier.pk).values().get()
    response = admin_client.post(
        reverse("admin:dossiers_dossier_change", args=[dossier.pk]),
        {"status": Status.RETURNED, "stage": Stage.CLOSED, "applicant_name": "Kẻ Sửa", "_save": "Save"},
    )
    assert response.status_code == 403
    assert Dossier.objects.filter(pk=dossier.pk).values().get() == before


def test_dossiers_cannot_be_added_or_deleted_through_the_admin(admin_client, dossiers):
    dossier = dossiers["received"]
    assert admin_client.get(reverse("admin:dossiers_dossier_add")).status_code == 403
    assert admin_client.post(reverse("admin:dossiers_dossier_add"), {"applicant_name": "X"}).status_code == 403
    delete_url = reverse("admin:dossiers_dossier_delete", args=[dossier.pk])
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    response = admin_client.post(
        reverse("admin:dossiers_dossier_changelist"),
        {"action": "delete_selected", "_selected_action": [dossier.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert Dossier.objects.count() == 3
    assert changelist(admin_client).context["action_form"] is None  # no bulk actions, no bulk delete


def test_events_are_read_only_in_the_admin(admin_client, dossiers):
    event = dossiers["returned"].events.last()
    before = list(DossierEvent.objects.values())
    assert admin_client.get(reverse("admin:dossiers_dossierevent_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:dossiers_dossierevent_change", args=[event.pk])).status_code == 200
    assert admin_client.get(reverse("admin:dossiers_dossierevent_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:dossiers_dossierevent_add"),
        {"dossier": dossiers["received"].pk, "action": "approve", "to_status": Status.RESULT_READY},
    )
    assert response.status_code == 403
    response = admin_client.post(
        reverse("admin:dossiers_dossierevent_change", args=[event.pk]), {"comment": "sửa", "to_status": 3}
    )
    assert response.status_code == 403
    delete_url = reverse("admin:dossiers_dossierevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert list(DossierEvent.objects.values()) == before


def test_event_inline_in_the_dossier_form_cannot_add_or_change_events(admin_client, dossiers):
    dossier = dossiers["received"]
    response = admin_client.get(reverse("admin:dossiers_dossier_change", args=[dossier.pk]))
    for formset in response.context["inline_admin_formsets"]:
        assert not formset.has_add_permission
        assert not formset.has_change_permission
        assert not formset.has_delete_permission


def test_throttle_counters_are_read_only(admin_client):
    counter = ThrottleCounter.objects.create(key="lookup:127.0.0.1", window_start=T, count=3)
    assert admin_client.get(reverse("admin:dossiers_throttlecounter_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:dossiers_throttlecounter_add")).status_code == 403
    response = admin_client.post(reverse("admin:dossiers_throttlecounter_change", args=[counter.pk]), {"count": 0})
    assert response.status_code == 403
    counter.refresh_from_db()
    assert counter.count == 3
