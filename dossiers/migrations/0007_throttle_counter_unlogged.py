"""The lookup throttle's counters need no crash safety: on PostgreSQL their table is UNLOGGED, so
writing them produces no WAL and a lookup's commit does not wait for a disk flush (a crash empties
the table: every client starts a fresh window). Nothing to do on SQLite."""

from django.db import migrations


def set_unlogged(apps, schema_editor, unlogged=True):
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("dossiers", "ThrottleCounter")
    table = schema_editor.quote_name(model._meta.db_table)
    schema_editor.execute(f"ALTER TABLE {table} SET {'UNLOGGED' if unlogged else 'LOGGED'}")


def set_logged(apps, schema_editor):
    set_unlogged(apps, schema_editor, unlogged=False)


class Migration(migrations.Migration):
    dependencies = [("dossiers", "0006_queue_indexes")]

    operations = [migrations.RunPython(set_unlogged, set_logged, elidable=False)]
