"""A case's way from draft to published (or retracted): who may make each move, which moves
need a reason, and four eyes: the reviewer who verifies or publishes a case is not the person
who submitted it or last changed it."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import notices
from cases.models import Case, Incident, Source
from core.records import record_save

Status = Case.Status

# Each move and the permission it needs.
MOVES = {
    (Status.DRAFT, Status.IN_REVIEW): "cases.submit_case",
    (Status.IN_REVIEW, Status.DRAFT): "cases.verify_case",  # sent back to its documentalist
    (Status.IN_REVIEW, Status.VERIFIED): "cases.verify_case",
    (Status.VERIFIED, Status.IN_REVIEW): "cases.verify_case",
    (Status.VERIFIED, Status.PUBLISHED): "cases.publish_case",
    (Status.VERIFIED, Status.RETRACTED): "cases.retract_case",
    (Status.PUBLISHED, Status.RETRACTED): "cases.retract_case",
}
# Moves that say why, in the case's history: the documentalist reads it on their home page.
REASON_REQUIRED = {
    (Status.IN_REVIEW, Status.DRAFT),
    (Status.VERIFIED, Status.RETRACTED),
    (Status.PUBLISHED, Status.RETRACTED),
}
FOUR_EYES_MOVES = {Status.VERIFIED, Status.PUBLISHED}
# Fields whose change is not an edit of the case's content.
BOOKKEEPING = {"status", "version", "updated_by", "updated_at"}


def is_system(user) -> bool:
    """Commands, imports and the demo act as the system user: no person, so no four eyes."""
    return user.get_username() == settings.SYSTEM_USERNAME


def may_move(case: Case, user, status: str) -> bool:
    permission = MOVES.get((case.status, status))
    return permission is not None and (is_system(user) or user.has_perm(permission))


def moves_for(case: Case, user) -> list[str]:
    """The statuses `user` may move `case` to now (the buttons on its page)."""
    return [
        status
        for (current, status) in MOVES
        if current == case.status and may_move(case, user, status)
    ]


def needs_reason(case: Case, status: str) -> bool:
    return (case.status, status) in REASON_REQUIRED


def submitted_by(case: Case):
    """Who last sent the case to review (None if nobody did)."""
    previous = None
    submitter = None
    for record in case.history.order_by("history_date", "history_id").select_related(
        "history_user"
    ):
        if record.status == Status.IN_REVIEW and (previous is None or previous != Status.IN_REVIEW):
            submitter = record.history_user
        previous = record.status
    return submitter


def last_edited_by(case: Case):
    """Who last changed what the case says: its own fields (not its status), its incidents,
    its sources. None if nobody but the system did."""
    found = []
    records = list(
        case.history.order_by("-history_date", "-history_id").select_related("history_user")
    )
    for newer, older in zip(records, records[1:] + [None], strict=False):
        changed = set() if older is None else {c.field for c in newer.diff_against(older).changes}
        if older is None or changed - BOOKKEEPING:
            found.append((newer.history_date, newer.history_user))
            break
    for model in (Incident, Source):
        record = (
            model.history.filter(case_id=case.pk)
            .order_by("-history_date", "-history_id")
            .select_related("history_user")
            .first()
        )
        if record is not None:
            found.append((record.history_date, record.history_user))
    return max(found, key=lambda item: item[0])[1] if found else None


def four_eyes_problem(case: Case, user, status: str) -> str | None:
    """Why `user` may not verify or publish `case` themselves; None if they may."""
    if status not in FOUR_EYES_MOVES or not settings.FOUR_EYES or is_system(user):
        return None
    if submitted_by(case) == user:
        return _("You sent this case to review: another reviewer must verify or publish it.")
    if last_edited_by(case) == user:
        return _(
            "You made the last change to this case: another reviewer must verify or publish it."
        )
    return None


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
    if status in Case.COUNTED_STATUSES:
        unsupported = list(
            case.incidents.filter(duplicate_of__isnull=True, supports__isnull=True)
            .select_related("defender", "organization")
            .order_by("occurred_on", "pk")[:4]
        )
        if unsupported:
            return _(
                "Each incident needs a source before the case can be verified or published; "
                "none supports: %(incidents)s. Tick it under a source."
            ) % {"incidents": "; ".join(str(incident) for incident in unsupported[:3])}
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
def case_transition(
    *, case: Case, user: AbstractBaseUser, status: str, reason: str = "", override: str = ""
) -> Case:
    """Move a case along its workflow. Raises ValidationError if the move is not allowed: not
    a move from its status, not this user's to make, a reason missing, four eyes. A
    coordinator may override four eyes by saying why (`override`), which the history keeps."""
    # Lock the row: two reviewers acting at once must not both succeed from a stale status.
    locked = Case.objects.select_for_update().get(pk=case.pk)
    problem = _transition_problem(locked, status)
    if problem:
        raise ValidationError(problem, code="invalid_transition")
    if not may_move(locked, user, status):
        raise ValidationError(
            _("You may not move a case from “%(current)s” to “%(new)s”.")
            % {"current": locked.get_status_display(), "new": Status(status).label},
            code="forbidden",
        )
    reason = reason.strip()
    submitter = submitted_by(locked) if status == Status.DRAFT else None
    if needs_reason(locked, status) and not reason:
        raise ValidationError(_("Say why, for the case's history."), code="reason_required")
    problem = four_eyes_problem(locked, user, status)
    if problem:
        if not (override.strip() and user.has_perm("cases.view_all_cases")):
            raise ValidationError(problem, code="four_eyes")
        reason = _("%(reason)s (four eyes waived by a coordinator: %(why)s)") % {
            "reason": reason or Status(status).label,
            "why": override.strip(),
        }
    locked.status = status
    locked.updated_by = user
    fields = ["status", "updated_by", "updated_at"]
    if locked.highlight and status != Status.PUBLISHED:  # only a published case is highlighted
        locked.highlight, locked.highlighted_at = "", None
        fields += ["highlight", "highlighted_at"]
    # Its version is raised: an edit form opened before the move is now stale.
    record_save(
        locked,
        user=user,
        reason=reason or _("Status: %(status)s") % {"status": Case.Status(status).label},
        update_fields=fields,
    )
    _copy_saved(locked, case, fields)
    if status == Status.DRAFT:  # sent back: whoever submitted it learns why
        notices.case_sent_back(locked, to=submitter, reason=reason, by=user)
    return case


def _copy_saved(saved: Case, case: Case, fields: list[str]) -> None:
    """The caller's copy of the case gets what was saved from the locked row."""
    for name in [*fields, "version"]:
        setattr(case, name, getattr(saved, name))


def may_highlight(case: Case, user) -> bool:
    """Whether `user` may highlight `case` now: a reviewer, on a published public case (the
    bulletin names only what allies may receive)."""
    return (
        (is_system(user) or user.has_perm("cases.publish_case"))
        and case.status == Status.PUBLISHED
        and case.confidentiality == Case.Confidentiality.PUBLIC
    )


@transaction.atomic
def case_highlight(*, case: Case, user: AbstractBaseUser, summary: str) -> Case:
    """Highlight a published public case in its months' bulletins with a one-line summary,
    or stop highlighting it (an empty summary). Up to three per month reach the narrative,
    the most recently highlighted first."""
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if not may_highlight(locked, user):
        raise ValidationError(
            _("Only a reviewer may highlight a case, and only a published public one."),
            code="forbidden",
        )
    summary = " ".join(summary.split())  # one line
    if summary == locked.highlight:
        return case
    locked.highlight = summary
    if summary and not locked.highlighted_at:
        locked.highlighted_at = timezone.now()
    elif not summary:
        locked.highlighted_at = None
    locked.updated_by = user
    fields = ["highlight", "highlighted_at", "updated_by", "updated_at"]
    record_save(
        locked,
        user=user,
        reason=_("Highlighted in the bulletin") if summary else _("No longer highlighted"),
        update_fields=fields,
    )
    _copy_saved(locked, case, fields)
    return case


def case_submit_for_review(*, case: Case, user: AbstractBaseUser, reason: str = "") -> Case:
    return case_transition(case=case, user=user, status=Status.IN_REVIEW, reason=reason)


def case_send_back(*, case: Case, user: AbstractBaseUser, reason: str) -> Case:
    """A case in review back to its documentalist, saying what to fix."""
    return case_transition(case=case, user=user, status=Status.DRAFT, reason=reason)


def case_verify(
    *, case: Case, user: AbstractBaseUser, reason: str = "", override: str = ""
) -> Case:
    return case_transition(
        case=case, user=user, status=Status.VERIFIED, reason=reason, override=override
    )


def case_publish(
    *, case: Case, user: AbstractBaseUser, reason: str = "", override: str = ""
) -> Case:
    return case_transition(
        case=case, user=user, status=Status.PUBLISHED, reason=reason, override=override
    )


def case_retract(*, case: Case, user: AbstractBaseUser, reason: str) -> Case:
    if not reason.strip():
        raise ValidationError(_("Say why the case is retracted."), code="reason_required")
    return case_transition(case=case, user=user, status=Status.RETRACTED, reason=reason)
