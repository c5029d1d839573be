"""Writes on who's who: keyword-only, atomic, attributed in the history."""

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.records import record_save
from organizations.models import Defender


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
    the pseudonym and the defender id allies see change, so neither ties to the name and id
    shown before. Incidents keep their ids: an ally who already received one with the name
    can still match it to the pseudonym (by its id, or by its date, place and type), so
    protection hides a name from then on, not what was already shared."""
    if protection_turned_on(defender):
        defender.pseudonym_key = uuid.uuid4()
    if defender.pk is None and defender.created_by_id is None and user is not None:
        defender.created_by = user
    record_save(defender, user=user, reason=reason)
