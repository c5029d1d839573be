from django.db import migrations

from organizations.migration_helpers import create_all_permissions

from organizations.audit import install_history_triggers

CHARGES = [
    "treason",
    "terrorism",
    "incitement_to_hatred",
    "criminal_association",
    "terrorism_financing",
    "conspiracy",
    "other",
]
LEGAL = ["detention", "transfer", "proceeding", "hearing", "legalaction"]


def crud(actions):
    return [f"{action}_{model}" for model in LEGAL for action in actions]


ROLES = {
    # The legal team follows detentions and court cases, file numbers included.
    "Abogado": crud(["add", "change", "view"]) + ["follow_detentions", "view_case_file_number"],
    "Coordinador": crud(["add", "change", "view"]) + ["follow_detentions", "view_case_file_number"],
    # Others read them in the admin, without file numbers.
    "Documentalista": crud(["view"]),
    "Revisor": crud(["view"]),
    "Analista": crud(["view"]),
}


def seed(apps, schema_editor):
    Charge = apps.get_model("cases", "Charge")
    for code in CHARGES:
        Charge.objects.get_or_create(code=code)
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
        ("cases", "0010_legal_tracker"),
        ("accounts", "0003_coordinators_see_everything"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
