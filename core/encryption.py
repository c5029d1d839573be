"""Encrypted fields for the most sensitive data (contact details, witness identity).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under FIELD_ENCRYPTION_KEYS —
not SECRET_KEY. The first key encrypts; every key decrypts, so keys rotate without downtime
(`python manage.py rotate_field_keys`). A value no key can decrypt raises: the field never
returns ciphertext or None in place of the data. History tables use the same field, so they
hold ciphertext too.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.translation import gettext_lazy as _


class FieldDecryptionError(ImproperlyConfigured):
    """Stored ciphertext that none of FIELD_ENCRYPTION_KEYS opens (wrong or missing key)."""


def fernet() -> MultiFernet:
    # Built per call (microseconds): settings may change at runtime in tests and rotations.
    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError):
        raise FieldDecryptionError(
            "An encrypted field could not be decrypted with FIELD_ENCRYPTION_KEYS: the key that "
            "encrypted it is missing or wrong. Nothing was shown in its place."
        ) from None


class EncryptedTextField(models.TextField):
    """Text stored encrypted. It cannot be searched, filtered or ordered by content."""

    description = _("Encrypted text")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encrypt(str(value))

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return decrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name not in ("isnull",):
            return None  # ciphertext cannot be compared: refuse rather than match nothing
        return super().get_lookup(lookup_name)
