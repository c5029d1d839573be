"""PostgreSQL: trigram indexes for the admin's name searches (icontains), so that finding
"tarazona" among 200,000 defenders does not read them all. Nothing on SQLite."""

from django.db import migrations

# Django's icontains on PostgreSQL is UPPER(column::text) LIKE UPPER('%…%'): the indexes are
# on that same expression.
INDEXES = {
    "organizations_defender_name_trgm": ("organizations_defender", "full_name"),
    "organizations_organization_name_trgm": ("organizations_organization", "name"),
    "organizations_perpetrator_name_trgm": ("organizations_perpetrator", "name"),
    "cases_case_title_trgm": ("cases_case", "title"),
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0016_incident_date_index"),
        ("organizations", "0008_review_and_merge"),
    ]

    operations = [migrations.RunPython(create, drop)]
