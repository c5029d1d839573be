"""Merging people, organizations and perpetrators recorded twice: everything that named one
names the other, both records and their histories kept. Here, not in organizations, because
merging repoints incidents."""

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cases.models import Incident, Involvement
from cases.services import duplicates_flag
from core.records import record_save
from organizations.models import Defender, Organization, Perpetrator
from organizations.services import protection_turned_on


def _locked_pair(survivor, merged) -> tuple:
    """Both records again, locked, once it is sure they may be merged."""
    model = type(survivor)
    survivor, merged = (model.objects.select_for_update().get(pk=r.pk) for r in (survivor, merged))
    if survivor.pk == merged.pk:
        raise ValidationError(_("Choose two different records to merge."))
    if survivor.merged_into_id is not None or merged.merged_into_id is not None:
        raise ValidationError(_("One of them was already merged into another record."))
    return survivor, merged


def _mark_merged(merged, survivor, *, user, reason) -> None:
    """`merged`, and the records merged into it before, lead straight to the survivor: no
    chains of merges."""
    earlier = type(merged).objects.select_for_update().filter(merged_into=merged).order_by("pk")
    for record in [merged, *earlier]:
        record.merged_into = survivor
        record_save(record, user=user, reason=reason, update_fields=["merged_into", "updated_at"])


def _repoint(objects, field: str, survivor, *, user, reason, timestamped=False) -> list[int]:
    """Point each object's `field` at `survivor`, one audited save each."""
    changed = []
    for obj in objects:
        setattr(obj, field, survivor)
        update_fields = [field, "updated_at"] if timestamped else [field]
        record_save(obj, user=user, reason=reason, update_fields=update_fields)
        changed.append(obj.pk)
    return changed


@transaction.atomic
def defender_merge(
    *, survivor: Defender, merged: Defender, user: AbstractBaseUser, reason: str = ""
) -> Defender:
    """The same person recorded twice: every incident, membership and court case that names
    `merged` names `survivor` instead; `merged` is kept, marked as merged, with its history."""
    survivor, merged = _locked_pair(survivor, merged)
    # Protection asked for under either record protects the person, under both records: the
    # merged one, kept for the history, would otherwise tie a real name to a pseudonym.
    protected = survivor.identity_protected or merged.identity_protected
    if protected:
        # A history reason naming both ids would tie the protected record to the named one.
        reason = reason or _("Merged with another record of the same person (identity protected)")
    reason = reason or _("Defender %(merged)s merged into %(survivor)s") % {
        "merged": merged.public_id,
        "survivor": survivor.public_id,
    }
    incidents = Incident.objects.select_for_update().filter(defender=merged)
    moved = _repoint(incidents, "defender", survivor, user=user, reason=reason, timestamped=True)
    _repoint(merged.memberships.all(), "defender", survivor, user=user, reason=reason)
    for proceeding in merged.proceedings.all():
        proceeding._history_user, proceeding._change_reason = user, reason
        proceeding.defendants.remove(merged)
        proceeding.defendants.add(survivor)
    survivor.identity_protected = protected
    survivor.known_as = survivor.known_as or merged.known_as
    update_fields = ["identity_protected", "known_as", "updated_at"]
    if protection_turned_on(survivor):
        survivor.pseudonym_key = uuid.uuid4()  # as defender_save does
        update_fields.append("pseudonym_key")
    record_save(survivor, user=user, reason=reason, update_fields=update_fields)
    # Records merged into `merged` before lead straight to the survivor: no chains of merges.
    earlier = Defender.objects.select_for_update().filter(merged_into=merged).order_by("pk")
    for record in [merged, *earlier]:
        record.merged_into = survivor
        update_fields = ["merged_into", "identity_protected", "updated_at"]
        record.identity_protected = record.identity_protected or protected
        if protection_turned_on(record):
            record.pseudonym_key = uuid.uuid4()
            update_fields.append("pseudonym_key")
        record_save(record, user=user, reason=reason, update_fields=update_fields)
    duplicates_flag(incident_ids=moved, user=user, reason=reason)
    return survivor


@transaction.atomic
def organization_merge(
    *, survivor: Organization, merged: Organization, user: AbstractBaseUser, reason: str = ""
) -> Organization:
    """The same organization recorded twice (see defender_merge)."""
    survivor, merged = _locked_pair(survivor, merged)
    reason = reason or _("Organization %(merged)s merged into %(survivor)s") % {
        "merged": merged.public_id,
        "survivor": survivor.public_id,
    }
    incidents = Incident.objects.select_for_update().filter(organization=merged)
    moved = _repoint(
        incidents, "organization", survivor, user=user, reason=reason, timestamped=True
    )
    _repoint(merged.memberships.all(), "organization", survivor, user=user, reason=reason)
    survivor.acronym = survivor.acronym or merged.acronym
    record_save(survivor, user=user, reason=reason, update_fields=["acronym", "updated_at"])
    _mark_merged(merged, survivor, user=user, reason=reason)
    duplicates_flag(incident_ids=moved, user=user, reason=reason)
    return survivor


@transaction.atomic
def perpetrator_merge(
    *, survivor: Perpetrator, merged: Perpetrator, user: AbstractBaseUser, reason: str = ""
) -> Perpetrator:
    """The same perpetrator recorded twice ("SEBIN" and "Servicio Bolivariano de Inteligencia
    Nacional"): every incident, detention and body part of `merged` names `survivor` instead
    (an incident naming both keeps the survivor's role); `merged` is kept, marked as merged,
    with its history."""
    survivor, merged = _locked_pair(survivor, merged)
    reason = reason or _("Perpetrator %(merged)s merged into %(survivor)s") % {
        "merged": merged.public_id,
        "survivor": survivor.public_id,
    }
    both = set(
        Involvement.objects.filter(perpetrator=survivor, incident__perpetrators=merged).values_list(
            "incident_id", flat=True
        )
    )
    moved = []
    for involvement in Involvement.objects.select_for_update().filter(perpetrator=merged):
        if involvement.incident_id in both:
            involvement._history_user, involvement._change_reason = user, reason
            involvement.delete()  # the history keeps the removed row
        else:
            moved += _repoint([involvement], "perpetrator", survivor, user=user, reason=reason)
    # Whatever else names it (a detention's arresting body, the bodies part of it), found by
    # its relations: merging lives below the apps that point at perpetrators.
    for relation in Perpetrator._meta.related_objects:
        model, field = relation.related_model, relation.field.name
        if relation.many_to_many or model is Involvement or field == "merged_into":
            continue
        objects = model.objects.select_for_update().filter(**{field: merged})
        if model is Perpetrator:
            objects = objects.exclude(pk=survivor.pk)
        timestamped = any(f.name == "updated_at" for f in model._meta.fields)
        _repoint(objects, field, survivor, user=user, reason=reason, timestamped=timestamped)
    survivor.acronym = survivor.acronym or merged.acronym
    survivor.parent = _parent_after_merge(survivor, merged)
    record_save(
        survivor, user=user, reason=reason, update_fields=["acronym", "parent", "updated_at"]
    )
    _mark_merged(merged, survivor, user=user, reason=reason)
    return survivor


def _parent_after_merge(survivor: Perpetrator, merged: Perpetrator) -> Perpetrator | None:
    """The survivor's parent once `merged`'s parts are the survivor's: its own, else the
    merged record's; never the merged record, nor one that would make it part of itself."""
    parent = survivor.parent or merged.parent
    if parent is not None and parent.pk == merged.pk:
        parent = merged.parent
    ancestor, seen = parent, set()
    while ancestor is not None and ancestor.pk not in seen:
        if ancestor.pk in (survivor.pk, merged.pk):
            return None
        seen.add(ancestor.pk)
        ancestor = ancestor.parent
    return parent
