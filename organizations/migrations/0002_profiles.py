from django.db import migrations

PROFILE_CODES = [
    "lawyer",
    "journalist",
    "activist",
    "community_leader",
    "trade_unionist",
    "health_worker",
    "academic",
    "ngo_staff",
    "environmental_defender",
    "indigenous_leader",
    "lgbti_activist",
    "other",
]


def add_profiles(apps, schema_editor):
    Profile = apps.get_model("organizations", "Profile")
    for code in PROFILE_CODES:
        Profile.objects.get_or_create(code=code)


class Migration(migrations.Migration):
    dependencies = [("organizations", "0001_initial")]

    operations = [migrations.RunPython(add_profiles, migrations.RunPython.noop)]
