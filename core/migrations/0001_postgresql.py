"""PostgreSQL only (nothing on SQLite): what the database itself enforces and indexes beyond
the models.

- History is append-only: every history table (many-to-many ones included), the published
  months and the API request log refuse UPDATE, DELETE and TRUNCATE. Only a member of the
  role `defensores_history_rewriter` (never the application's own) may update history rows,
  and only while re-encrypting them (rotate_field_keys sets `defensores.history_rewrite`).
- Trigram indexes for the admin's name searches (icontains), so that finding "tarazona"
  among 200,000 defenders does not read them all.

Tables are found by name at migration time: a history table added later gets its triggers
from the migration that adds it (call `append_only` on it, as below)."""

from django.db import migrations

REWRITER_ROLE = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'defensores_history_rewriter') THEN
        CREATE ROLE defensores_history_rewriter NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'role defensores_history_rewriter not created: a database administrator must';
END $$
"""

APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION defensores_history_append_only() RETURNS trigger AS $$
BEGIN
    -- rotate_field_keys re-encrypts values in place (the plaintext, and so the hash, is
    -- unchanged), connected as a member of defensores_history_rewriter: never the
    -- application's own role, which may set the variable but is not a member.
    IF TG_OP = 'UPDATE'
       AND current_setting('defensores.history_rewrite', true) = 'rotate_field_keys'
       AND EXISTS (SELECT FROM pg_roles WHERE rolname = 'defensores_history_rewriter') THEN
        IF pg_has_role(current_user, 'defensores_history_rewriter', 'MEMBER') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'history is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
"""

# Besides the history tables: a published month never changes; the API log is a log.
ALSO_APPEND_ONLY = ("reports_monthlysnapshot", "api_apirequest")

# Django's icontains on PostgreSQL is UPPER(column::text) LIKE UPPER('%…%'): the indexes are
# on that same expression.
TRIGRAM_INDEXES = {
    "organizations_defender_name_trgm": ("organizations_defender", "full_name"),
    "organizations_organization_name_trgm": ("organizations_organization", "name"),
    "organizations_perpetrator_name_trgm": ("organizations_perpetrator", "name"),
    "cases_case_title_trgm": ("cases_case", "title"),
}


def tables(schema_editor) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND (tablename LIKE '%%\\_historical%%' OR tablename = ANY(%s)) ORDER BY tablename",
            [list(ALSO_APPEND_ONLY)],
        )
        return [row[0] for row in cursor.fetchall()]


def append_only(schema_editor, table: str) -> None:
    quoted = schema_editor.quote_name(table)
    schema_editor.execute(
        f"CREATE OR REPLACE TRIGGER {schema_editor.quote_name(table + '_append_only')} "
        f"BEFORE UPDATE OR DELETE ON {quoted} "
        "FOR EACH ROW EXECUTE FUNCTION defensores_history_append_only()"
    )
    schema_editor.execute(
        f"CREATE OR REPLACE TRIGGER {schema_editor.quote_name(table + '_no_truncate')} "
        f"BEFORE TRUNCATE ON {quoted} "
        "FOR EACH STATEMENT EXECUTE FUNCTION defensores_history_append_only()"
    )


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(REWRITER_ROLE)
    schema_editor.execute(APPEND_ONLY_FUNCTION, params=None)  # its "%" are not placeholders
    for table in tables(schema_editor):
        append_only(schema_editor, table)
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    for table in tables(schema_editor):
        for suffix in ("_append_only", "_no_truncate"):
            trigger = schema_editor.quote_name(table + suffix)
            schema_editor.execute(
                f"DROP TRIGGER IF EXISTS {trigger} ON {schema_editor.quote_name(table)}"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("organizations", "0001_initial"),
        ("cases", "0001_initial"),
        ("legal", "0001_initial"),
        ("reports", "0001_initial"),
        ("api", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
