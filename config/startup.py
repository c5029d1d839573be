"""Checks run by the WSGI/ASGI entry points before they serve a single request."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def assert_safe_to_serve() -> None:
    """Refuse to serve real traffic with the development secrets."""
    if settings.DEBUG:
        return
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))') "
            "or set DEBUG=1 on a development machine."
        )
    if settings.DEV_FIELD_ENCRYPTION_KEY in settings.FIELD_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set (or still holds the development key). Set it to "
            "a Fernet key: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        )
