"""Who imports spreadsheets, retracts imports and decides duplicates; the new history tables
are append-only on PostgreSQL."""

from django.db import migrations

from organizations.audit import install_history_triggers
from organizations.migration_helpers import create_all_permissions

IMPORT = ["import_incidents", "view_importbatch"]
DECIDE = ["view_duplicatepair", "retract_importbatch"]
ROLES = {
    # Documentation staff import; reviewers also decide duplicates and retract imports
    # (they hold mark_duplicate_incident and retract_case already).
    "Documentalista": IMPORT,
    "Revisor": IMPORT + DECIDE,
    "Coordinador": IMPORT + DECIDE,
}


def grant(apps, schema_editor):
    create_all_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        Group.objects.get(name=name).permissions.add(
            *Permission.objects.filter(content_type__app_label="cases", codename__in=codenames)
        )
    install_history_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0014_imports_and_duplicates"),
        ("organizations", "0008_review_and_merge"),
        ("accounts", "0003_coordinators_see_everything"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
