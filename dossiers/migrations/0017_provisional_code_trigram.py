"""The officers' search matches part of the provisional reference too (`DossierQuerySet.search`):
without a trigram index on it, PostgreSQL could not combine the search's conditions from indexes
and read the whole dossier table for every search (1.5 s at 100,000 dossiers, most of it JIT
compiling the scan; issue 20). PostgreSQL only, like 0013."""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS dossier_provisional_code_trgm "
        "ON dossiers_dossier USING gin (provisional_code gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS dossier_provisional_code_trgm")


class Migration(migrations.Migration):
    dependencies = [("dossiers", "0016_handover_queue_index")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
