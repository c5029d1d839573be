"""The staff roles and exactly what each may do: the one role matrix.

Each account belongs to one group. The groups are set to exactly these permissions after
every `migrate` (apply_roles, connected in AccountsConfig), the way Django creates the
permissions themselves: change a role here, run `migrate`, and every group matches."""

from django.apps import apps as installed_apps
from django.contrib.auth.management import create_permissions

CASE_RECORDS = ["case", "incident", "involvement", "source"]
PEOPLE = ["defender", "membership", "organization", "perpetrator"]
LEGAL_RECORDS = ["detention", "transfer", "proceeding", "hearing", "legalaction"]


def _each(app: str, models: list[str], actions: list[str]) -> list[str]:
    return [f"{app}.{action}_{model}" for model in models for action in actions]


# Reading what was recorded: every role.
READ = [
    *_each("cases", CASE_RECORDS, ["view"]),
    *_each("organizations", PEOPLE, ["view"]),
    *_each("legal", LEGAL_RECORDS, ["view"]),
    "reports.view_reports",
    "reports.view_monthlysnapshot",
]
# Recording cases, people and organizations; importing and exporting spreadsheets.
RECORD = [
    *_each("cases", CASE_RECORDS, ["add", "change"]),
    *_each("organizations", PEOPLE, ["add", "change"]),
    "cases.submit_case",
    "cases.import_incidents",
    "cases.view_importbatch",
]
# Deciding what counts: verifying, publishing, retracting, duplicates, published months.
REVIEW = [
    "cases.verify_case",
    "cases.publish_case",
    "cases.retract_case",
    "cases.mark_duplicate_incident",
    "cases.view_duplicatepair",
    "cases.retract_importbatch",
    "reports.publish_month",
]
# Following detentions and court cases.
FOLLOW = [
    *_each("legal", LEGAL_RECORDS, ["add", "change"]),
    "cases.submit_case",  # an arrest a lawyer opens goes to review (legal.services.arrest_open)
    "legal.follow_detentions",
    "legal.view_case_file_number",
]
# Running the office: accounts, teams, the security log, lockouts, authenticators, allies.
COORDINATE = [
    "cases.view_all_cases",
    "cases.change_case_team",
    *_each("auth", ["user", "group"], ["add", "change", "view"]),
    "accounts.view_securityevent",
    "axes.view_accessattempt",
    "axes.delete_accessattempt",  # unlocking is deleting the failed attempts
    "axes.view_accesslog",
    "axes.view_accessfailurelog",
    "otp_totp.view_totpdevice",
    "otp_totp.delete_totpdevice",  # resetting a lost authenticator
    "otp_static.view_staticdevice",
    "otp_static.delete_staticdevice",
    *_each("api", ["ally", "apikey", "webhook"], ["add", "change", "view"]),
    "api.view_apirequest",
    "api.view_webhookdelivery",
    "api.change_webhookdelivery",  # sending a given-up delivery again
]

ROLES = {
    "Documentalista": READ + RECORD,
    "Revisor": READ + RECORD + REVIEW,
    "Abogado": READ + FOLLOW,
    "Analista": READ,
    "Coordinador": READ + RECORD + REVIEW + FOLLOW + COORDINATE,
}


def role_of(user) -> str | None:
    """The account's role: the name of its group among ROLES (a superuser counts as a
    coordinator); None for an account without one."""
    if getattr(user, "is_superuser", False):
        return "Coordinador"
    names = [group.name for group in user.groups.all() if group.name in ROLES]
    return names[0] if names else None


def apply_roles(sender=None, using="default", **kwargs) -> None:
    """post_migrate: each group holds exactly its role's permissions (created if missing)."""
    from django.contrib.auth.models import Group, Permission

    # Django creates each app's permissions after that app's post_migrate: all of them now.
    for app_config in installed_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    by_name = {
        f"{app}.{codename}": pk
        for pk, app, codename in Permission.objects.using(using).values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    missing = sorted({name for names in ROLES.values() for name in names} - by_name.keys())
    if missing:
        raise LookupError(f"accounts.roles names permissions that do not exist: {missing}")
    for name, permissions in ROLES.items():
        group, _created = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set([by_name[permission] for permission in permissions])
