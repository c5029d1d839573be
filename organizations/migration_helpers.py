"""Shared by data migrations. Imported by migrations: keep what these functions do stable."""

from django.contrib.auth.management import create_permissions


def create_all_permissions(apps) -> None:
    """Create every model's permissions now. Django creates them only after all migrations
    have run, but the migrations that set up roles need them."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


REWRITER_ROLE = "defensores_history_rewriter"
CREATE_REWRITER_ROLE = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'defensores_history_rewriter') THEN
        CREATE ROLE defensores_history_rewriter NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'role defensores_history_rewriter not created: a database administrator must';
END $$
"""


def create_rewriter_role(schema_editor) -> None:
    """PostgreSQL: the role whose members alone may re-encrypt history rows in place
    (rotate_field_keys). The application's own role must not be one of them. Created if the
    migrating role may create roles; otherwise a database administrator creates it."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CREATE_REWRITER_ROLE)


def rechain_history(apps, schema_editor) -> None:
    """Hash every history row again, in order, with the keyed chain (organizations.audit):
    for a database whose rows were chained before, or whose history tables gained a column.
    Triggers that keep history append-only are paused for it, table by table."""
    from organizations.audit import ChainedHistory, chain_keys

    key = chain_keys()[0]
    postgres = schema_editor.connection.vendor == "postgresql"
    for model in apps.get_models():
        if not issubclass(model, ChainedHistory):
            continue
        table = schema_editor.quote_name(model._meta.db_table)
        if postgres:
            schema_editor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        previous = ""
        rows = model._base_manager.order_by("pk")
        for row in rows.iterator(chunk_size=2000):
            digest = row.chain_hash(previous, key)
            if (row.history_previous_hash, row.history_hash) != (previous, digest):
                model._base_manager.filter(pk=row.pk).update(
                    history_previous_hash=previous, history_hash=digest
                )
            previous = digest
        if postgres:
            schema_editor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
