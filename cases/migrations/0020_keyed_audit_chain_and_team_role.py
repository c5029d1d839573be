"""The keyed audit chain (every history table hashed again, many-to-many ones included),
the append-only triggers that only a separate role may bypass, and the permission to change
a case's team, for coordinators."""

from django.db import migrations

from organizations.audit import install_history_triggers
from organizations.migration_helpers import (
    create_all_permissions,
    create_rewriter_role,
    rechain_history,
)


def forwards(apps, schema_editor):
    create_rewriter_role(schema_editor)
    install_history_triggers(apps, schema_editor)
    rechain_history(apps, schema_editor)
    create_all_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    team = Permission.objects.get(content_type__app_label="cases", codename="change_case_team")
    Group.objects.get(name="Coordinador").permissions.add(team)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0019_versions_teams_m2m_chain"),
        ("organizations", "0010_versions_pseudonym_keys"),
        ("accounts", "0004_security_event_kinds"),
        ("reports", "0002_roles_and_immutability"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
