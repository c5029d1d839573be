"""The five staff roles with their exact permissions (frozen here; change a role with a new
migration). Replaces the first version of cases/0002_roles."""

from django.db import migrations

from organizations.migration_helpers import create_all_permissions

PEOPLE = ["organization", "defender", "membership", "perpetrator"]
CASES = ["case", "incident", "involvement", "source"]


def crud(app, models, actions):
    return [f"{app}.{action}_{model}" for model in models for action in actions]


READ = crud("organizations", PEOPLE, ["view"]) + crud("cases", CASES, ["view"])
DOCUMENTALIST = (
    crud("organizations", PEOPLE, ["add", "change", "view"])
    + crud("cases", CASES, ["add", "change", "view"])
    + ["cases.submit_case"]
)
REVIEWER = DOCUMENTALIST + [
    "cases.verify_case",
    "cases.publish_case",
    "cases.retract_case",
    "cases.mark_duplicate_incident",
]
COORDINATOR = REVIEWER + [
    *crud("auth", ["user", "group"], ["add", "change", "view"]),
    "accounts.view_securityevent",
    # Unlocking a locked account is deleting its failed attempts.
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
    "axes.view_accesslog",
    "axes.view_accessfailurelog",
    # Resetting a lost authenticator from the admin.
    "otp_totp.view_totpdevice",
    "otp_totp.delete_totpdevice",
    "otp_static.view_staticdevice",
    "otp_static.delete_staticdevice",
]
ROLES = {
    "Documentalista": DOCUMENTALIST,
    "Revisor": REVIEWER,
    "Abogado": READ,
    "Analista": READ,
    "Coordinador": COORDINATOR,
}


def set_roles(apps, schema_editor):
    create_all_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [
                Permission.objects.get(content_type__app_label=app, codename=codename)
                for app, codename in (perm.split(".") for perm in perms)
            ]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("cases", "0003_incident_mark_duplicate_permission"),
        ("axes", "0010_accessattemptexpiration"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(set_roles, migrations.RunPython.noop)]
