"""Reads of the lawyers' tracker: dashboard sections, a detention's timeline, the calendar
feed and whose private link a token is."""

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Count, F, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Incident
from legal.models import (
    PRETRIAL_LIMIT_YEARS,
    CalendarToken,
    Detention,
    Hearing,
    LegalAction,
    Proceeding,
    add_years,
    token_digest,
)

UPCOMING_DAYS = 14
CALENDAR_PAST_DAYS = 30  # the calendar feed leaves out hearings older than this
NO_NEWS_DAYS = 30
RECENT_RELEASE_DAYS = 30


def dashboard(*, user, lawyer_id: int | None = None, state: str = "") -> dict:
    """The sections of /legal/, each a queryset the page iterates once."""
    today = timezone.localdate()
    detentions = Detention.objects.visible_to(user).select_related(
        "incident__defender", "incident__organization", "incident__case", "lawyer"
    )
    proceedings = Proceeding.objects.visible_to(user)
    if lawyer_id:
        detentions = detentions.filter(lawyer_id=lawyer_id)
        proceedings = proceedings.filter(lawyer_id=lawyer_id)
    if state:
        detentions = detentions.filter(incident__state=state)
        proceedings = proceedings.filter(incidents__state=state).distinct()
    hearings = Hearing.objects.filter(proceeding__in=proceedings).select_related("proceeding")
    pretrial_cutoff = add_years(today, -PRETRIAL_LIMIT_YEARS)
    return {
        "detained": with_next_hearing(detentions.current(), user).order_by("arrested_on", "pk"),
        "upcoming": hearings.filter(
            scheduled_on__range=(today, today + datetime.timedelta(days=UPCOMING_DAYS))
        )
        .prefetch_related("proceeding__defendants")
        .order_by("scheduled_on", "scheduled_at"),
        "pretrial_overdue": proceedings.filter(pretrial_detention_since__lte=pretrial_cutoff)
        .exclude(stage__in=Proceeding.ENDED_STAGES)
        .annotate(deferrals=Count("hearings", filter=Q(hearings__held=False)))
        .order_by("pretrial_detention_since"),
        "hearings_without_outcome": hearings.filter(
            scheduled_on__lt=today, held__isnull=True
        ).order_by("scheduled_on"),
        "no_news": detentions.current()
        .filter(
            Q(last_news_on__lt=today - datetime.timedelta(days=NO_NEWS_DAYS))
            | Q(
                last_news_on__isnull=True,
                arrested_on__lt=today - datetime.timedelta(days=NO_NEWS_DAYS),
            )
        )
        .order_by("last_news_on"),
        "released": detentions.filter(
            released_on__gte=today - datetime.timedelta(days=RECENT_RELEASE_DAYS)
        ).order_by("-released_on"),
        # Everyone who was released, longest detention first: the record lawyers cite.
        "past": detentions.filter(status__in=Detention.FREE_STATUSES).order_by("arrested_on", "pk"),
    }


LAWYER_ROLE = "Abogado"


def legal_team():
    """Active staff accounts that follow detentions (lawyers, coordinators): the dashboard's
    and agenda's filters, and who is told when a detention has no lawyer of its own."""
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(Q(groups__permissions__codename="follow_detentions") | Q(is_superuser=True))
        .distinct()
    )


def lawyer_accounts():
    """Who may be a record's lawyer: active accounts with the lawyer role, and anyone who
    already is one (so that an older record still saves)."""
    return (
        get_user_model()
        .objects.filter(
            Q(is_active=True, groups__name=LAWYER_ROLE)
            | Q(detentions_followed__isnull=False)
            | Q(proceedings_followed__isnull=False)
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def pending_hearings(user):
    """Hearings still to come or not yet known (held is empty), of the court cases `user`
    may see."""
    return Hearing.objects.filter(
        proceeding__in=Proceeding.objects.visible_to(user),
        held__isnull=True,
        scheduled_on__gte=timezone.localdate(),
    )


def with_next_hearing(detentions, user):
    """Each detention with the date and time of the next hearing of a court case behind it
    that `user` may see (`next_hearing_on`, `next_hearing_at`; None if there is none)."""
    upcoming = pending_hearings(user).filter(proceeding__incidents=OuterRef("incident_id"))
    upcoming = upcoming.order_by("scheduled_on", F("scheduled_at").asc(nulls_last=True), "pk")
    return detentions.annotate(
        next_hearing_on=Subquery(upcoming.values("scheduled_on")[:1]),
        next_hearing_at=Subquery(upcoming.values("scheduled_at")[:1]),
    )


def week_start(day: datetime.date) -> datetime.date:
    """The Monday of `day`'s week."""
    return day - datetime.timedelta(days=day.weekday())


def agenda(*, user, start: datetime.date, lawyer_id: int | None = None) -> list[dict]:
    """The seven days from `start` (a Monday), each with its hearings in time order (those
    without a time last): the court cases `user` may see, or only those a lawyer follows
    (their own, or a detention of theirs). Each hearing carries its court case's detentions
    that `user` may see (`detentions`), for their names and timelines."""
    end = start + datetime.timedelta(days=6)
    proceedings = Proceeding.objects.visible_to(user)
    if lawyer_id:
        proceedings = proceedings.filter(
            Q(lawyer_id=lawyer_id) | Q(incidents__detention__lawyer_id=lawyer_id)
        )
    detentions = Detention.objects.visible_to(user).select_related(
        "incident__defender", "incident__organization", "lawyer"
    )
    hearings = (
        Hearing.objects.filter(
            proceeding__in=proceedings.values("pk"), scheduled_on__range=(start, end)
        )
        .select_related("proceeding__lawyer")
        .prefetch_related(
            Prefetch(
                "proceeding__incidents",
                queryset=Incident.objects.filter(detention__in=detentions).select_related(
                    "detention"
                ),
                to_attr="detained_incidents",
            )
        )
    )
    days = {start + datetime.timedelta(days=n): [] for n in range(7)}
    for hearing in sorted(
        hearings,
        key=hearing_order,
    ):
        hearing.detentions = [i.detention for i in hearing.proceeding.detained_incidents]
        days[hearing.scheduled_on].append(hearing)
    return [{"day": day, "hearings": listed} for day, listed in days.items()]


def hearing_order(hearing: Hearing) -> tuple:
    """Hearings by day, then time; on a day, those without a time last."""
    return (
        hearing.scheduled_on,
        hearing.scheduled_at is None,
        hearing.scheduled_at or datetime.time.min,
        hearing.pk,
    )


def with_next_hearings(proceedings) -> list:
    """Each court case with its next hearing still to come (`next_hearing`, or None)."""
    pending = Hearing.objects.filter(scheduled_on__gte=timezone.localdate(), held__isnull=True)
    listed = list(
        proceedings.prefetch_related(Prefetch("hearings", queryset=pending, to_attr="pending"))
    )
    for proceeding in listed:
        proceeding.next_hearing = min(proceeding.pending, key=hearing_order, default=None)
    return listed


@dataclass
class Event:
    on: datetime.date
    kind: str
    text: str
    deferred: bool = False


def proceedings_of(detention: Detention, user):
    """The court cases behind a detention that `user` may see: a court case that also
    concerns a restricted incident is theirs only if they may see that one too."""
    return Proceeding.objects.visible_to(user).filter(incidents=detention.incident)


def timeline(detention: Detention, user) -> list[Event]:
    """A detention's story, oldest first: arrest, news, transfers, status changes (from the
    history), hearings held and deferred, legal actions, release."""
    events = [
        Event(
            detention.arrested_on,
            "arrest",
            _("Arrested by %(body)s in %(place)s.")
            % {
                "body": detention.arresting_body or _("unknown"),
                "place": detention.arrest_place or "—",
            },
        )
    ]
    if detention.incommunicado_until:
        events.append(
            Event(
                timezone.localdate(detention.incommunicado_until),
                "incommunicado",
                _("First news after %(hours)d hours incommunicado.")
                % {"hours": detention.incommunicado_hours},
            )
        )
    for transfer in detention.transfers.all():
        events.append(
            Event(
                transfer.moved_on, "transfer", _("Moved to %(place)s.") % {"place": transfer.place}
            )
        )
    previous = None
    for record in detention.history.order_by("history_id"):
        if previous is not None and record.status != previous.status:
            events.append(
                Event(
                    timezone.localdate(record.history_date),
                    "status",
                    _("Status: %(old)s → %(new)s.")
                    % {
                        "old": Detention.Status(previous.status).label,
                        "new": Detention.Status(record.status).label,
                    },
                )
            )
        previous = record
    proceedings = proceedings_of(detention, user).prefetch_related("hearings")
    for proceeding in proceedings:
        for hearing in proceeding.hearings.all():
            if hearing.held is False:
                text = _("%(kind)s deferred: %(reason)s.") % {
                    "kind": hearing.get_kind_display(),
                    "reason": hearing.get_deferral_reason_display(),
                }
            elif hearing.held:
                text = _("%(kind)s held.") % {"kind": hearing.get_kind_display()}
                if hearing.outcome:
                    text += f" {hearing.outcome}"
            else:
                text = _("%(kind)s scheduled.") % {"kind": hearing.get_kind_display()}
            events.append(
                Event(hearing.scheduled_on, "hearing", text, deferred=hearing.held is False)
            )
    actions = LegalAction.objects.visible_to(user).filter(
        Q(proceeding__in=proceedings)
        | Q(detention=detention)
        | Q(defender_id=detention.incident.defender_id, defender__isnull=False)
    )
    for action in actions.distinct():
        events.append(
            Event(
                action.filed_on,
                "action",
                _("%(kind)s before %(body)s: %(status)s.")
                % {
                    "kind": action.get_kind_display(),
                    "body": action.body,
                    "status": action.get_status_display(),
                },
            )
        )
    if detention.released_on:
        known = detention.release_kind not in ("", Detention.ReleaseKind.NOT_RECORDED)
        events.append(
            Event(
                detention.released_on,
                "release",
                _("Released (%(kind)s).") % {"kind": detention.get_release_kind_display()}
                if known
                else _("Released."),
            )
        )
    return sorted(events, key=lambda event: event.on)


def calendar_hearings(user):
    """Hearings of the court cases this lawyer follows (or of detentions they follow), among
    those they may see: following a court case does not open a restricted case to them."""
    followed = (
        Proceeding.objects.visible_to(user)
        .filter(Q(lawyer=user) | Q(incidents__detention__lawyer=user))
        .values("pk")
    )
    since = timezone.localdate() - datetime.timedelta(days=CALENDAR_PAST_DAYS)
    return (
        Hearing.objects.filter(proceeding__in=followed, scheduled_on__gte=since)
        .select_related("proceeding")
        .prefetch_related(
            Prefetch(
                "proceeding__incidents",
                queryset=Incident.objects.visible_to(user).select_related("case"),
                to_attr="visible_incidents",
            )
        )
        .order_by("scheduled_on", "pk")
    )


def calendar_token(token: str) -> CalendarToken | None:
    """The live feed token of an active user, or None."""
    return (
        CalendarToken.objects.filter(
            digest=token_digest(token), revoked_at__isnull=True, user__is_active=True
        )
        .select_related("user")
        .first()
    )
