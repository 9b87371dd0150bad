from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("procedures", "0003_agency_heading_place")]

    operations = [
        migrations.AddField(
            model_name="requireddocument",
            name="required",
            field=models.BooleanField(
                default=True,
                help_text="Untick for a document needed only in some cases (say which in the note).",
                verbose_name="required in every case",
            ),
        ),
    ]
