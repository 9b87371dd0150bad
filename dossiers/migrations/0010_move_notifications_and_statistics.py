"""State-only: the reminder, notification and statistics models moved to the `notifications` and
`reporting` apps (issue 12). Their tables keep their names; no row moves."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('dossiers', '0009_reminder_scan_covering_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                    migrations.RemoveField(
                        model_name='notification',
                        name='dossier',
                    ),
                    migrations.RemoveField(
                        model_name='notification',
                        name='recipient',
                    ),
                    migrations.DeleteModel(
                        name='NotificationTemplate',
                    ),
                    migrations.RemoveField(
                        model_name='reminder',
                        name='dossier',
                    ),
                    migrations.DeleteModel(
                        name='ReminderPolicy',
                    ),
                    migrations.RemoveField(
                        model_name='statcounter',
                        name='agency',
                    ),
                    migrations.RemoveField(
                        model_name='statcounter',
                        name='field',
                    ),
                    migrations.RemoveField(
                        model_name='statfact',
                        name='agency',
                    ),
                    migrations.RemoveField(
                        model_name='statfact',
                        name='dossier',
                    ),
                    migrations.RemoveField(
                        model_name='statfact',
                        name='field',
                    ),
                    migrations.RemoveField(
                        model_name='statspan',
                        name='dossier',
                    ),
                    migrations.DeleteModel(
                        name='Notification',
                    ),
                    migrations.DeleteModel(
                        name='Reminder',
                    ),
                    migrations.DeleteModel(
                        name='StatCounter',
                    ),
                    migrations.DeleteModel(
                        name='StatFact',
                    ),
                    migrations.DeleteModel(
                        name='StatSpan',
                    ),
            ],
            database_operations=[],
        ),
    ]
