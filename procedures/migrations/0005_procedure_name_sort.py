"""Procedures get `name_sort`, their name's place in Vietnamese alphabetical order (issue 15):
catalogue lists are ordered by it. Existing rows are filled in."""

from django.db import migrations, models

from procedures.text import sort_string


def fill(apps, schema_editor):
    Procedure = apps.get_model("procedures", "Procedure")
    rows = list(Procedure.objects.only("pk", "name"))
    for row in rows:
        row.name_sort = sort_string(row.name)
    Procedure.objects.bulk_update(rows, ["name_sort"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("procedures", "0004_requireddocument_required")]

    operations = [
        migrations.AddField(
            model_name="procedure",
            name="name_sort",
            field=models.TextField(db_index=True, default="", editable=False),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterModelOptions(
            name="procedure",
            options={
                "ordering": ["name_sort", "code"],
                "verbose_name": "administrative procedure",
                "verbose_name_plural": "administrative procedures",
            },
        ),
    ]
