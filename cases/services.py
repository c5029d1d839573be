"""Writes on cases: keyword-only, atomic, validated, and always attributed in the history."""

import hashlib
from collections.abc import Iterable
from datetime import date

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils.translation import gettext as _

from cases.models import Case, Incident, Involvement, Source
from organizations.models import Defender, Organization, Perpetrator
from organizations.services import record_save


class StaleEditError(ValidationError):
    """Someone saved the record after this copy of it was loaded."""


def version_bump(obj: Case | Incident) -> None:
    """Refuse to save a copy older than the stored record (no lost updates); else raise its
    version. Locks the row until the end of the transaction."""
    if obj.pk is None:
        return
    stored = type(obj).objects.select_for_update().values_list("version", flat=True)
    current = stored.get(pk=obj.pk)
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


def file_sha256(file: File) -> str:
    """SHA-256 of an uploaded file, read in chunks (constant memory for large scans)."""
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


@transaction.atomic
def case_save(*, case: Case, user: AbstractBaseUser, reason: str = "") -> Case:
    """Create or update a case's own fields (not its status: see case_transition)."""
    update_fields = None
    if case.pk is None:
        case.created_by = user
    else:
        # Never write `status` from a form: a colleague may have moved the case meanwhile.
        update_fields = [*Case.EDITABLE_FIELDS, "updated_by", "updated_at", "version"]
    version_bump(case)
    case.updated_by = user
    record_save(case, user=user, reason=reason, update_fields=update_fields)
    return case


@transaction.atomic
def case_create(
    *,
    user: AbstractBaseUser,
    title: str,
    summary: str = "",
    confidentiality: str = Case.Confidentiality.INTERNAL,
    state: str = "",
    place: str = "",
    reason: str = "",
) -> Case:
    case = Case(
        title=title, summary=summary, confidentiality=confidentiality, state=state, place=place
    )
    case_save(case=case, user=user, reason=reason)
    case.team.add(user)  # whoever records a case is on its team
    return case


@transaction.atomic
def incident_create(
    *,
    user: AbstractBaseUser,
    case: Case,
    type: str,
    occurred_on: date,
    date_precision: str = Incident.DatePrecision.DAY,
    defender: Defender | None = None,
    organization: Organization | None = None,
    state: str = "",
    municipality: str = "",
    description: str = "",
    perpetrators: Iterable[tuple[Perpetrator, str]] = (),
    reason: str = "",
) -> Incident:
    """Record one incident and the part each perpetrator played in it."""
    incident = Incident(
        case=case,
        type=type,
        occurred_on=occurred_on,
        date_precision=date_precision,
        defender=defender,
        organization=organization,
        state=state,
        municipality=municipality,
        description=description,
    )
    record_save(incident, user=user, reason=reason)
    for perpetrator, role in perpetrators:
        record_save(
            Involvement(incident=incident, perpetrator=perpetrator, role=role),
            user=user,
            reason=reason,
        )
    return incident


def source_fingerprint(source: Source) -> None:
    """Record the SHA-256 of a newly uploaded file (before it is stored), or clear it."""
    # FieldFile._committed is False from upload until the file is written to storage.
    if source.file and not getattr(source.file, "_committed", True):
        source.sha256 = file_sha256(source.file)
    elif not source.file:
        source.sha256 = ""


@transaction.atomic
def incident_save(
    *, incident: Incident, user: AbstractBaseUser | None, reason: str = ""
) -> Incident:
    """Create or update one incident, refusing a stale copy (its perpetrators are saved
    with it by the admin)."""
    version_bump(incident)
    record_save(incident, user=user, reason=reason)
    return incident


@transaction.atomic
def source_save(*, source: Source, user: AbstractBaseUser, reason: str = "") -> Source:
    """Create or update a source; a newly uploaded file gets its SHA-256 recorded."""
    source_fingerprint(source)
    record_save(source, user=user, reason=reason)
    return source


@transaction.atomic
def source_create(*, user: AbstractBaseUser, case: Case, reason: str = "", **fields) -> Source:
    return source_save(source=Source(case=case, **fields), user=user, reason=reason)


def _transition_problem(case: Case, status: str) -> str | None:
    """Why a case cannot move to `status` now, in the user's language; None if it can."""
    if not case.can_move_to(status):
        return _("A case that is “%(current)s” cannot become “%(new)s”.") % {
            "current": case.get_status_display(),
            "new": Case.Status(status).label,
        }
    if status == Case.Status.IN_REVIEW and not case.incidents.exists():
        return _("Record at least one incident before sending the case to review.")
    if status in Case.COUNTED_STATUSES and not case.sources.exists():
        return _("A case needs at least one source before it can be verified or published.")
    if status not in Case.COUNTED_STATUSES:
        reports = Incident.objects.filter(duplicate_of__case=case).exclude(case=case)
        if reports.filter(case__status__in=Case.COUNTED_STATUSES).exists():
            return _(
                "Reports in other counted cases are marked as duplicates of this case's "
                "incidents: it must stay counted, or the attacks would not be counted at all. "
                "Make one of those reports the original first."
            )
    return None


@transaction.atomic
def case_transition(*, case: Case, user: AbstractBaseUser, status: str, reason: str = "") -> Case:
    """Move a case along its workflow. Raises ValidationError if the move is not allowed."""
    # Lock the row: two reviewers acting at once must not both succeed from a stale status.
    locked = Case.objects.select_for_update().get(pk=case.pk)
    problem = _transition_problem(locked, status)
    if problem:
        raise ValidationError(problem, code="invalid_transition")
    locked.status = status
    locked.updated_by = user
    locked.version += 1  # an edit form opened before the move is now stale
    record_save(
        locked,
        user=user,
        reason=reason or _("Status: %(status)s") % {"status": Case.Status(status).label},
        update_fields=["status", "updated_by", "updated_at", "version"],
    )
    case.status, case.updated_by, case.updated_at = locked.status, user, locked.updated_at
    case.version = locked.version
    return case


def case_submit_for_review(*, case: Case, user: AbstractBaseUser, reason: str = "") -> Case:
    return case_transition(case=case, user=user, status=Case.Status.IN_REVIEW, reason=reason)


def case_verify(*, case: Case, user: AbstractBaseUser, reason: str = "") -> Case:
    return case_transition(case=case, user=user, status=Case.Status.VERIFIED, reason=reason)


def case_publish(*, case: Case, user: AbstractBaseUser, reason: str = "") -> Case:
    return case_transition(case=case, user=user, status=Case.Status.PUBLISHED, reason=reason)


def case_retract(*, case: Case, user: AbstractBaseUser, reason: str) -> Case:
    if not reason:
        raise ValidationError(_("Say why the case is retracted."), code="reason_required")
    return case_transition(case=case, user=user, status=Case.Status.RETRACTED, reason=reason)


@transaction.atomic
def incident_mark_duplicate(
    *, incident: Incident, original: Incident, user: AbstractBaseUser, reason: str = ""
) -> Incident:
    """Keep `incident` as a report of `original`'s attack; it stops being counted."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    # Lock the original too: its case must not leave the counted statuses meanwhile.
    Case.objects.select_for_update().get(pk=original.case_id)
    incident.duplicate_of = original
    incident.version += 1
    record_save(
        incident,
        user=user,
        reason=reason or _("Duplicate of incident %(id)s") % {"id": original.public_id},
        update_fields=["duplicate_of", "updated_at", "version"],
    )
    return incident
