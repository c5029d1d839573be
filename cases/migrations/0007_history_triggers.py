from django.db import migrations

from organizations.audit import install_history_triggers


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0004_history_chain"),
        ("cases", "0006_history_chain"),
    ]

    operations = [migrations.RunPython(install_history_triggers, migrations.RunPython.noop)]
