"""Checks run before serving a request or running a command: real traffic and real data are
never handled with the development secrets (and `check --deploy` reports them)."""

import os

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

# Commands that read no data and write none: they run whatever the keys.
HARMLESS_COMMANDS = frozenset(
    {
        "check",
        "collectstatic",
        "compilemessages",
        "diffsettings",
        "findstatic",
        "help",
        "makemessages",
        "makemigrations",
        "showmigrations",
        "sqlmigrate",
        "version",
    }
)

MAKE_A_KEY = {
    "SECRET_KEY": "python -c 'import secrets; print(secrets.token_urlsafe(50))'",
    "FIELD_ENCRYPTION_KEYS": (
        "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
    ),
    "AUDIT_CHAIN_KEYS": "python -c 'import secrets; print(secrets.token_urlsafe(48))'",
}


def development_secrets() -> list[str]:
    """The settings that still hold their public development value."""
    found = []
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        found.append("SECRET_KEY")
    if settings.DEV_FIELD_ENCRYPTION_KEY in settings.FIELD_ENCRYPTION_KEYS:
        found.append("FIELD_ENCRYPTION_KEYS")
    if settings.DEV_AUDIT_CHAIN_KEY in settings.AUDIT_CHAIN_KEYS:
        found.append("AUDIT_CHAIN_KEYS")
    return found


def _explain(name: str) -> str:
    return (
        f"{name} is not set (or still holds the development key). Set it to a key of your own "
        f"({MAKE_A_KEY[name]}), or set DEBUG=1 on a development machine."
    )


def assert_safe_to_serve() -> None:
    """Refuse to serve real traffic with the development secrets (WSGI/ASGI entry points)."""
    if settings.DEBUG:
        return
    for name in development_secrets():
        raise ImproperlyConfigured(_explain(name))


def assert_safe_to_run(command: str) -> None:
    """Refuse to run a command that reads or writes data with the development secrets: an
    import would encrypt and chain real records with public keys (manage.py)."""
    if command not in HARMLESS_COMMANDS:
        assert_safe_to_serve()


# How a management command is started: manage.py, django-admin, python -m django.
COMMAND_LINES = frozenset({"manage.py", "django-admin", "django-admin.py", "__main__.py"})


def assert_safe_command_line(argv: list[str]) -> None:
    """assert_safe_to_run for a process started as a management command, however it was
    started (called when the apps are ready; manage.py checks earlier, to exit cleanly)."""
    if len(argv) > 1 and os.path.basename(argv[0]) in COMMAND_LINES:
        assert_safe_to_run(argv[1])


@checks.register(checks.Tags.security, deploy=True)
def check_development_secrets(app_configs, **kwargs):
    """`check --deploy`: the encryption and audit keys (Django reports SECRET_KEY itself)."""
    return [
        checks.Warning(_explain(name), id=f"defensores.W00{n}")
        for n, name in enumerate(development_secrets(), start=1)
        if name != "SECRET_KEY"
    ]
