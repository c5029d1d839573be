from django.db import migrations

from organizations.migration_helpers import create_all_permissions

from organizations.audit import install_append_only_trigger, install_history_triggers

READERS = ["Documentalista", "Revisor", "Abogado", "Analista", "Coordinador"]
PUBLISHERS = ["Revisor", "Coordinador"]


def grant(apps, schema_editor):
    create_all_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def perm(codename):
        return Permission.objects.get(content_type__app_label="reports", codename=codename)

    for name in READERS:
        Group.objects.get(name=name).permissions.add(perm("view_reports"), perm("view_monthlysnapshot"))
    for name in PUBLISHERS:
        Group.objects.get(name=name).permissions.add(perm("publish_month"))


def immutable(apps, schema_editor):
    # A published month never changes (PostgreSQL refuses UPDATE/DELETE); its history is
    # append-only like every other.
    install_history_triggers(apps, schema_editor)
    install_append_only_trigger(schema_editor, "reports_monthlysnapshot")


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("accounts", "0003_coordinators_see_everything"),
        ("cases", "0009_case_team_history_trigger"),
    ]

    operations = [
        migrations.RunPython(grant, migrations.RunPython.noop),
        migrations.RunPython(immutable, migrations.RunPython.noop),
    ]
