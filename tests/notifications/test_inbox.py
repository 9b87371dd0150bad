"""Officers' in-app notifications (/can-bo/thong-bao/, dossiers/inbox.py): the unread count, the
list, marking one or all as read, and nobody else's notifications."""

import pytest
from django.urls import reverse

from notifications import reminders
from notifications.models import Notification, NotificationChannel
from notifications.outbox import queue
from tests.factories import Office, vn

pytestmark = pytest.mark.django_db

INBOX = reverse("notifications:inbox")


@pytest.fixture
def office():
    office = Office()
    # Received Mon 2/3 09:00 and transferred: due Thu 5/3 11:30; a scan on Thursday afternoon
    # gives the specialist two reminders (overdue, step deadline passed).
    dossier, _pin = office.receive(now=vn(2026, 3, 2, 9, 0))
    office.act(dossier, "assign", now=vn(2026, 3, 2, 9, 5), assignee=office.specialist.username)
    reminders.scan(vn(2026, 3, 5, 14, 0))
    office.dossier = dossier
    return office


def unread(user):
    return Notification.objects.unread_for(user).count()


def test_inbox_lists_my_notifications_with_the_unread_count(client, office):
    client.force_login(office.specialist)
    response = client.get(INBOX)
    assert response.status_code == 200
    assert response.context["unread_notifications_label"] == "2"
    page = response.content.decode()
    assert f"Hồ sơ {office.dossier.code} đã quá hạn" in page
    assert f"Hồ sơ {office.dossier.code}: bước xử lý đã quá hạn" in page
    assert f'href="/can-bo/ho-so/{office.dossier.code}/"' in page
    assert [n.recipient for n in response.context["items"]] == [office.specialist] * 2


def test_every_officer_page_carries_the_unread_count(client, office):
    client.force_login(office.specialist)
    response = client.get(reverse("dossiers:workspace"))
    assert response.status_code == 200
    assert response.context["unread_notifications_label"] == "2"
    # Public pages do not query it.
    assert "unread_notifications_label" not in client.get("/tra-cuu/").context


def test_mark_one_then_all_as_read(client, office):
    client.force_login(office.specialist)
    first = Notification.objects.unread_for(office.specialist).first()
    response = client.post(reverse("notifications:inbox_read", args=[first.pk]))
    assert response.status_code == 302 and response["Location"] == INBOX
    first.refresh_from_db()
    assert first.read_at is not None
    assert unread(office.specialist) == 1
    assert client.get(INBOX).context["unread_notifications_label"] == "1"

    response = client.post(reverse("notifications:inbox_read_all"), {"next": "/can-bo/"})
    assert response.status_code == 302 and response["Location"] == "/can-bo/"
    assert unread(office.specialist) == 0
    # The leader's own notifications are untouched.
    assert unread(office.leader) == 2


def test_read_all_ignores_an_unsafe_next_url(client, office):
    client.force_login(office.specialist)
    response = client.post(reverse("notifications:inbox_read_all"), {"next": "https://evil.example/"})
    assert response["Location"] == INBOX


def test_other_users_notifications_are_404_and_unchanged(client, office):
    client.force_login(office.specialist)
    leaders = Notification.objects.unread_for(office.leader).first()
    assert client.post(reverse("notifications:inbox_read", args=[leaders.pk])).status_code == 404
    leaders.refresh_from_db()
    assert leaders.read_at is None
    page = client.get(INBOX).content.decode()
    assert f"notification-{leaders.pk}" not in page


def test_citizen_outbox_rows_are_not_in_anyones_inbox(client, office):
    citizen_row = Notification.objects.filter(kind="citizen.received", channel="email").first()
    client.force_login(office.specialist)
    assert client.post(reverse("notifications:inbox_read", args=[citizen_row.pk])).status_code == 404


def test_marking_read_needs_post(client, office):
    client.force_login(office.specialist)
    assert client.get(reverse("notifications:inbox_read_all")).status_code == 405


def test_anonymous_users_are_sent_to_the_login_page(client, office):
    for response in (client.get(INBOX), client.post(reverse("notifications:inbox_read_all"))):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_more_than_99_unread_shows_99_plus(client, office):
    for i in range(100):
        queue(
            kind="digest",
            channel=NotificationChannel.IN_APP,
            key=f"test:{i}",
            subject=f"Tin {i}",
            body="",
            recipient=office.reception,
            link="/can-bo/",
        )
    client.force_login(office.reception)
    response = client.get(INBOX)
    assert response.context["unread_notifications_label"] == "99+"
    assert len(response.context["items"]) == 50  # one page


def test_empty_inbox(client, office):
    client.force_login(office.supervisor)
    response = client.get(INBOX)
    assert response.status_code == 200
    assert response.context["unread_notifications_label"] == "0"
    assert response.context["items"] == []


def test_links_in_a_notification_are_links(client, office):
    note = Notification.objects.filter(recipient=office.specialist).first()
    Notification.objects.filter(pk=note.pk).update(body="Xem hồ sơ: https://motcua.example/can-bo/ho-so/X-1/ <b>")
    client.force_login(office.specialist)
    page = client.get(INBOX).content.decode()
    assert '<a href="https://motcua.example/can-bo/ho-so/X-1/" rel="nofollow">' in page
    assert "&lt;b&gt;" in page  # the rest stays escaped
