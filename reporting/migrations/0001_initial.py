"""The reporting models as they were in the dossiers app (state-only: their tables `dossiers_…` already
exist, created by dossiers 0002/0003 and altered up to 0009), and their content types re-pointed."""

import django.db.models.deletion
from django.db import migrations, models


NEW_LABEL = "reporting"
MOVED = ['statcounter', 'statfact', 'statspan']


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
        ('procedures', '0002_search_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                    migrations.CreateModel(
                        name='StatCounter',
                        fields=[
                            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                            ('grain', models.CharField(choices=[('d', 'Day'), ('m', 'Month'), ('t', 'All time')], max_length=1, verbose_name='grain')),
                            ('day', models.DateField(verbose_name='day')),
                            ('received_in_person', models.IntegerField(default=0)),
                            ('received_online', models.IntegerField(default=0)),
                            ('received_post', models.IntegerField(default=0)),
                            ('finished_early', models.IntegerField(default=0)),
                            ('finished_on_time', models.IntegerField(default=0)),
                            ('finished_late', models.IntegerField(default=0)),
                            ('refused', models.IntegerField(default=0)),
                            ('withdrawn', models.IntegerField(default=0)),
                            ('stopped', models.IntegerField(default=0)),
                            ('in_progress_on_time', models.IntegerField(default=0)),
                            ('in_progress_overdue', models.IntegerField(default=0)),
                            ('paused_on_time', models.IntegerField(default=0)),
                            ('paused_overdue', models.IntegerField(default=0)),
                            ('agency', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='procedures.agency', verbose_name='agency')),
                            ('field', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='procedures.field', verbose_name='field')),
                        ],
                        options={
                            'verbose_name': 'statistics counter',
                            'verbose_name_plural': 'statistics counters',
                            'db_table': 'dossiers_statcounter',
                            'indexes': [models.Index(fields=['agency', 'grain', 'day'], name='statcounter_agency_idx')],
                            'constraints': [models.UniqueConstraint(fields=('grain', 'day', 'agency', 'field'), name='statcounter_unique')],
                        },
                    ),
                    migrations.CreateModel(
                        name='StatFact',
                        fields=[
                            ('dossier', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='stat_fact', serialize=False, to='dossiers.dossier', verbose_name='dossier')),
                            ('channel', models.CharField(choices=[('in_person', 'In person'), ('online', 'Online'), ('post', 'Post')], max_length=20, verbose_name='channel')),
                            ('received_on', models.DateField(verbose_name='received on')),
                            ('finished_on', models.DateField(blank=True, null=True, verbose_name='finished on')),
                            ('finish_kind', models.CharField(blank=True, choices=[('early', 'Finished early'), ('on_time', 'Finished on time'), ('late', 'Finished late'), ('refused', 'Refused'), ('withdrawn', 'Withdrawn'), ('stopped', 'Stopped')], max_length=10, verbose_name='end')),
                            ('agency', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='procedures.agency', verbose_name='agency')),
                            ('field', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='procedures.field', verbose_name='field')),
                        ],
                        options={
                            'verbose_name': 'dossier statistics fact',
                            'verbose_name_plural': 'dossier statistics facts',
                            'db_table': 'dossiers_statfact',
                            'indexes': [models.Index(fields=['agency', 'received_on'], name='statfact_received_idx'), models.Index(fields=['agency', 'finished_on', 'finish_kind'], name='statfact_finished_idx')],
                        },
                    ),
                    migrations.CreateModel(
                        name='StatSpan',
                        fields=[
                            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                            ('start_on', models.DateField(verbose_name='from day')),
                            ('end_on', models.DateField(blank=True, null=True, verbose_name='until day (excluded)')),
                            ('paused', models.BooleanField(default=False, verbose_name='paused')),
                            ('due_on', models.DateField(blank=True, null=True, verbose_name='due day')),
                            ('dossier', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='stat_spans', to='dossiers.dossier', verbose_name='dossier')),
                        ],
                        options={
                            'verbose_name': 'dossier statistics span',
                            'verbose_name_plural': 'dossier statistics spans',
                            'db_table': 'dossiers_statspan',
                            'indexes': [models.Index(fields=['dossier', 'end_on'], name='statspan_dossier_idx')],
                            'constraints': [models.UniqueConstraint(condition=models.Q(('end_on__isnull', True)), fields=('dossier',), name='statspan_one_open')],
                        },
                    ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(repoint_content_types, restore_content_types),
    ]
