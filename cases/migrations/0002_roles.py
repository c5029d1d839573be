"""Staff roles as groups (frozen here; a later change of a role is a new migration)."""

from django.db import migrations

from organizations.migration_helpers import create_all_permissions

PEOPLE = ["organization", "defender", "membership", "perpetrator"]
CASES = ["case", "incident", "involvement", "source"]


def _crud(app, models, actions):
    return [f"{app}.{action}_{model}" for model in models for action in actions]


DOCUMENTALIST = (
    _crud("organizations", PEOPLE, ["add", "change", "view"])
    + _crud("cases", CASES, ["add", "change", "view"])
    + ["cases.submit_case"]
)
READER = _crud("organizations", PEOPLE, ["view"]) + _crud("cases", CASES, ["view"])
ROLES = {
    "Documentalista": DOCUMENTALIST,
    "Revisor": DOCUMENTALIST + ["cases.verify_case", "cases.publish_case", "cases.retract_case"],
    "Abogado": READER,
    "Analista": READER,
    "Coordinador": (
        _crud("organizations", PEOPLE, ["add", "change", "view", "delete"])
        + _crud("cases", CASES, ["add", "change", "view", "delete"])
        + ["cases.submit_case", "cases.verify_case", "cases.publish_case", "cases.retract_case"]
        + _crud("auth", ["user", "group"], ["add", "change", "view"])
    ),
}


def create_roles(apps, schema_editor):
    create_all_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("organizations", "0002_profiles"),
        ("cases", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
