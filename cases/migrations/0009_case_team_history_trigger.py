from django.db import migrations

from organizations.audit import install_history_triggers


class Migration(migrations.Migration):
    """The case team's history table (added in 0008) is append-only like the others."""

    dependencies = [("cases", "0008_confidentiality")]

    operations = [migrations.RunPython(install_history_triggers, migrations.RunPython.noop)]
