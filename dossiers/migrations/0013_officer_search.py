"""The officers' search (DossierQuerySet.search): the folded applicant name, equality indexes on
the phone and ID number and, on PostgreSQL, trigram indexes for `LIKE '%…%'` on the folded name
and the code (pg_trgm, from postgresql-contrib; procedures/0002 creates the extension)."""

from django.db import migrations, models
from django.db.models import Q

from procedures.text import fold

BATCH = 2000


def backfill_folded(apps, schema_editor):
    Dossier = apps.get_model("dossiers", "Dossier")
    rows = Dossier.objects.using(schema_editor.connection.alias).filter(applicant_folded="").order_by("pk")
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last).values_list("pk", "applicant_name")[:BATCH])
        if not batch:
            break
        for pk, name in batch:
            Dossier.objects.using(schema_editor.connection.alias).filter(pk=pk).update(
                applicant_folded=fold(name)[:255]
            )
        last = batch[-1][0]


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS dossier_applicant_trgm "
        "ON dossiers_dossier USING gin (applicant_folded gin_trgm_ops)"
    )
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS dossier_code_trgm ON dossiers_dossier USING gin (code gin_trgm_ops)"
    )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS dossier_applicant_trgm")
    schema_editor.execute("DROP INDEX IF EXISTS dossier_code_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0012_legal_conformity_round2"),
        ("procedures", "0002_search_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="dossier",
            name="applicant_folded",
            field=models.CharField(blank=True, default="", editable=False, max_length=255),
        ),
        migrations.AddIndex(
            model_name="dossier",
            index=models.Index(
                condition=~Q(applicant_phone=""), fields=["applicant_phone"], name="dossier_applicant_phone_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="dossier",
            index=models.Index(
                condition=~Q(applicant_id_number=""), fields=["applicant_id_number"], name="dossier_applicant_id_idx"
            ),
        ),
        migrations.RunPython(backfill_folded, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes, elidable=False),
    ]
