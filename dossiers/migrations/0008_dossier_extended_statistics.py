"""Extended statistics for the planner (PostgreSQL only).

The queue arms read one (agency column, status) range of an index in (due_at, id) order and
filter it on the stage. PostgreSQL assumes the columns independent and underestimates such
ranges (5 rows expected where there are 400), so it prefers reading every match and sorting over
an ordered index scan that stops after a page: 20 ms instead of 1 ms at 100,000 dossiers, growing
with the table. Multi-column statistics (most common values of the combinations, and the
status → stage dependency) give it the real counts. ANALYZE (autovacuum, or `seed_bench`'s
VACUUM ANALYZE) fills them."""

from django.db import migrations

STATISTICS = {
    "dossier_status_stage_stats": "(mcv, dependencies) ON status, stage",
    "dossier_receiving_status_stats": "(mcv) ON receiving_agency_id, status, stage",
    "dossier_competent_status_stats": "(mcv) ON competent_agency_id, status, stage",
    "dossier_returning_status_stats": "(mcv) ON returning_agency_id, status, stage",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("dossiers", "Dossier")._meta.db_table)
    for name, definition in STATISTICS.items():
        schema_editor.execute(f"CREATE STATISTICS IF NOT EXISTS {name} {definition} FROM {table}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in STATISTICS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("dossiers", "0007_throttle_counter_unlogged")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
