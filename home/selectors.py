"""What waits for each role when they sign in: the data of their home page."""

import datetime
from dataclasses import dataclass

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext

from accounts.models import SecurityEvent
from api.models import ApiKey
from cases.models import Case, DuplicatePair, ImportBatch, Incident, IncidentExport, Source
from cases.workflow import BOOKKEEPING
from organizations.models import Defender, Organization, Perpetrator
from reports.selectors import latest_snapshot, previous_month

Status = Case.Status
LIST = 20  # rows a home page lists of each kind


@dataclass
class Move:
    """A case's last change of status: to what, who, when, why."""

    status: str
    by: object
    at: datetime.datetime
    reason: str


def last_moves(case_ids) -> dict[int, Move]:
    """Each case's last change of status, from the history, in one query."""
    rows = (
        Case.history.filter(id__in=list(case_ids))
        .order_by("id", "history_date", "history_id")
        .values_list("id", "status", "history_user", "history_date", "history_change_reason")
    )
    users = {}
    moves, previous = {}, {}
    for pk, status, user_id, at, reason in rows:
        if previous.get(pk) != status:
            moves[pk] = Move(status, user_id, at, reason or "")
            users[user_id] = None
        previous[pk] = status
    names = dict(
        get_user_model()
        .objects.filter(pk__in=[u for u in users if u])
        .values_list("pk", "username")
    )
    for move in moves.values():
        move.by = names.get(move.by, "—")
    return moves


def documentalist_home(user) -> dict:
    mine = Case.objects.visible_to(user).filter(team=user)
    drafts = list(
        mine.filter(status=Status.DRAFT)
        .annotate(incident_total=Count("incidents"))
        .order_by("-updated_at")[:LIST]
    )
    moves = last_moves(case.pk for case in drafts)
    sent_back = []
    for case in drafts:
        move = moves.get(case.pk)
        # The last change of status took it from review back to draft: a reviewer's reason.
        previous = (
            Case.history.filter(id=case.pk, history_date__lt=move.at).first() if move else None
        )
        if previous is not None and previous.status == Status.IN_REVIEW:
            sent_back.append({"case": case, "move": move})
    pairs = DuplicatePair.objects.visible_to(user).pending()
    return {
        "drafts": drafts,
        "sent_back": sent_back,
        "in_review": mine.filter(status=Status.IN_REVIEW).count(),
        "imports": ImportBatch.objects.filter(created_by=user).order_by("-created_at")[:5],
        "exports": recent_exports(user),
        "duplicates": pairs.filter(Q(first__case__team=user) | Q(second__case__team=user))
        .distinct()
        .select_related("first__case", "second__case")[:LIST],
    }


def recent_exports(user) -> list:
    """The long exports `user` asked for whose links are still valid (or not made yet)."""
    now = timezone.now()
    mine = IncidentExport.objects.filter(created_by=user)
    return list(mine.filter(Q(expires_at__gt=now) | Q(expires_at__isnull=True))[:5])


def reviewer_home(user) -> dict:
    now = timezone.now()
    queue = list(Case.objects.visible_to(user).filter(status=Status.IN_REVIEW)[:200])
    moves = last_moves(case.pk for case in queue)
    waiting = sorted(
        (
            {"case": case, "since": moves[case.pk].at, "by": moves[case.pk].by}
            for case in queue
            if case.pk in moves
        ),
        key=lambda row: row["since"],
    )
    for row in waiting:
        row["days"] = (now - row["since"]).days
    return {
        "queue": waiting[:LIST],
        "queue_total": len(queue),
        "edited_published": edited_since_publication(user, since=now - datetime.timedelta(days=30)),
        "pending_pairs": DuplicatePair.objects.visible_to(user).pending().count(),
        "to_check": records_to_check(user),
        "exports": recent_exports(user),
    }


def records_to_check(user) -> list[dict]:
    """People, organizations and perpetrators an import created from a name in a file
    (needs_review): each may be one already recorded under another spelling, to merge."""
    kinds = (
        (
            Defender.objects.visible_to(user),
            "admin:organizations_defender_changelist",
            lambda n: ngettext(
                "%(count)s person from an import to check",
                "%(count)s people from imports to check",
                n,
            ),
        ),
        (
            Organization.objects.all(),
            "admin:organizations_organization_changelist",
            lambda n: ngettext(
                "%(count)s organization from an import to check",
                "%(count)s organizations from imports to check",
                n,
            ),
        ),
        (
            Perpetrator.objects.all(),
            "admin:organizations_perpetrator_changelist",
            lambda n: ngettext(
                "%(count)s perpetrator from an import to check",
                "%(count)s perpetrators from imports to check",
                n,
            ),
        ),
    )
    found = []
    for records, list_name, words in kinds:
        count = records.filter(needs_review=True, merged_into__isnull=True).count()
        if count:
            found.append(
                {
                    "text": words(count) % {"count": count},
                    "url": reverse(list_name) + "?needs_review__exact=1&merged=no",
                }
            )
    return found


def edited_since_publication(user, *, since) -> list[dict]:
    """Published cases changed after they were published (their own fields, incidents or
    sources), with the last change, for those changed since `since`."""
    visible = Case.objects.visible_to(user).filter(status=Status.PUBLISHED).values("pk")
    touched = set(
        Case.history.filter(id__in=visible, status=Status.PUBLISHED, history_date__gte=since)
        .values_list("id", flat=True)
        .distinct()[:500]
    )
    for model in (Incident, Source):
        touched |= set(
            model.history.filter(case_id__in=visible, history_date__gte=since)
            .values_list("case_id", flat=True)
            .distinct()[:500]
        )
    if not touched:
        return []
    published_at = {pk: move.at for pk, move in last_moves(touched).items()}
    found = []
    for case in Case.objects.filter(pk__in=touched):
        at = published_at.get(case.pk)
        if at is None:
            continue
        changes = [
            record
            for model, key in ((Incident, "case_id"), (Source, "case_id"))
            for record in model.history.filter(**{key: case.pk}, history_date__gt=at)
        ]
        records = list(case.history.filter(history_date__gt=at).order_by("history_date"))
        for record in records:
            older = record.prev_record
            if older is None or {c.field for c in record.diff_against(older).changes} - BOOKKEEPING:
                changes.append(record)
        if changes:
            last = max(changes, key=lambda record: record.history_date)
            found.append({"case": case, "last": last, "changes": len(changes)})
    found.sort(key=lambda row: row["last"].history_date, reverse=True)
    return found[:LIST]


def analyst_home(user) -> dict:
    """Twelve months: how many incidents count now, and what was published. They end with
    the last complete month, or with the last month anything counts in if that is older
    (a database of past years opens on its last year, not on twelve empty months)."""
    today = timezone.localdate()
    year, month = previous_month(today.year, today.month)
    newest = (
        Incident.objects.counted()
        .order_by("-occurred_on")
        .values_list("occurred_on", flat=True)
        .first()
    )
    if newest is not None and (newest.year, newest.month) < (year, month):
        year, month = newest.year, newest.month
    year, month = (year, month + 1) if month < 12 else (year + 1, 1)  # one past: stepped back
    months = []
    for _ in range(12):
        year, month = previous_month(year, month)
        counted = Incident.objects.counted().in_month(year, month).count()
        snapshot = latest_snapshot(year, month)
        published = snapshot.figures.get("total") if snapshot else None
        months.append(
            {
                "year": year,
                "month": month,
                "first_day": datetime.date(year, month, 1),
                "counted": counted,
                "snapshot": snapshot,
                "published": published,
                "revised": snapshot is not None and published != counted,
            }
        )
    return {"months": months}


ACTIVITY_MODELS = (Case, Incident, Source, Defender, Organization, Perpetrator)


def coordinator_home(user) -> dict:
    now = timezone.now()
    week = now - datetime.timedelta(days=7)
    activity = {}
    for model in ACTIVITY_MODELS:
        counts = (
            model.history.filter(history_date__gte=week, history_user__isnull=False)
            .values_list("history_user__username")
            .annotate(n=Count("history_id"))
        )
        for username, n in counts:
            activity[username] = activity.get(username, 0) + n
    checks = SecurityEvent.objects.filter(
        kind__in=[SecurityEvent.Kind.AUDIT_ANCHOR, SecurityEvent.Kind.AUDIT_BROKEN]
    )
    return {
        "activity": sorted(activity.items(), key=lambda item: -item[1]),
        "locked": AccessAttempt.objects.filter(
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT
        ).order_by("-attempt_time")[:LIST],
        "expiring_keys": ApiKey.objects.usable(now=now)
        .filter(expires_at__lte=now + datetime.timedelta(days=30))
        .select_related("ally")
        .order_by("expires_at")[:LIST],
        "last_check": checks.order_by("-occurred_at").first(),
    }


HOMES = {
    "Documentalista": documentalist_home,
    "Revisor": reviewer_home,
    "Analista": analyst_home,
    "Coordinador": coordinator_home,
}
