"""Trigram index for procedure search on PostgreSQL (a no-op on SQLite).

`search_folded` holds fold(name + code); a GIN index with gin_trgm_ops serves both the
`LIKE '%term%'` candidates and the word-similarity typo tolerance of procedures/search.py.
pg_trgm ships with postgresql-contrib.
"""

from django.db import migrations


def create_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS procedure_search_trgm "
        "ON procedures_procedure USING gin (search_folded gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # The extension stays: other objects may use it.
    schema_editor.execute("DROP INDEX IF EXISTS procedure_search_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_trigram_index, drop_trigram_index, elidable=False),
    ]
