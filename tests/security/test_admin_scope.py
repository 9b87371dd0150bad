"""The Django admin is scoped by agency like the workspace (issue 13, finding 3).

A staff user of agency A with only the view permission searched and opened agency B's dossiers
(ID numbers, phones) in the admin, although the workspace gave 404. Now every admin page of
dossiers, events, notifications, reminders and the audit rows reads through the same scope
(`Dossier.objects.visible_to`, accounts.roles.visible_agency_ids); superusers still see all.
"""

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEntry
from notifications.models import Notification, Reminder

VIEW = [
    "dossiers.view_dossier",
    "dossiers.view_dossierevent",
    "notifications.view_notification",
    "notifications.view_reminder",
    "accounts.view_auditentry",
    "admin.view_logentry",
    "dossiers.view_throttlecounter",
]


@pytest.fixture
def staff(world):
    """The own office's reception officer, made staff with view permissions only."""
    offices = world
    user = offices.own.reception
    user.is_staff = True
    user.save()
    for dotted in VIEW:
        app_label, codename = dotted.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    for office in (offices.own, offices.other):  # `world` gave each a notification and an attachment
        Reminder.objects.create(dossier=office.dossier, kind="due_soon", threshold="x", created_at=timezone.now())
        AuditEntry.record(AuditEntry.Kind.LOGIN, user=office.specialist)
        LogEntry.objects.log_action(
            user_id=office.specialist.pk,
            content_type_id=ContentType.objects.get_for_model(office.dossier).pk,
            object_id=office.dossier.pk,
            object_repr=f"repr of {office.specialist.username}",
            action_flag=CHANGE,
        )
    return user


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def test_admin_lists_and_searches_only_the_own_agencys_dossiers(client, offices, staff):
    client.force_login(staff)
    other, own = offices.other.dossier, offices.own.dossier
    other_link = reverse("admin:dossiers_dossier_change", args=[other.pk])
    for query in (other.code, other.applicant_id_number, other.applicant_name, ""):
        page = client.get(reverse("admin:dossiers_dossier_changelist"), {"q": query}).content.decode()
        assert other_link not in page, query
        assert query == other.applicant_name or other.applicant_name not in page, query
    assert own.code in client.get(reverse("admin:dossiers_dossier_changelist"), {"q": own.code}).content.decode()


def test_admin_change_and_history_views_of_another_agency_are_not_found(client, offices, staff):
    client.force_login(staff)
    other = offices.other.dossier
    for name in ("admin:dossiers_dossier_change", "admin:dossiers_dossier_history"):
        response = client.get(reverse(name, args=[other.pk]), follow=True)
        body = response.content.decode()
        assert other.applicant_phone not in body and other.applicant_id_number not in body and other.code not in body
    own = client.get(reverse("admin:dossiers_dossier_change", args=[offices.own.dossier.pk]))
    assert own.status_code == 200 and offices.own.dossier.applicant_id_number in own.content.decode()
    event = offices.other.dossier.events.first()
    response = client.get(reverse("admin:dossiers_dossierevent_change", args=[event.pk]), follow=True)
    assert other.code not in response.content.decode()


def test_events_notifications_reminders_and_audit_rows_are_scoped(client, offices, staff):
    client.force_login(staff)
    other = offices.other
    for model in (Reminder, Notification):
        page = client.get(changelist(model)).content.decode()
        assert other.dossier.code not in page and offices.own.dossier.code in page, model
    page = client.get(changelist(type(other.dossier.events.first()))).content.decode()
    assert other.dossier.code not in page and offices.own.dossier.code in page
    for model in (AuditEntry, LogEntry):
        page = client.get(changelist(model)).content.decode()
        assert other.specialist.username not in page and offices.own.specialist.username in page, model
    # Throttle keys are client addresses and codes of every agency: superusers only.
    assert client.get(reverse("admin:dossiers_throttlecounter_changelist")).status_code == 403


def test_the_superuser_still_sees_every_agency(client, offices, staff):
    client.force_login(offices.admin)
    page = client.get(reverse("admin:dossiers_dossier_changelist")).content.decode()
    assert offices.other.dossier.code in page and offices.own.dossier.code in page
    page = client.get(changelist(AuditEntry)).content.decode()
    assert offices.other.specialist.username in page
