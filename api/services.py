"""Writes on allies and their keys: keyword-only, atomic, attributed in the history."""

import datetime
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from api.models import Ally, ApiKey
from core.records import record_save


@transaction.atomic
def api_key_create(
    *,
    ally: Ally,
    user: AbstractBaseUser | None,
    name: str = "",
    days: int = 365,
) -> tuple[ApiKey, str]:
    """A new key for `ally`, valid for `days`. Returns the key and its secret, which is
    never stored and cannot be shown again."""
    if days < 1:
        raise ValueError("days must be at least 1")
    lookup = secrets.token_hex(6)
    secret = f"{ApiKey.PREFIX}_{lookup}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        ally=ally,
        name=name,
        lookup=lookup,
        hashed=ApiKey.hash(secret),
        expires_at=timezone.now() + datetime.timedelta(days=days),
        created_by=user,
    )
    record_save(key, user=user, reason="API key created")
    return key, secret


@transaction.atomic
def api_key_revoke(*, key: ApiKey, user: AbstractBaseUser | None, reason: str = "") -> ApiKey:
    """Refuse `key` from now on. Revocation is final: create a new key instead."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        record_save(
            key, user=user, reason=reason or "API key revoked", update_fields=["revoked_at"]
        )
    return key


def api_key_find(secret: str) -> ApiKey | None:
    """The usable key with this secret, or None (unknown, revoked, expired, ally inactive)."""
    parts = secret.split("_")
    if len(parts) < 3 or parts[0] != ApiKey.PREFIX:
        return None
    key = ApiKey.objects.usable().select_related("ally").filter(lookup=parts[1]).first()
    if key is None or not secrets.compare_digest(key.hashed, ApiKey.hash(secret)):
        return None
    return key
