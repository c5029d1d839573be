"""Writes on who's who and on allies: keyword-only, atomic, attributed in the history."""

import datetime
import secrets
import uuid
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from organizations.audit import is_versioned
from organizations.models import Ally, ApiKey, Defender


class StaleEditError(ValidationError):
    """Someone saved the record after this copy of it was loaded."""


def version_bump(obj: models.Model) -> None:
    """Refuse to save a copy older than the stored record (no lost updates); else raise its
    version. Locks the row until the end of the transaction."""
    stored = type(obj)._base_manager.select_for_update().filter(pk=obj.pk)
    current = stored.values_list("version", flat=True).first()
    if current is None:
        return  # not stored yet
    if current != obj.version:
        raise StaleEditError(
            _(
                "Someone else saved this record (version %(current)d) after you opened it "
                "(version %(yours)d). Your changes were not saved: reload the page and apply "
                "them again."
            )
            % {"current": current, "yours": obj.version},
            code="stale",
        )
    obj.version = current + 1


@transaction.atomic
def record_save(
    obj: models.Model,
    *,
    user: AbstractBaseUser | None,
    reason: str = "",
    update_fields: Iterable[str] | None = None,
) -> None:
    """Validate and save one audited object, naming who did it and why in its history. A
    versioned record (organizations.audit.Versioned) is refused if its copy is older than
    the stored one, and its version raised. With user=None (admin inline forms) the history
    takes the request's user."""
    if is_versioned(obj) and obj.pk is not None and not obj._state.adding:
        version_bump(obj)
        if update_fields is not None:
            update_fields = {*update_fields, "version"}
    obj.full_clean()
    if user is not None:
        obj._history_user = user
    obj._change_reason = reason or None
    obj.save(update_fields=update_fields)


def protection_turned_on(defender: Defender) -> bool:
    """Whether this save turns identity protection on (it was off, or the record is new)."""
    if not defender.identity_protected:
        return False
    if defender.pk is None:
        return True
    stored = Defender.objects.filter(pk=defender.pk).values_list("identity_protected", flat=True)
    return not stored.first()


@transaction.atomic
def defender_save(*, defender: Defender, user: AbstractBaseUser | None, reason: str = "") -> None:
    """Create or update a defender. Turning identity protection on gives a new pseudonym key:
    the pseudonym and the id allies see change, and nothing ties them to the name and id
    shown before."""
    if protection_turned_on(defender):
        defender.pseudonym_key = uuid.uuid4()
    if defender.pk is None and defender.created_by_id is None and user is not None:
        defender.created_by = user
    record_save(defender, user=user, reason=reason)


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
