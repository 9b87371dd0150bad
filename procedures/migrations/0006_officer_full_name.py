"""Officers' names in one "Họ và tên" field, in Vietnamese order.

The admin used to ask for Django's two fields, labelled "Tên" (first_name) and "Họ" (last_name),
and every screen printed first + last name, so "Đỗ Thị" + "Thu" came out as "Thu Đỗ Thị". The
full name now lives in `first_name` (procedures/admin.py UserAdmin), family name first: this joins
last + first name and empties `last_name`. Idempotent: users with an empty last name are left
alone. Reversing cannot know where the given name starts: it leaves the names as they are."""

from django.conf import settings
from django.db import migrations


def join_names(apps, schema_editor):
    app_label, model_name = settings.AUTH_USER_MODEL.split(".")
    User = apps.get_model(app_label, model_name)
    field_names = {field.name for field in User._meta.get_fields()}
    if not {"first_name", "last_name"} <= field_names:
        return
    users = User.objects.using(schema_editor.connection.alias).exclude(last_name="")
    for user in users.only("pk", "first_name", "last_name").iterator():
        full = " ".join(f"{user.last_name} {user.first_name}".split())
        max_length = User._meta.get_field("first_name").max_length
        User.objects.using(schema_editor.connection.alias).filter(pk=user.pk).update(
            first_name=full[:max_length], last_name=""
        )


class Migration(migrations.Migration):
    dependencies = [
        ("procedures", "0005_procedure_name_sort"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [migrations.RunPython(join_names, migrations.RunPython.noop, elidable=False)]
