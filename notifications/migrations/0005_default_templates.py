"""The notification templates exist from the start: one row per built-in kind × channel, with the
default text (SMS: the short text without diacritics), so an admin edits a copy instead of
facing an empty list. Idempotent: a row that exists (an admin's text) is left alone; the admin's
"create the missing templates" button does the same later, for kinds added since."""

from django.db import migrations


def create_default_templates(apps, schema_editor):
    from notifications.outbox import default_templates

    NotificationTemplate = apps.get_model("notifications", "NotificationTemplate")
    rows = NotificationTemplate.objects.using(schema_editor.connection.alias)
    for kind, channel, subject, body in default_templates():
        rows.get_or_create(kind=kind, channel=channel, defaults={"subject": subject, "body": body})


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_consultation_reminders")]

    operations = [migrations.RunPython(create_default_templates, migrations.RunPython.noop, elidable=False)]
