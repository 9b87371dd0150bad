"""The split of the dossiers app (issue 12) keeps the data: a database populated at the old layout
(reminders, notifications, templates, the policy and the statistics tables in `dossiers`) is
migrated forward, and every row is found through the new apps' models, with the content types
(so the permissions and groups' grants) re-pointed. Runs on SQLite and on PostgreSQL."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

# The layout of the release before the split (each app's last migration then); migrating back to it
# unapplies the new apps' migrations and everything later.
OLD = [
    ("procedures", "0002_search_indexes"),
    ("accounts", "0001_initial"),
    ("dossiers", "0009_reminder_scan_covering_indexes"),
]
MOVED = {
    "notifications": ["reminder", "notification", "notificationtemplate", "reminderpolicy"],
    "reporting": ["statcounter", "statfact", "statspan"],
}


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_old_layout_keeps_every_row_after_the_split():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = migrate(OLD)
    # The old layout's content types and a group holding one of the moved permissions, as an
    # existing installation has them.
    for model in MOVED["notifications"] + MOVED["reporting"]:
        ContentType.objects.get_or_create(app_label="dossiers", model=model)
    for app in MOVED:
        ContentType.objects.filter(app_label=app).delete()
    ct = ContentType.objects.get(app_label="dossiers", model="notification")
    perm, _ = Permission.objects.get_or_create(
        content_type=ct, codename="change_notification", defaults={"name": "Can change notification"}
    )
    group = Group.objects.create(name="Quản trị thông báo")
    group.permissions.add(perm)

    Agency = old.get_model("procedures", "Agency")
    Field = old.get_model("procedures", "Field")
    Procedure = old.get_model("procedures", "Procedure")
    Dossier = old.get_model("dossiers", "Dossier")
    agency = Agency.objects.create(code="000.00.01.H01", name="UBND xã Cũ", level="commune")
    field = Field.objects.create(code="HT", name="Hộ tịch")
    procedure = Procedure.objects.create(code="1.000001", name="Khai sinh", field=field, processing_days=3)
    now = timezone.now()
    dossier = Dossier.objects.create(
        code="000.00.01.H01-261203-0001",
        procedure=procedure,
        procedure_version=1,
        receiving_agency=agency,
        competent_agency=agency,
        returning_agency=agency,
        applicant_name="Nguyễn Văn An",
        status=2,
        stage="intake",
        submitted_at=now,
        received_at=now,
        due_at=now,
        pin_hash="x" * 64,
    )
    old.get_model("dossiers", "Reminder").objects.create(dossier=dossier, kind="overdue", threshold="t", created_at=now)
    message = {"kind": "received", "subject": "s", "body": "b"}
    old.get_model("dossiers", "Notification").objects.create(
        dedupe_key="k1", channel="email", dossier=dossier, address="a@example.org", **message
    )
    old.get_model("dossiers", "NotificationTemplate").objects.create(channel="sms", **message)
    old.get_model("dossiers", "ReminderPolicy").objects.create(scan_interval_minutes=7)
    old.get_model("dossiers", "StatFact").objects.create(
        dossier=dossier, agency=agency, field=field, channel="in_person", received_on=now.date()
    )
    old.get_model("dossiers", "StatSpan").objects.create(
        dossier=dossier, paused=False, start_on=now.date(), due_on=now.date()
    )
    old.get_model("dossiers", "StatCounter").objects.create(
        agency=agency, field=field, grain="d", day=now.date(), received_in_person=1
    )

    new = migrate(latest)

    assert new.get_model("notifications", "Reminder").objects.get().dossier_id == dossier.pk
    assert new.get_model("notifications", "Notification").objects.get().dedupe_key == "k1"
    assert new.get_model("notifications", "NotificationTemplate").objects.filter(kind="received").count() == 1
    assert new.get_model("notifications", "ReminderPolicy").objects.get().scan_interval_minutes == 7
    assert new.get_model("reporting", "StatFact").objects.get().dossier_id == dossier.pk
    assert new.get_model("reporting", "StatSpan").objects.count() == 1
    assert new.get_model("reporting", "StatCounter").objects.get().received_in_person == 1
    for app, models in MOVED.items():
        for model in models:
            assert ContentType.objects.filter(app_label=app, model=model).count() == 1
            assert not ContentType.objects.filter(app_label="dossiers", model=model).exists()
    # The group's grant followed the content type: it is now the notifications app's permission.
    perm.refresh_from_db()
    assert perm.content_type.app_label == "notifications"
    assert group.permissions.filter(content_type__app_label="notifications", codename="change_notification").exists()
