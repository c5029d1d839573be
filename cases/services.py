"""Writes on cases: keyword-only, atomic, validated, and always attributed in the history."""

import functools
import hashlib
import uuid
from collections.abc import Callable, Iterable
from datetime import date
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import SecurityEvent
from accounts.services import security_event_record
from cases import duplicates, imports
from cases.models import Case, DuplicatePair, ImportBatch, Incident, Involvement, Source
from organizations.audit import bulk_create_with_history
from organizations.models import Defender, Organization, Perpetrator
from organizations.services import (  # noqa: F401  (StaleEditError: the admin catches it)
    StaleEditError,
    protection_turned_on,
    record_save,
)


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
        update_fields = [*Case.EDITABLE_FIELDS, "updated_by", "updated_at"]
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
    case_team_join_as_recorder(case=case, user=user)
    return case


def _team_change(case: Case, *, add=(), remove=(), by: AbstractBaseUser, request=None) -> None:
    case._history_user = by  # the team's history names who changed it
    if remove:
        case.team.remove(*remove)
    if add:
        case.team.add(*add)
    if add or remove:
        security_event_record(
            kind=SecurityEvent.Kind.TEAM_CHANGE,
            request=request,
            user=by,
            case=str(case.public_id),
            added=sorted(user.get_username() for user in add),
            removed=sorted(user.get_username() for user in remove),
        )


@transaction.atomic
def case_team_set(
    *,
    case: Case,
    members: Iterable[AbstractBaseUser],
    by: AbstractBaseUser,
    request=None,
    trusted: bool = False,
) -> None:
    """Who is on the case team: granted by coordinators only (cases.change_case_team), never
    taken by anyone for themselves. Every change is in the security log and the case's
    history. `trusted`: the server's operator (commands, the demo loader)."""
    if not (trusted or by.has_perm("cases.change_case_team")):
        raise ValidationError(_("Only a coordinator changes a case's team."), code="permission")
    wanted = {user.pk: user for user in members}
    current = {user.pk: user for user in case.team.all()}
    _team_change(
        case,
        add=[wanted[pk] for pk in sorted(wanted.keys() - current.keys())],
        remove=[current[pk] for pk in sorted(current.keys() - wanted.keys())],
        by=by,
        request=request,
    )


@transaction.atomic
def case_team_join_as_recorder(*, case: Case, user: AbstractBaseUser, request=None) -> None:
    """Whoever records a case is on its team (logged like any team change); not the system
    user that commands act as, which is nobody."""
    if user.is_active and not case.team.filter(pk=user.pk).exists():
        _team_change(case, add=[user], by=user, request=request)


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
    duplicates_flag(incident_ids=[incident.pk], user=user)
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
    record_save(incident, user=user, reason=reason)
    duplicates_flag(incident_ids=[incident.pk], user=user)
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
    # Its version is raised: an edit form opened before the move is now stale.
    record_save(
        locked,
        user=user,
        reason=reason or _("Status: %(status)s") % {"status": Case.Status(status).label},
        update_fields=["status", "updated_by", "updated_at"],
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
    record_save(
        incident,
        user=user,
        reason=reason or _("Duplicate of incident %(id)s") % {"id": original.public_id},
        update_fields=["duplicate_of", "updated_at"],
    )
    return incident


@transaction.atomic
def incident_unmark_duplicate(
    *, incident: Incident, user: AbstractBaseUser, reason: str = ""
) -> Incident:
    """Undo a "duplicate of": the report is counted again (if its case is)."""
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.duplicate_of_id is None:
        return incident
    incident.duplicate_of = None
    record_save(
        incident,
        user=user,
        reason=reason or _("No longer marked as a duplicate"),
        update_fields=["duplicate_of", "updated_at"],
    )
    return incident


# Likely duplicates ------------------------------------------------------------------------


FLAG_CHUNK = 2000  # likely duplicates written at a time

# Long work tells how far it is: (what, how many done, of how many). The command prints it.
Progress = Callable[[str, int, int], None]


def _quiet(what: str, done: int, total: int) -> None:
    """Progress told to no one (the admin's requests, the one-incident saves)."""


def duplicates_flag(
    *,
    incident_ids: Iterable[int],
    user: AbstractBaseUser | None,
    reason: str = "",
    counted_for: AbstractBaseUser | None = None,
    progress: Progress = _quiet,
) -> int:
    """Record the likely duplicates of these incidents for reviewers to decide (pairs already
    flagged or decided are left alone: "not a duplicate" is never asked again). Returns how
    many were flagged — of those `counted_for` may know of, if given (the others concern
    incidents or protected people hidden from them)."""
    reason = reason or _("Likely duplicate: same target and type, close dates")
    flagged = 0
    ids = sorted(set(incident_ids))
    # A chunk of the incidents' pairs at a time (candidate_pairs_in_chunks): a file that
    # repeats an earlier one flags a pair per row.
    for done, pairs in enumerate(duplicates.candidate_pairs_in_chunks(ids), start=1):
        if len(pairs) > 20:
            for start in range(0, len(pairs), FLAG_CHUNK):
                some = pairs[start : start + FLAG_CHUNK]
                objs = [DuplicatePair(first_id=a, second_id=b) for a, b in some]
                bulk_create_with_history(objs, user=user, reason=reason)
        else:
            for a, b in pairs:
                record_save(DuplicatePair(first_id=a, second_id=b), user=user, reason=reason)
        if counted_for is not None:
            flagged += duplicates.count_visible_pairs(pairs, counted_for)
        else:
            flagged += len(pairs)
        compared = min(done * duplicates.NEW_AT_ONCE, len(ids))
        progress(_("incidents compared for likely duplicates"), compared, len(ids))
    return flagged


@transaction.atomic
def duplicate_pair_decide(
    *,
    pair: DuplicatePair,
    user: AbstractBaseUser,
    original: Incident | None,
    reason: str = "",
) -> DuplicatePair:
    """A reviewer's decision: `original` given → the other incident of the pair is a report
    of the same attack (kept, no longer counted); None → not a duplicate, never asked again."""
    pair = DuplicatePair.objects.select_for_update().get(pk=pair.pk)
    if pair.status != DuplicatePair.Status.PENDING:
        raise ValidationError(_("This pair was already decided: reopen it first."), code="decided")
    if original is None:
        pair.status = DuplicatePair.Status.NOT_DUPLICATE
        reason = reason or _("Not a duplicate")
    else:
        if original.pk not in (pair.first_id, pair.second_id):
            raise ValidationError(_("The original must be one of the two incidents."))
        report_id = pair.second_id if original.pk == pair.first_id else pair.first_id
        reason = reason or _("Duplicate of incident %(id)s") % {"id": original.public_id}
        incident_mark_duplicate(
            incident=Incident(pk=report_id), original=original, user=user, reason=reason
        )
        pair.status = DuplicatePair.Status.DUPLICATE
    pair.decided_by, pair.decided_at = user, timezone.now()
    record_save(
        pair, user=user, reason=reason, update_fields=["status", "decided_by", "decided_at"]
    )
    return pair


@transaction.atomic
def duplicate_pair_reopen(
    *, pair: DuplicatePair, user: AbstractBaseUser, reason: str = ""
) -> DuplicatePair:
    """Undo a decision: a "duplicate of" is lifted (the report counts again), a "not a
    duplicate" is withdrawn; the pair is to decide again. Both stay in the history."""
    pair = DuplicatePair.objects.select_for_update().get(pk=pair.pk)
    if pair.status == DuplicatePair.Status.PENDING:
        return pair
    reason = reason or _("Decision reopened")
    if pair.status == DuplicatePair.Status.DUPLICATE:
        for report, original in ((pair.first, pair.second), (pair.second, pair.first)):
            if report.duplicate_of_id == original.pk:
                incident_unmark_duplicate(incident=report, user=user, reason=reason)
    pair.status = DuplicatePair.Status.PENDING
    pair.decided_by, pair.decided_at = user, timezone.now()
    record_save(
        pair, user=user, reason=reason, update_fields=["status", "decided_by", "decided_at"]
    )
    return pair


# Merging people and organizations recorded twice ---------------------------------------------


def _merge_check(survivor, merged) -> None:
    if survivor.pk == merged.pk:
        raise ValidationError(_("Choose two different records to merge."))
    if survivor.merged_into_id is not None or merged.merged_into_id is not None:
        raise ValidationError(_("One of them was already merged into another record."))


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
    survivor, merged = (
        Defender.objects.select_for_update().get(pk=d.pk) for d in (survivor, merged)
    )
    _merge_check(survivor, merged)
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
    # Records merged into `merged` before lead straight to the survivor: no chains of merges.
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
    survivor, merged = (
        Organization.objects.select_for_update().get(pk=o.pk) for o in (survivor, merged)
    )
    _merge_check(survivor, merged)
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
    # Records merged into `merged` before lead straight to the survivor: no chains of merges.
    earlier = Organization.objects.select_for_update().filter(merged_into=merged).order_by("pk")
    for record in [merged, *earlier]:
        record.merged_into = survivor
        record_save(record, user=user, reason=reason, update_fields=["merged_into", "updated_at"])
    duplicates_flag(incident_ids=moved, user=user, reason=reason)
    return survivor


# Spreadsheet imports -----------------------------------------------------------------------


def system_user() -> AbstractBaseUser:
    """The named user that commands act as in the history (it cannot log in)."""
    user, created = get_user_model().objects.get_or_create(
        username=settings.SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "Sistema"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


class ImportConflict(ValidationError):
    """Another import created the same names at the same moment: nothing was written."""

    def __init__(self):
        super().__init__(
            _(
                "Someone else imported the same names at the same time: nothing was "
                "imported. Try again."
            ),
            code="conflict",
        )


def _imports_lock() -> None:
    """One import writes at a time, whatever its origin: two files naming the same new
    organization would otherwise both plan to create it. The lock is the system user's row
    (always there, never edited), held until the transaction ends; SQLite takes no row
    locks but lets one transaction write at a time anyway."""
    list(get_user_model().objects.select_for_update().filter(pk=system_user().pk).values("pk"))


class ImportRejected(ValidationError):
    """Rows were bad and the import was not told to skip them: nothing was written."""

    def __init__(self, plan: imports.Plan):
        self.plan = plan
        super().__init__(
            _("%(count)d rows are wrong: nothing was imported.") % {"count": len(plan.rejected)},
            code="rejected",
        )


@transaction.atomic
def import_batch_prepare(
    *,
    user: AbstractBaseUser,
    data: bytes | BinaryIO,
    file_name: str,
    origin: str = "",
    case_status: str = ImportBatch.CaseStatus.IN_REVIEW,
    trusted: bool = False,
    max_rows: int | None = None,
    lock: bool = False,
    progress: Progress = _quiet,
) -> tuple[ImportBatch, imports.Plan]:
    """Keep an uploaded file and plan its import (the preview). Raises ImportFileError for a
    file that cannot be read at all, or that has more than `max_rows` rows (nothing is kept
    then). `data`: the file's bytes, or the file itself (opened in binary, seekable; read a
    block at a time, never held whole). With `lock`, planned under the lock imports share,
    held to the end of the caller's transaction: import_batch_run may then carry out this
    plan without planning the file again (the command, which plans and imports in one
    transaction)."""
    if case_status == ImportBatch.CaseStatus.VERIFIED and not (
        trusted or user.has_perm("cases.verify_case")
    ):
        raise ValidationError(_("Only reviewers import cases as verified."), code="permission")
    source = imports.as_file(data)
    table = imports.read_table(source, file_name)
    if max_rows is not None and len(table) - 1 > max_rows:
        raise imports.ImportFileError(
            _(
                "The file has %(count)d rows: here at most %(max)d are imported at once. "
                "Split it, or have it imported on the server with "
                "“python manage.py import_incidents”."
            )
            % {"count": len(table) - 1, "max": max_rows}
        )
    rows = imports.parse_table(table)
    progress(_("rows read and checked"), len(rows), len(rows))
    origin = (origin or file_name.rsplit(".", 1)[0]).strip()[:100]
    batch = ImportBatch(
        origin=origin,
        file_name=file_name[-255:],
        sha256=file_sha256(File(source)),
        case_status=case_status,
        created_by=user,
    )
    if lock:
        _imports_lock()
    plan = imports.plan_import(
        rows, origin=origin, case_status=case_status, user=user, trusted=trusted
    )
    progress(_("rows compared with the database"), len(rows), len(rows))
    # The file is kept only once it is planned, and not at all if this fails.
    try:
        batch.file.save(file_name, File(source), save=False)
        _set_counts(batch, plan)
        record_save(batch, user=user, reason=_("Uploaded for preview"))
    except BaseException:
        import_batch_discard_files(batch)
        raise
    return batch, plan


def import_batch_discard_files(batch: ImportBatch | None) -> None:
    """Delete the files kept for a batch that was refused or rolled back."""
    if batch is None:
        return
    for kept in (batch.file, batch.error_file):
        if kept:
            kept.storage.delete(kept.name)


def _set_counts(batch: ImportBatch, plan: imports.Plan) -> None:
    for name, value in plan.counts().items():
        setattr(batch, name, value)
    if plan.rejected:
        name = f"imports/errors-{uuid.uuid4().hex}.csv"
        batch.error_file.save(name, ContentFile(imports.error_file(plan)), save=False)
    else:
        batch.error_file = ""


def import_batch_plan(
    *, batch: ImportBatch, user: AbstractBaseUser, trusted: bool = False
) -> imports.Plan:
    """Plan the kept file again, against the database as it is now."""
    with batch.file.open("rb") as stored:  # read a block at a time, never held whole
        if file_sha256(stored) != batch.sha256:
            raise ValidationError(_("The stored file has changed since it was uploaded."))
        rows = imports.parse_table(imports.read_table(stored, batch.file_name))
    return imports.plan_import(
        rows, origin=batch.origin, case_status=batch.case_status, user=user, trusted=trusted
    )


@transaction.atomic
def import_batch_run(
    *,
    batch: ImportBatch,
    user: AbstractBaseUser,
    skip_invalid: bool = False,
    trusted: bool = False,
    plan: imports.Plan | None = None,
    progress: Progress = _quiet,
) -> imports.Plan:
    """Carry out an import: checks every row again, then writes everything or nothing —
    unless `skip_invalid`, when the good rows are imported and the bad ones listed in the
    batch's error file. Every record written has history attributed to `user`, with the
    batch as the reason. `plan`: the one import_batch_prepare(lock=True) made in this same
    transaction (nothing can have changed since: the lock is still held)."""
    batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportBatch.Status.PREVIEW:
        raise ValidationError(_("This file was already imported."), code="done")
    if batch.created_by_id != user.pk:
        raise ValidationError(_("Only who uploaded the file may import it."), code="permission")
    # Planned again under the lock: names and references as the previous import left them.
    _imports_lock()
    if plan is None:
        plan = import_batch_plan(batch=batch, user=user, trusted=trusted)
    if plan.rejected and not skip_invalid:
        raise ImportRejected(plan)
    try:
        with transaction.atomic():
            flagged = _import_write(plan, batch, user, progress)
    except IntegrityError:
        # A record made outside imports (the admin) at the same moment took a name.
        raise ImportConflict() from None
    _set_counts(batch, plan)
    batch.duplicates_flagged = flagged
    batch.status, batch.imported_at = ImportBatch.Status.IMPORTED, timezone.now()
    record_save(batch, user=user, reason=_("Imported"))
    return plan


def _validated(objs: list, exclude: list[str]) -> list:
    """full_clean without the per-object queries (foreign keys were resolved by the plan,
    uniqueness is the database's): for the few people, organizations and perpetrators an
    import records."""
    for obj in objs:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    return objs


def _checked(objs: list) -> list:
    """What full_clean adds, for the many rows an import writes, to the checks check_row
    made of every cell (lengths, vocabularies, dates, web addresses): the model's own rules
    (Incident.clean: one target, no future date, a month's or year's date on its 1st). The
    database checks lengths and constraints again. full_clean itself, field by field, was
    a fifth of an import's time."""
    for obj in objs:
        obj.clean()
    return objs


def _import_write(
    plan: imports.Plan, batch: ImportBatch, user: AbstractBaseUser, progress: Progress
) -> int:
    reason = batch.reason
    bulk = functools.partial(bulk_create_with_history, user=user, reason=reason)
    created = plan.of("create")

    # People, organizations and perpetrators not recorded yet, flagged for review.
    defenders = [Defender(full_name=n, needs_review=True) for n in plan.new_defenders.values()]
    for key, defender in zip(plan.new_defenders, bulk(_validated(defenders, [])), strict=True):
        plan.defenders[key] = defender.pk
    orgs = [
        Organization(name=n, kind=Organization.Kind.OTHER, needs_review=True)
        for n in plan.new_organizations.values()
    ]
    for key, org in zip(plan.new_organizations, bulk(_validated(orgs, [])), strict=True):
        plan.organizations[key] = org.pk
    perpetrators = [
        Perpetrator(name=p.name, acronym=p.acronym, category=p.category, needs_review=True)
        for p in plan.new_perpetrators.values()
    ]
    for key, perpetrator in zip(
        plan.new_perpetrators, bulk(_validated(perpetrators, ["parent"])), strict=True
    ):
        plan.perpetrators[f"n:{key}"] = perpetrator.pk

    # The new rows IMPORT_CHUNK at a time: what a write holds does not grow with the file.
    plan.case_ids = {key: case.pk for key, case in plan.cases.items()}
    incident_ids = []
    for first in range(0, len(created), IMPORT_CHUNK):
        rows = created[first : first + IMPORT_CHUNK]
        incident_ids += _import_create(rows, plan, batch, user=user, bulk=bulk)
        progress(_("new rows written"), len(incident_ids), len(created))

    changed = plan.of("update")
    updated = []
    for row in changed:
        updated.append(_import_update(row, plan, user=user, reason=reason))
        if len(updated) % IMPORT_CHUNK == 0 or len(updated) == len(changed):
            progress(_("rows updated"), len(updated), len(changed))
    return duplicates_flag(
        incident_ids=incident_ids + updated,
        user=user,
        reason=reason,
        counted_for=None if plan.sees_all else user,
        progress=progress,
    )


IMPORT_CHUNK = 2000  # rows of a file written at a time


def _import_create(
    rows: list, plan: imports.Plan, batch: ImportBatch, *, user: AbstractBaseUser, bulk
) -> list[int]:
    """Write the cases, incidents, perpetrators' parts and sources of these new rows (a case
    there before, or written for an earlier chunk, is in plan.case_ids) with `bulk` (the
    import's bulk_create_with_history). Returns the incidents' ids."""
    # Cases: one per "caso" (or per row without one).
    new_cases = {}
    for row in rows:
        key = row.case_key
        if key not in plan.case_ids and key not in new_cases:
            new_cases[key] = Case(
                title=row.case_title or imports.auto_case_title(row),
                status=plan.case_status,
                confidentiality=Case.Confidentiality.INTERNAL,
                state=row.state,
                place=row.get("municipio"),
                # Ids, not objects: no related-object checks (nor router calls) per row.
                created_by_id=user.pk,
                updated_by_id=user.pk,
                import_batch_id=batch.pk,
                import_origin=batch.origin,
                import_ref=key,
            )
    bulk(_checked(list(new_cases.values())))
    plan.case_ids.update((key, case.pk) for key, case in new_cases.items())

    # Incidents, their perpetrators, their sources.
    incidents = []
    for row in rows:
        kind, _key = row.target_key
        target = imports.target_id(row, plan)
        incidents.append(
            Incident(
                case_id=plan.case_ids[row.case_key],
                type=row.type,
                occurred_on=row.occurred_on,
                date_precision=row.precision,
                defender_id=target if kind == "defender" else None,
                organization_id=target if kind == "organization" else None,
                state=row.state,
                municipality=row.get("municipio"),
                description=row.get("descripcion"),
                import_batch_id=batch.pk,
                import_origin=batch.origin,
                import_ref=row.ref,
            )
        )
    bulk(_checked(incidents))
    involvements = [
        Involvement(
            incident_id=incident.pk, perpetrator_id=imports.perpetrator_id(p, plan), role=p.role
        )
        for row, incident in zip(rows, incidents, strict=True)
        for p in row.perpetrators
    ]
    bulk(_checked(involvements))
    bulk(_checked(_new_sources(rows, plan.case_ids)))

    return [incident.pk for incident in incidents]


def _new_sources(rows: list, case_id: dict[str, int]) -> list[Source]:
    """One source per case and distinct (address, outlet), unless the case has it already.
    `case_id`: the id of each row's case, by its key."""
    wanted = {
        (row.case_key, row.get("fuente_url"), row.get("fuente_medio"))
        for row in rows
        if row.get("fuente_url") or row.get("fuente_medio")
    }
    case_ids = [case_id[case_key] for case_key, _url, _publisher in wanted]
    known = set(Source.objects.filter(case__in=case_ids).values_list("case_id", "url", "publisher"))
    sources = []
    for case_key, url, publisher in sorted(wanted):
        if (case_id[case_key], url, publisher) not in known:
            sources.append(
                Source(
                    case_id=case_id[case_key],
                    kind=imports.source_kind(url, publisher),
                    title=(publisher or url)[:500],
                    publisher=publisher,
                    url=url,
                )
            )
    return sources


def _import_update(row, plan: imports.Plan, *, user, reason: str) -> int:
    """Apply a corrected row to its incident: one audited save, and its perpetrators."""
    incident = Incident.objects.select_for_update().get(pk=row.incident.pk)
    kind, _key = row.target_key
    target = imports.target_id(row, plan)
    incident.type, incident.occurred_on = row.type, row.occurred_on
    incident.date_precision, incident.state = row.precision, row.state
    incident.municipality, incident.description = row.get("municipio"), row.get("descripcion")
    incident.defender_id = target if kind == "defender" else None
    incident.organization_id = target if kind == "organization" else None
    record_save(incident, user=user, reason=reason)
    if row.keep_perpetrators:  # the file has no perpetrator column
        return incident.pk
    wanted = {imports.perpetrator_id(p, plan): p.role for p in row.perpetrators}
    for involvement in incident.involvements.all():
        if wanted.get(involvement.perpetrator_id) == involvement.role:
            del wanted[involvement.perpetrator_id]
            continue
        involvement._history_user, involvement._change_reason = user, reason
        involvement.delete()  # the history keeps the removed row
    for perpetrator_pk, role in wanted.items():
        record_save(
            Involvement(incident=incident, perpetrator_id=perpetrator_pk, role=role),
            user=user,
            reason=reason,
        )
    return incident.pk


@transaction.atomic
def import_batch_retract(*, batch: ImportBatch, user: AbstractBaseUser, reason: str) -> list[Case]:
    """Take an import back as a whole: every case it created is retracted (kept, never counted
    again), whatever its status. Cases that existed before are never changed: the incidents
    the batch added to them, and its changes to earlier incidents, stay (see
    imports.retraction_scope). Refused if a case it created is hidden from `user`."""
    if not reason:
        raise ValidationError(_("Say why the import is retracted."), code="reason_required")
    batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportBatch.Status.IMPORTED:
        raise ValidationError(_("Only an imported batch can be retracted."), code="status")
    scope = imports.retraction_scope(batch, user)
    if scope.hidden_cases:
        raise ValidationError(
            _(
                "Some cases this import created are restricted to a team you are not on: "
                "only a coordinator may retract it."
            ),
            code="permission",
        )
    case_ids = [case.pk for case in scope.cases]
    cases = list(Case.objects.select_for_update().filter(pk__in=case_ids).order_by("pk"))
    others = Incident.objects.filter(duplicate_of__case__in=case_ids).exclude(case__in=case_ids)
    if others.filter(case__status__in=Case.COUNTED_STATUSES).exists():
        raise ValidationError(
            _(
                "Reports in other counted cases are marked as duplicates of incidents of this "
                "import: make one of those reports the original first."
            ),
            code="duplicates",
        )
    text = _("Import retracted: %(reason)s") % {"reason": reason}
    for case in cases:
        if case.status == Case.Status.RETRACTED:
            continue
        case.status, case.updated_by = Case.Status.RETRACTED, user
        record_save(
            case, user=user, reason=text, update_fields=["status", "updated_by", "updated_at"]
        )
    batch.status, batch.retracted_by = ImportBatch.Status.RETRACTED, user
    batch.retracted_at, batch.retraction_reason = timezone.now(), reason
    record_save(
        batch,
        user=user,
        reason=text,
        update_fields=["status", "retracted_by", "retracted_at", "retraction_reason"],
    )
    return cases
