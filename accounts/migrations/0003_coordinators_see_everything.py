from django.db import migrations

from organizations.migration_helpers import create_all_permissions


def grant(apps, schema_editor):
    create_all_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="cases", codename="view_all_cases")
    Group.objects.get(name="Coordinador").permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles"),
        ("cases", "0008_confidentiality"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
