"""Writing an import: keeping the file and its preview, carrying a plan out (everything or
nothing, or the good rows only when asked), taking an import back. Every record written has
history by the importing user with the batch as its reason."""

import functools
import uuid
from typing import BinaryIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.services import system_user
from cases.intake.check import parse_table
from cases.intake.plan import (
    Plan,
    auto_case_title,
    error_file,
    perpetrator_id,
    plan_digest,
    plan_import,
    preview_summary,
    retraction_scope,
    source_kind,
    target_id,
)
from cases.intake.read import as_file, read_table
from cases.intake.template import ImportFileError
from cases.models import Case, ImportBatch, Incident, Involvement, Source, Support
from cases.services import Progress, _quiet, duplicates_flag, file_sha256
from core.audit import bulk_create_with_history
from core.records import record_save
from organizations.models import Defender, Membership, Organization, Perpetrator


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

    def __init__(self, plan: Plan):
        self.plan = plan
        super().__init__(
            ngettext(
                "%(count)d row is wrong: nothing was imported.",
                "%(count)d rows are wrong: nothing was imported.",
                len(plan.rejected),
            )
            % {"count": len(plan.rejected)},
            code="rejected",
        )


def _check_may_import_as(user: AbstractBaseUser, case_status: str, *, trusted=False) -> None:
    if case_status == ImportBatch.CaseStatus.VERIFIED and not (
        trusted or user.has_perm("cases.verify_case")
    ):
        raise ValidationError(_("Only reviewers import cases as verified."), code="permission")


def _new_batch(user, source: BinaryIO, file_name: str, origin: str, case_status: str):
    """The batch of an uploaded file, not saved: its origin (the file's name without its
    extension when none is given), its name and SHA-256."""
    return ImportBatch(
        origin=(origin or file_name.rsplit(".", 1)[0]).strip()[:100],
        file_name=file_name[-255:],
        sha256=file_sha256(File(source)),
        case_status=case_status,
        created_by=user,
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
) -> tuple[ImportBatch, Plan]:
    """Keep an uploaded file and plan its import (the preview). Raises ImportFileError for a
    file that cannot be read at all, or that has more than `max_rows` rows (nothing is kept
    then). `data`: the file's bytes, or the file itself (opened in binary, seekable; read a
    block at a time, never held whole). With `lock`, planned under the lock imports share,
    held to the end of the caller's transaction: import_batch_run may then carry out this
    plan without planning the file again (the command, which plans and imports in one
    transaction)."""
    _check_may_import_as(user, case_status, trusted=trusted)
    source = as_file(data)
    table = read_table(source, file_name)
    if max_rows is not None and len(table) - 1 > max_rows:
        raise ImportFileError(
            _(
                "The file has %(count)d rows: here at most %(max)d are imported at once. "
                "Split it, or have it imported on the server with "
                "“python manage.py import_incidents”."
            )
            % {"count": len(table) - 1, "max": max_rows}
        )
    rows = parse_table(table)
    progress(_("rows read and checked"), len(rows), len(rows))
    batch = _new_batch(user, source, file_name, origin, case_status)
    if lock:
        _imports_lock()
    plan = plan_import(
        rows, origin=batch.origin, case_status=case_status, user=user, trusted=trusted
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


class ImportChanged(ValidationError):
    """The records changed between the preview and the import: nothing was written."""

    def __init__(self):
        super().__init__(
            _(
                "The records changed since the preview (someone recorded or imported some of "
                "the same rows or names): nothing was imported. Look at the preview again."
            ),
            code="changed",
        )


PREVIEW_ROWS = 200  # rows of each kind a preview lists


def import_batch_upload(
    *,
    user: AbstractBaseUser,
    data: bytes | BinaryIO,
    file_name: str,
    origin: str = "",
    case_status: str = ImportBatch.CaseStatus.IN_REVIEW,
) -> ImportBatch:
    """Keep an uploaded file for a preview made in the background (cases/intake/tasks.py,
    queued by the caller once this transaction commits): nothing is read but its bytes."""
    _check_may_import_as(user, case_status)
    source = as_file(data)
    batch = _new_batch(user, source, file_name, origin, case_status)
    batch.task_kind, batch.task_state = ImportBatch.TaskKind.PREVIEW, ImportBatch.TaskState.QUEUED
    batch.file.save(file_name, File(source), save=False)
    try:
        record_save(batch, user=user, reason=_("Uploaded for preview"))
    except BaseException:
        import_batch_discard_files(batch)
        raise
    return batch


def import_batch_preview(*, batch: ImportBatch, progress: Progress = _quiet) -> Plan:
    """Read, check and plan a kept file as its uploader (the preview's work), and keep what
    the preview page shows and the digest the import will be held to."""
    user = batch.created_by
    progress(_("reading the file"), 0, 0)
    with batch.file.open("rb") as stored:  # read a block at a time, never held whole
        if file_sha256(stored) != batch.sha256:
            raise ValidationError(_("The stored file has changed since it was uploaded."))
        rows = parse_table(read_table(stored, batch.file_name))
    progress(_("rows read and checked"), len(rows), len(rows))
    plan = plan_import(rows, origin=batch.origin, case_status=batch.case_status, user=user)
    progress(_("rows compared with the database"), len(rows), len(rows))
    if batch.error_file:
        batch.error_file.storage.delete(batch.error_file.name)
    _set_counts(batch, plan)
    batch.preview = preview_summary(plan, PREVIEW_ROWS)
    batch.preview_digest = plan_digest(plan)
    batch.task_state = ImportBatch.TaskState.DONE  # task_error: why it was made again, if so
    record_save(batch, user=user, reason=_("Preview ready"))
    return plan


def import_batch_discard_files(batch: ImportBatch | None) -> None:
    """Delete the files kept for a batch that was refused or rolled back."""
    if batch is None:
        return
    for kept in (batch.file, batch.error_file):
        if kept:
            kept.storage.delete(kept.name)


def _set_counts(batch: ImportBatch, plan: Plan) -> None:
    for name, value in plan.counts().items():
        setattr(batch, name, value)
    if plan.rejected:
        name = f"imports/errors-{uuid.uuid4().hex}.csv"
        batch.error_file.save(name, ContentFile(error_file(plan)), save=False)
    else:
        batch.error_file = ""


def import_batch_plan(*, batch: ImportBatch, user: AbstractBaseUser, trusted: bool = False) -> Plan:
    """Plan the kept file again, against the database as it is now."""
    with batch.file.open("rb") as stored:  # read a block at a time, never held whole
        if file_sha256(stored) != batch.sha256:
            raise ValidationError(_("The stored file has changed since it was uploaded."))
        rows = parse_table(read_table(stored, batch.file_name))
    return plan_import(
        rows, origin=batch.origin, case_status=batch.case_status, user=user, trusted=trusted
    )


@transaction.atomic
def import_batch_run(
    *,
    batch: ImportBatch,
    user: AbstractBaseUser,
    skip_invalid: bool = False,
    trusted: bool = False,
    plan: Plan | None = None,
    progress: Progress = _quiet,
) -> Plan:
    """Carry out an import: checks every row again, then writes everything or nothing —
    unless `skip_invalid`, when the good rows are imported and the bad ones listed in the
    batch's error file. Every record written has history attributed to `user`, with the
    batch as the reason. `plan`: the one import_batch_prepare(lock=True) made in this same
    transaction (nothing can have changed since: the lock is still held)."""
    batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportBatch.Status.PREVIEW:
        raise ValidationError(_("This file was already imported."), code="done")
    background = batch.task_kind == ImportBatch.TaskKind.IMPORT
    if batch.created_by_id != user.pk:
        raise ValidationError(_("Only who uploaded the file may import it."), code="permission")
    # Planned again under the lock: names and references as the previous import left them.
    _imports_lock()
    if plan is None:
        progress(_("reading the file"), 0, 0)
        plan = import_batch_plan(batch=batch, user=user, trusted=trusted)
        progress(_("rows compared with the database"), len(plan.rows), len(plan.rows))
    if background and plan_digest(plan) != batch.preview_digest:
        raise ImportChanged()
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
    if background:
        batch.task_state, batch.task_error = ImportBatch.TaskState.DONE, ""
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
    plan: Plan, batch: ImportBatch, user: AbstractBaseUser, progress: Progress
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
    # A defender's organization, named on their row: a membership (once per pair of records).
    members = {
        (plan.defenders[defender], plan.organizations[organization])
        for defender, organization in plan.new_memberships
    }
    bulk(_validated([Membership(defender_id=d, organization_id=o) for d, o in sorted(members)], []))

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
    rows: list, plan: Plan, batch: ImportBatch, *, user: AbstractBaseUser, bulk
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
                title=row.case_title or auto_case_title(row),
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
        target = target_id(row, plan)
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
        Involvement(incident_id=incident.pk, perpetrator_id=perpetrator_id(p, plan), role=p.role)
        for row, incident in zip(rows, incidents, strict=True)
        for p in row.perpetrators
    ]
    bulk(_checked(involvements))
    sources = _sources_of(rows, plan.case_ids, bulk)
    # Each row's source supports the row's incident (built of the same case: no per-link
    # check needed).
    bulk(
        [
            Support(source_id=sources[key], incident_id=incident.pk)
            for row, incident in zip(rows, incidents, strict=True)
            if (key := _source_key(row, plan.case_ids)) is not None
        ]
    )

    return [incident.pk for incident in incidents]


def _source_key(row, case_id: dict[str, int]) -> tuple | None:
    url, publisher = row.get("fuente_url"), row.get("fuente_medio")
    return (case_id[row.case_key], url, publisher) if url or publisher else None


def _sources_of(rows: list, case_id: dict[str, int], bulk) -> dict[tuple, int]:
    """The id of each row's source, by (case id, address, outlet): one source per case and
    distinct (address, outlet), written with `bulk` unless the case has it already.
    `case_id`: the id of each row's case, by its key."""
    wanted = {key for row in rows if (key := _source_key(row, case_id)) is not None}
    case_ids = {case for case, _url, _publisher in wanted}
    known = {
        (case, url, publisher): pk
        for pk, case, url, publisher in Source.objects.filter(case__in=case_ids)
        .order_by("pk")
        .values_list("pk", "case_id", "url", "publisher")
        if (case, url, publisher) in wanted
    }
    new = [
        Source(
            case_id=case,
            kind=source_kind(url, publisher),
            title=(publisher or url)[:500],
            publisher=publisher,
            url=url,
        )
        for case, url, publisher in sorted(wanted - known.keys())
    ]
    for source in bulk(_checked(new)):
        known.setdefault((source.case_id, source.url, source.publisher), source.pk)
    return known


def _import_update(row, plan: Plan, *, user, reason: str) -> int:
    """Apply a corrected row to its incident: one audited save, and its perpetrators."""
    incident = Incident.objects.select_for_update().get(pk=row.incident.pk)
    kind, _key = row.target_key
    target = target_id(row, plan)
    incident.type, incident.occurred_on = row.type, row.occurred_on
    incident.date_precision, incident.state = row.precision, row.state
    incident.municipality, incident.description = row.get("municipio"), row.get("descripcion")
    incident.defender_id = target if kind == "defender" else None
    incident.organization_id = target if kind == "organization" else None
    record_save(incident, user=user, reason=reason)
    if row.keep_perpetrators:  # the file has no perpetrator column
        return incident.pk
    wanted = {perpetrator_id(p, plan): p.role for p in row.perpetrators}
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
    retraction_scope). Refused if a case it created is hidden from `user`."""
    if not reason:
        raise ValidationError(_("Say why the import is retracted."), code="reason_required")
    batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportBatch.Status.IMPORTED:
        raise ValidationError(_("Only an imported batch can be retracted."), code="status")
    scope = retraction_scope(batch, user)
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
