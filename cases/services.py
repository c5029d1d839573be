"""Writes on cases: keyword-only, atomic, validated, and always attributed in the history."""

import hashlib
from collections.abc import Callable, Iterable
from datetime import date

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import SecurityEvent
from accounts.services import security_event_record
from cases import archiving, duplicates, extraction
from cases.models import Case, DuplicatePair, Incident, Involvement, Source, Support
from cases.workflow import (  # noqa: F401  (the workflow's services, with the others)
    case_highlight,
    case_publish,
    case_retract,
    case_send_back,
    case_submit_for_review,
    case_transition,
    case_verify,
)
from core.audit import bulk_create_with_history
from core.records import record_save
from organizations.models import Defender, Organization, Perpetrator


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
def source_save(
    *,
    source: Source,
    user: AbstractBaseUser,
    reason: str = "",
    incidents: Iterable[int] | None = None,
) -> Source:
    """Create or update a source; a newly uploaded file gets its SHA-256 recorded, and a new
    link is archived (cases/archiving.py) and a new file read for search
    (cases/extraction.py). `incidents`: the ids of the incidents it supports (of its case);
    a new source given none supports every incident its case has."""
    new = source.pk is None
    source_fingerprint(source)
    record_save(source, user=user, reason=reason)
    if incidents is not None:
        source_incidents_set(source=source, incident_ids=incidents, user=user, reason=reason)
    elif new:
        every = source.case.incidents.values_list("pk", flat=True)
        if every:
            source_incidents_set(source=source, incident_ids=every, user=user, reason=reason)
    archiving.archive_queue(source)
    extraction.source_text_queue(source)
    return source


@transaction.atomic
def source_incidents_set(
    *, source: Source, incident_ids: Iterable[int], user: AbstractBaseUser | None, reason: str = ""
) -> None:
    """The incidents `source` supports, all of its own case (at least one): links added and
    removed, each with its history row."""
    wanted = set(incident_ids)
    if not wanted:
        raise ValidationError(
            {"supported": _("Tick at least one incident that this source supports.")}
        )
    of_case = set(
        Incident.objects.filter(case_id=source.case_id, pk__in=wanted).values_list("pk", flat=True)
    )
    if wanted - of_case:
        raise ValidationError({"supported": _("A source supports only incidents of its own case.")})
    current = {link.incident_id: link for link in source.supports.all()}
    for incident_id in sorted(wanted - current.keys()):
        record_save(Support(source=source, incident_id=incident_id), user=user, reason=reason)
    for incident_id in sorted(current.keys() - wanted):
        link = current[incident_id]
        if user is not None:
            link._history_user = user
        link._change_reason = reason or _("It no longer supports this incident.")
        link.delete()


@transaction.atomic
def source_create(
    *,
    user: AbstractBaseUser,
    case: Case,
    reason: str = "",
    incidents: Iterable[int] | None = None,
    **fields,
) -> Source:
    return source_save(
        source=Source(case=case, **fields), user=user, reason=reason, incidents=incidents
    )


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
