import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import settings as config

ROOT = Path(__file__).resolve().parent.parent
# Exactly the variables a production deployment must set (docs/configuration.md).
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k3Xq9-a-long-random-production-key-for-tests-only-7hV2pLw8ZrT5",
    "ALLOWED_HOSTS": "defensores.example.org",
    "DATABASE_URL": "postgres://defensores@127.0.0.1:5432/defensores",
    "FIELD_ENCRYPTION_KEYS": "t7Fq2yqvJ3o0Q6c1m8KxF4y9bXo2rS5uVw0aB3dE6gI=",
    "AUDIT_CHAIN_KEYS": "q8Zr2-a-long-random-audit-chain-key-for-tests-only-Lw8ZrT5hV",
}


def run(args, **env):
    """Run a Python command in a clean environment holding only `env`."""
    clean = {key: value for key, value in os.environ.items() if key not in PRODUCTION}
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


class TestHelpers:
    def test_a_bad_boolean_names_the_variable(self, monkeypatch):
        monkeypatch.setenv("DEBUG", "maybe")
        with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe'"):
            config.env_bool("DEBUG", False)

    @pytest.mark.parametrize(("raw", "value"), [("1", True), ("off", False), ("", True)])
    def test_booleans(self, monkeypatch, raw, value):
        monkeypatch.setenv("SOME_FLAG", raw)
        assert config.env_bool("SOME_FLAG", True) is value

    def test_a_bad_number_names_the_variable(self, monkeypatch):
        monkeypatch.setenv("SECURE_HSTS_SECONDS", "a year")
        with pytest.raises(ImproperlyConfigured, match="SECURE_HSTS_SECONDS"):
            config.env_int("SECURE_HSTS_SECONDS", 0)

    def test_lists_are_comma_separated(self, monkeypatch):
        monkeypatch.setenv("ALLOWED_HOSTS", "a.org, b.org,")
        assert config.env_list("ALLOWED_HOSTS", []) == ["a.org", "b.org"]

    @pytest.mark.parametrize(
        "url", ["mysql://u@h/db", "not a url", "postgres://u@h:5432/", "sqlite://"]
    )
    def test_an_unusable_database_url_names_the_variable(self, monkeypatch, url):
        monkeypatch.setenv("DATABASE_URL", url)
        with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
            config.env_database("DATABASE_URL", "sqlite:///x")

    def test_a_bad_choice_names_the_variable_and_the_choices(self, monkeypatch):
        monkeypatch.setenv("LOG_LEVEL", "verbose")
        with pytest.raises(ImproperlyConfigured, match="LOG_LEVEL='verbose' must be one of"):
            config.env_choice("LOG_LEVEL", "INFO", ("INFO", "DEBUG"))

    def test_postgres_urls_are_parsed(self, monkeypatch):
        monkeypatch.setenv("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/defensores")
        database = config.env_database("DATABASE_URL", "sqlite:///x")
        assert database["ENGINE"] == "django.db.backends.postgresql"
        assert database["NAME"] == "defensores"


def test_a_bad_value_stops_the_start_with_a_message_naming_it():
    result = run(["manage.py", "check"], DATABASE_URL="mysql://root@localhost/defensores")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_the_server_refuses_to_start_without_a_secret_key_in_production():
    env = {**PRODUCTION}
    del env["SECRET_KEY"]
    result = run(["-c", "import config.wsgi"], **env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_the_server_refuses_to_start_without_field_encryption_keys_in_production():
    env = {**PRODUCTION}
    del env["FIELD_ENCRYPTION_KEYS"]
    result = run(["-c", "import config.wsgi"], **env)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS is not set" in result.stderr


def test_a_malformed_encryption_key_names_the_variable():
    result = run(["manage.py", "check"], FIELD_ENCRYPTION_KEYS="not-a-key")
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS: key 1 is not a Fernet key" in result.stderr


def test_the_server_starts_with_production_settings():
    result = run(["-W", "ignore::UserWarning", "-c", "import config.wsgi"], **PRODUCTION)
    assert result.returncode == 0, result.stderr


def test_the_deploy_check_is_clean_with_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


pytestmark = pytest.mark.django_db


class TestDevelopmentKeys:
    def test_commands_refuse_the_development_encryption_key_when_debug_is_off(self):
        env = {**PRODUCTION}
        del env["FIELD_ENCRYPTION_KEYS"]
        result = run(["manage.py", "verify_audit"], **env)
        assert result.returncode != 0
        assert "FIELD_ENCRYPTION_KEYS" in result.stderr

    @pytest.mark.parametrize(
        "start", [["-m", "django"], [str(Path(sys.executable).parent / "django-admin")]]
    )
    def test_so_do_commands_started_without_manage_py(self, start):
        env = {**PRODUCTION, "PYTHONPATH": "."}
        del env["AUDIT_CHAIN_KEYS"]
        result = run([*start, "verify_audit"], **env)
        assert result.returncode != 0
        assert "AUDIT_CHAIN_KEYS" in result.stderr

    def test_the_deploy_check_reports_them(self):
        env = {**PRODUCTION}
        del env["FIELD_ENCRYPTION_KEYS"]
        result = run(["manage.py", "check", "--deploy"], **env)
        assert "FIELD_ENCRYPTION_KEYS" in result.stdout + result.stderr
