"""Reads of the lawyers' tracker: dashboard sections, a detention's timeline, the calendar
feed and whose private link a token is."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from legal.models import (
    PRETRIAL_LIMIT_YEARS,
    CalendarToken,
    Detention,
    Hearing,
    Proceeding,
    add_years,
    token_digest,
)

UPCOMING_DAYS = 14
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
        "detained": detentions.current().order_by("arrested_on", "pk"),
        "upcoming": hearings.filter(
            scheduled_on__range=(today, today + datetime.timedelta(days=UPCOMING_DAYS))
        ).order_by("scheduled_on", "scheduled_at"),
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
    proceedings = proceedings_of(detention, user).prefetch_related("hearings", "legal_actions")
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
        for action in proceeding.legal_actions.all():
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
        events.append(
            Event(
                detention.released_on,
                "release",
                _("Released (%(kind)s).")
                % {"kind": detention.get_release_kind_display() or _("kind not recorded")},
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
    return (
        Hearing.objects.filter(proceeding__in=followed)
        .select_related("proceeding")
        .order_by("scheduled_on", "pk")
    )


def calendar_user(token: str):
    """The active user a feed token belongs to, or None."""
    found = (
        CalendarToken.objects.filter(
            digest=token_digest(token), revoked_at__isnull=True, user__is_active=True
        )
        .select_related("user")
        .first()
    )
    return found.user if found else None
