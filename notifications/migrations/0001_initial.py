"""The notifications models as they were in the dossiers app (state-only: their tables `dossiers_…` already
exist, created by dossiers 0002/0003 and altered up to 0009), and their content types re-pointed."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


NEW_LABEL = "notifications"
MOVED = ['reminder', 'notification', 'notificationtemplate', 'reminderpolicy']


def repoint_content_types(apps, schema_editor):
    """The moved models' content types (and so their permissions, groups' grants and admin log
    entries) now belong to this app. On a fresh database there is nothing to move yet."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        ContentType.objects.filter(app_label=NEW_LABEL, model=model).delete()  # only if created early
        ContentType.objects.filter(app_label="dossiers", model=model).update(app_label=NEW_LABEL)


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=NEW_LABEL, model__in=MOVED).update(app_label="dossiers")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('dossiers', '0010_move_notifications_and_statistics'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                    migrations.CreateModel(
                        name='ReminderPolicy',
                        fields=[
                            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                            ('scan_interval_minutes', models.PositiveSmallIntegerField(default=15, verbose_name='scan every (minutes)')),
                            ('scan_in_office_hours_only', models.BooleanField(default=True, verbose_name='scan during office hours only')),
                            ('digest_time', models.TimeField(default='07:30', verbose_name='morning digest at')),
                            ('due_soon_working_days', models.PositiveSmallIntegerField(default=1, verbose_name='warn when due within (working days)')),
                            ('extension_prompt_working_days', models.PositiveSmallIntegerField(default=2, verbose_name='prompt for the apology letter when due within (working days)')),
                            ('notify_leaders', models.BooleanField(default=True, verbose_name="also notify the agency's leaders")),
                            ('email_officers', models.BooleanField(default=True, verbose_name='e-mail officers')),
                            ('notify_citizens_by_email', models.BooleanField(default=True, verbose_name='e-mail citizens')),
                            ('notify_citizens_by_sms', models.BooleanField(default=True, verbose_name='SMS citizens')),
                            ('max_attempts', models.PositiveSmallIntegerField(default=8, verbose_name='delivery attempts before giving up')),
                            ('last_scan_at', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='last scan at')),
                            ('last_digest_on', models.DateField(blank=True, editable=False, null=True, verbose_name='last digest on')),
                        ],
                        options={
                            'verbose_name': 'reminder policy',
                            'verbose_name_plural': 'reminder policy',
                            'db_table': 'dossiers_reminderpolicy',
                        },
                    ),
                    migrations.CreateModel(
                        name='NotificationTemplate',
                        fields=[
                            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                            ('kind', models.CharField(max_length=40, verbose_name='kind')),
                            ('channel', models.CharField(choices=[('in_app', 'In the app'), ('email', 'E-mail'), ('sms', 'SMS')], max_length=10, verbose_name='channel')),
                            ('subject', models.CharField(max_length=255, verbose_name='subject')),
                            ('body', models.TextField(verbose_name='message')),
                            ('active', models.BooleanField(default=True, verbose_name='active')),
                            ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
                        ],
                        options={
                            'verbose_name': 'notification template',
                            'verbose_name_plural': 'notification templates',
                            'db_table': 'dossiers_notificationtemplate',
                            'ordering': ['kind', 'channel'],
                            'constraints': [models.UniqueConstraint(fields=('kind', 'channel'), name='unique_notification_template')],
                        },
                    ),
                    migrations.CreateModel(
                        name='Notification',
                        fields=[
                            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                            ('dedupe_key', models.CharField(editable=False, max_length=200, unique=True)),
                            ('kind', models.CharField(max_length=40, verbose_name='kind')),
                            ('channel', models.CharField(choices=[('in_app', 'In the app'), ('email', 'E-mail'), ('sms', 'SMS')], max_length=10, verbose_name='channel')),
                            ('address', models.CharField(blank=True, help_text='E-mail or phone number.', max_length=255, verbose_name='address')),
                            ('subject', models.CharField(max_length=255, verbose_name='subject')),
                            ('body', models.TextField(verbose_name='message')),
                            ('link', models.CharField(blank=True, max_length=255, verbose_name='link')),
                            ('state', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('failed', 'Failed (gave up)')], default='pending', max_length=10, verbose_name='state')),
                            ('attempts', models.PositiveSmallIntegerField(default=0, verbose_name='attempts')),
                            ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='next attempt at')),
                            ('last_error', models.TextField(blank=True, verbose_name='last error')),
                            ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created at')),
                            ('sent_at', models.DateTimeField(blank=True, null=True, verbose_name='sent at')),
                            ('read_at', models.DateTimeField(blank=True, null=True, verbose_name='read at')),
                            ('dossier', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='dossiers.dossier', verbose_name='dossier')),
                            ('recipient', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to=settings.AUTH_USER_MODEL, verbose_name='recipient')),
                        ],
                        options={
                            'verbose_name': 'notification',
                            'verbose_name_plural': 'notifications',
                            'db_table': 'dossiers_notification',
                            'ordering': ['-created_at', '-id'],
                            'indexes': [models.Index(condition=models.Q(('state', 'pending')), fields=['next_attempt_at'], name='notification_pending_idx'), models.Index(condition=models.Q(('channel', 'in_app')), fields=['recipient', 'channel', 'read_at'], name='notification_inbox_idx')],
                        },
                    ),
                    migrations.CreateModel(
                        name='Reminder',
                        fields=[
                            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                            ('kind', models.CharField(choices=[('due_soon', 'Due within one working day'), ('due_today', 'Due today'), ('overdue', 'Overdue'), ('step_overdue', 'Step deadline passed'), ('extension_prompt', 'Issue the apology letter while still possible')], max_length=30, verbose_name='kind')),
                            ('threshold', models.CharField(max_length=64, verbose_name='threshold')),
                            ('created_at', models.DateTimeField(verbose_name='created at')),
                            ('dossier', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='reminders', to='dossiers.dossier', verbose_name='dossier')),
                        ],
                        options={
                            'verbose_name': 'reminder',
                            'verbose_name_plural': 'reminders',
                            'db_table': 'dossiers_reminder',
                            'constraints': [models.UniqueConstraint(fields=('dossier', 'kind', 'threshold'), name='unique_reminder')],
                        },
                    ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(repoint_content_types, restore_content_types),
    ]
