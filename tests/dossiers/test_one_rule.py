"""One word, one definition (issue 12): the readers of "on time / late", "due soon" and
"waiting" agree, because each calls the same function."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from dossiers import selectors
from dossiers.lookup import lookup_result
from dossiers.models import Dossier
from notifications import outbox, reminders
from notifications.models import Reminder, ReminderKind, ReminderPolicy
from procedures import deadlines
from reporting.models import FinishKind, StatFact
from tests.factories import Office, vn

pytestmark = pytest.mark.django_db

MONDAY = vn(2026, 3, 2, 9, 0)


def _two_supplements_then_early_approval(office):
    """Requested at intake, then during processing; approved days before the due date."""
    dossier, pin = office.receive(now=MONDAY, missing_documents=["Tờ khai"])
    office.act(dossier, "supplement_received", user=office.reception, now=MONDAY + timedelta(hours=1))
    office.act(dossier, "assign", now=MONDAY + timedelta(hours=2))
    office.act(dossier, "request_supplement", now=MONDAY + timedelta(hours=3), comment="Thiếu bản sao")
    office.act(dossier, "supplement_received", user=office.reception, now=MONDAY + timedelta(hours=4))
    office.act(dossier, "propose_result", now=MONDAY + timedelta(hours=5), result="Cấp giấy")
    office.act(dossier, "approve", now=MONDAY + timedelta(hours=6))
    dossier.refresh_from_db()
    return dossier, pin


def test_api_statistics_and_lookup_agree_that_two_supplement_requests_are_late():
    office = Office()
    dossier, _pin = _two_supplements_then_early_approval(office)
    assert dossier.supplement_requests == 2
    assert dossier.finished_at < dossier.due_at  # before its due date, on a calendar reading

    client = APIClient()
    client.force_authenticate(office.reception)
    api = client.get(f"/api/v1/dossiers/{dossier.code}/").json()
    fact = StatFact.objects.get(dossier=dossier)
    client.force_authenticate(office.supervisor)
    table = client.get("/api/v1/stats/", {"from": "2026-03-01", "to": "2026-03-31"}).json()
    assert api["outcome"] == "late"
    assert fact.finish_kind == FinishKind.LATE
    assert (table["total"]["finished_late"], table["total"]["finished_early"]) == (1, 0)
    assert lookup_result(dossier)["outcome"] == "late"


def test_an_early_dossier_with_one_request_is_early_everywhere():
    office = Office()
    dossier, _pin = office.to_approval(now=MONDAY)
    office.act(dossier, "approve", now=MONDAY + timedelta(hours=1))
    dossier.refresh_from_db()
    client = APIClient()
    client.force_authenticate(office.reception)
    assert client.get(f"/api/v1/dossiers/{dossier.code}/").json()["outcome"] == "early"
    assert StatFact.objects.get(dossier=dossier).finish_kind == FinishKind.EARLY
    assert lookup_result(dossier)["outcome"] == "early"


def _digest_counts(user, now):
    return outbox.digest_counts(get_user_model().objects.get(pk=user.pk), now)


def _tab(user, name, now):
    fresh = get_user_model().objects.get(pk=user.pk)
    return set(selectors.filter_queue(Dossier.objects.visible_to(fresh), fresh, name, now).values_list("pk", flat=True))


@pytest.mark.parametrize("days", [1, 2, 3])
def test_due_soon_is_the_same_set_in_the_workspace_the_digest_and_the_reminders(days):
    """A dossier due every half day over the next week: the workspace tab, the digest's number and
    the reminder scan (due today + due soon) select the same dossiers at the same moment, for the
    policy's number of days."""
    office = Office(days="0.5")
    policy = ReminderPolicy.get()
    policy.due_soon_working_days = days
    policy.save()
    start = vn(2026, 3, 2, 8, 0)
    dossiers = []
    for half_days in range(12):
        moment = deadlines.add_working_minutes(start, half_days * 210)
        dossier, _pin = office.receive(now=moment)
        office.act(dossier, "assign", now=moment)
        dossiers.append(dossier)
    now = vn(2026, 3, 4, 9, 0)
    tab = _tab(office.leader, "due_soon", now)
    assert tab == set(Dossier.objects.due_soon(now, days).values_list("pk", flat=True))
    assert 0 < len(tab) < len(dossiers)
    # The leader watches every open dossier of their agency: the digest counts the same set.
    assert _digest_counts(office.leader, now)["due_soon"] == len(tab)
    reminders.scan(now)
    reminded = set(
        Reminder.objects.filter(kind__in=[ReminderKind.DUE_SOON, ReminderKind.DUE_TODAY]).values_list(
            "dossier_id", flat=True
        )
    )
    assert reminded == tab


def test_the_digest_waiting_count_equals_the_workspace_tab_for_every_officer():
    office = Office()
    now = vn(2026, 3, 2, 9, 0)
    at_desk, _pin = office.receive(now=now)  # waits for the reception (assign)
    processing, _pin = office.receive(now=now)
    office.act(processing, "assign", now=now)  # waits for the specialists
    approval, _pin = office.to_approval(now=now)  # waits for the leader
    ready, _pin = office.to_approval(now=now)
    office.act(ready, "approve", now=now)  # result ready: waits for the reception (return)
    for user in (office.reception, office.specialist, office.leader, office.supervisor):
        assert _digest_counts(user, now)["waiting"] == len(_tab(user, "waiting", now)), user.username
    assert ready.pk in _tab(office.reception, "waiting", now)
    assert _digest_counts(office.reception, now)["waiting"] == 2


def test_the_workspace_due_soon_tab_follows_the_reminder_policy():
    office = Office(days="3")
    dossier, _pin = office.receive(now=MONDAY)  # due Thu 5/3
    office.act(dossier, "assign", now=MONDAY)
    client = Client()
    client.force_login(office.leader)
    url = reverse("dossiers:workspace") + "?queue=due_soon"
    policy = ReminderPolicy.get()
    for days, shown in ((1, False), (3, True)):
        policy.due_soon_working_days = days
        policy.save()
        ids = _tab(office.leader, "due_soon", MONDAY)
        assert (dossier.pk in ids) is shown
        assert client.get(url).status_code == 200
