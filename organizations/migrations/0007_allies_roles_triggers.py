from django.db import migrations

from organizations.audit import install_append_only_trigger, install_history_triggers
from organizations.migration_helpers import create_all_permissions

# Coordinators manage allies and their keys and read the API log; nobody deletes them
# (a key is revoked, an ally deactivated; the log is kept).
COORDINATOR = [
    "add_ally",
    "change_ally",
    "view_ally",
    "add_apikey",
    "change_apikey",
    "view_apikey",
    "view_apirequest",
]


def seed(apps, schema_editor):
    create_all_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get(name="Coordinador").permissions.add(
        *Permission.objects.filter(
            content_type__app_label="organizations", codename__in=COORDINATOR
        )
    )
    install_history_triggers(apps, schema_editor)
    install_append_only_trigger(schema_editor, "organizations_apirequest")


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0006_allies"),
        ("accounts", "0003_coordinators_see_everything"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
