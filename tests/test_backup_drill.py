"""The documented backup routine, drilled: dump → restore into a fresh database → the same
rows, and an intact audit chain. PostgreSQL only (pg_dump/pg_restore)."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the backup routine is for PostgreSQL"
)


def url(name: str) -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def sh(*args, **env):
    result = subprocess.run(
        args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_backup_restores_into_a_fresh_database_with_the_same_rows(tmp_path):
    source, target = f"drill_source_{os.getpid()}", f"drill_target_{os.getpid()}"
    admin = url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in (source, target):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        manage = [sys.executable, "manage.py"]
        sh(*manage, "migrate", "-v", "0", DATABASE_URL=url(source), DEBUG="1")
        sh(*manage, "load_demo", DATABASE_URL=url(source), DEBUG="1")
        dump = tmp_path / "defensores.dump"
        sh("scripts/backup.sh", str(dump), DATABASE_URL=url(source))
        sh("scripts/restore.sh", str(dump), TARGET_URL=url(target))
        before, after = counts(url(source)), counts(url(target))
        assert after == before
        assert before["cases_incident"] > 500 and before["cases_historicalincident"] > 500
        out = sh(*manage, "verify_audit", DATABASE_URL=url(target), DEBUG="1")
        assert "intact" in out or "intactas" in out
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in (source, target):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
