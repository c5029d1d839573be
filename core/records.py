"""Saving a record: validated, versioned (a stale copy is refused), attributed in its
history. Every service writes through record_save."""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _

from core.audit import is_versioned


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


# Fields whose change says nothing a reader needs in a reason.
BOOKKEEPING = {"version", "updated_at", "updated_by", "created_at", "created_by"}


def what_changed(obj: models.Model) -> str:
    """A reason for a save whose caller gave none: "Created", or the labels of the fields
    that differ from the stored record (never an empty or "None" reason in the history)."""
    if obj.pk is None or obj._state.adding:
        return _("Created")
    stored = type(obj)._base_manager.filter(pk=obj.pk).first()
    if stored is None:
        return _("Created")
    labels = [
        str(field.verbose_name)
        for field in obj._meta.concrete_fields
        if field.name not in BOOKKEEPING
        and not field.primary_key
        and field.value_from_object(obj) != field.value_from_object(stored)
    ]
    if not labels:
        return _("Saved, nothing changed")
    return _("Changed: %(fields)s") % {"fields": ", ".join(labels)}


@transaction.atomic
def record_save(
    obj: models.Model,
    *,
    user: AbstractBaseUser | None,
    reason: str = "",
    update_fields: Iterable[str] | None = None,
) -> None:
    """Validate and save one audited object, naming who did it and why in its history. A
    versioned record (core.audit.Versioned) is refused if its copy is older than
    the stored one, and its version raised. With user=None (admin inline forms) the history
    takes the request's user."""
    if not reason:
        reason = what_changed(obj)
    if is_versioned(obj) and obj.pk is not None and not obj._state.adding:
        version_bump(obj)
        if update_fields is not None:
            update_fields = {*update_fields, "version"}
    obj.full_clean()
    if user is not None:
        obj._history_user = user
    obj._change_reason = reason
    obj.save(update_fields=update_fields)
