"""What the lawyers' tracker tells people (notifications.services.notify): a new detention
in their caseload, at once; and, each time `notify_due` runs (hourly, from cron), no contact
24 hours after an arrest, a hearing tomorrow, and the two-year limit of pre-trial detention
30 days ahead. Each reaches only people who may see the record, by the name they may see."""

import datetime

from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _

from legal import selectors
from legal.models import PRETRIAL_LIMIT_YEARS, Detention, Hearing, Proceeding, add_years
from notifications.kinds import Kind
from notifications.services import notify

INCOMMUNICADO_AFTER = datetime.timedelta(hours=24)
# An arrest older than this with no contact recorded is an old record, not news.
INCOMMUNICADO_WITHIN = datetime.timedelta(days=7)
PRETRIAL_WARNING_DAYS = 30


def _may_see(users, detention: Detention) -> list:
    return [u for u in users if Detention.objects.visible_to(u).filter(pk=detention.pk).exists()]


def caseload(detention: Detention) -> list:
    """Whose caseload a detention is in: its lawyer and the legal team members on its case's
    team; the whole legal team while it has neither. Only those who may see it."""
    team = set(selectors.legal_team())
    who = {detention.lawyer} if detention.lawyer else set()
    who |= set(detention.incident.case.team.all()) & team
    # Only who is still active and may see it; nobody left: the whole legal team.
    return _may_see({u for u in who if u.is_active}, detention) or _may_see(team, detention)


def _subject(detention: Detention) -> dict:
    """Whom the notice names (organizations' protection refreshes it: names_refresh)."""
    defender = detention.incident.defender
    return {"defender": str(defender.public_id)} if defender else {}


def _body(detention: Detention) -> str:
    body = detention.arresting_body
    return (body.acronym or body.name) if body else _("unknown")


def _detention_url(detention: Detention) -> str:
    return reverse("legal:detention", args=[detention.public_id])


def detention_opened(detention: Detention, *, by=None) -> None:
    """A detention was recorded: its caseload is told (not whoever recorded it)."""
    notify(
        kind=Kind.NEW_DETENTION,
        recipients=caseload(detention),
        by=by,
        key=f"new-detention:{detention.pk}",
        params=lambda user: {
            "name": detention.target_name_for(user),
            "date": date_format(detention.arrested_on),
            "body": _body(detention),
            **_subject(detention),
        },
        url=_detention_url(detention),
    )


def incommunicado_due(now: datetime.datetime) -> int:
    """Arrests of the past week with no contact recorded 24 hours after them."""
    told = 0
    candidates = (
        Detention.objects.current()
        .filter(
            incommunicado_until__isnull=True,
            arrested_on__gte=(now - INCOMMUNICADO_WITHIN).date(),
            arrested_on__lte=(now - INCOMMUNICADO_AFTER).date(),
        )
        .filter(Q(last_news_on__isnull=True) | Q(last_news_on__lte=F("arrested_on")))
        .select_related("incident__defender", "incident__organization", "incident__case", "lawyer")
    )
    for detention in candidates:
        arrested = timezone.make_aware(
            datetime.datetime.combine(
                detention.arrested_on, detention.arrested_at or datetime.time(0)
            )
        )
        if now - arrested < INCOMMUNICADO_AFTER:
            continue
        told += len(
            notify(
                kind=Kind.INCOMMUNICADO,
                recipients=caseload(detention),
                key=f"incommunicado:{detention.pk}",
                params=lambda user, d=detention: {
                    "name": d.target_name_for(user),
                    "date": date_format(d.arrested_on),
                    **_subject(d),
                },
                url=_detention_url(detention),
            )
        )
    return told


def _followers(proceeding: Proceeding) -> list:
    """Who follows a court case: its lawyer and those of its detentions (the legal team
    while it has none), among those who may see it."""
    team = set(selectors.legal_team())
    who = {proceeding.lawyer} if proceeding.lawyer else set()
    who |= {
        d.lawyer
        for d in Detention.objects.filter(incident__in=proceeding.incidents.all())
        .exclude(lawyer=None)
        .select_related("lawyer")
    }

    def may_see(users):
        return [
            user
            for user in users
            if user.is_active
            and Proceeding.objects.visible_to(user).filter(pk=proceeding.pk).exists()
        ]

    return may_see(who) or may_see(team)


def hearings_tomorrow(today: datetime.date) -> int:
    tomorrow = today + datetime.timedelta(days=1)
    told = 0
    for hearing in Hearing.objects.filter(scheduled_on=tomorrow, held__isnull=True).select_related(
        "proceeding__lawyer"
    ):
        told += len(
            notify(
                kind=Kind.HEARING_TOMORROW,
                recipients=_followers(hearing.proceeding),
                key=f"hearing-tomorrow:{hearing.pk}:{tomorrow.isoformat()}",
                params=lambda user, h=hearing: {
                    "date": date_format(h.scheduled_on),
                    "time": (", " + time_format(h.scheduled_at, "H:i")) if h.scheduled_at else "",
                    "kind": h.get_kind_display(),
                    "court": h.proceeding.court,
                },
                url=reverse("legal:agenda") + "?week=" + ("this" if tomorrow.weekday() else "next"),
            )
        )
    return told


def pretrial_limits(today: datetime.date) -> int:
    """Court cases whose two-year limit of pre-trial detention falls in the next 30 days."""
    horizon = today + datetime.timedelta(days=PRETRIAL_WARNING_DAYS)
    told = 0
    for proceeding in (
        Proceeding.objects.exclude(stage__in=Proceeding.ENDED_STAGES)
        .filter(
            pretrial_detention_since__gte=add_years(today, -PRETRIAL_LIMIT_YEARS),
            pretrial_detention_since__lte=add_years(horizon, -PRETRIAL_LIMIT_YEARS),
        )
        .select_related("lawyer")
    ):
        limit = proceeding.pretrial_limit
        told += len(
            notify(
                kind=Kind.PRETRIAL_LIMIT,
                recipients=_followers(proceeding),
                key=f"pretrial-limit:{proceeding.pk}:{limit.isoformat()}",
                params=lambda user, p=proceeding, d=limit: {
                    "date": date_format(d),
                    "court": p.court,
                },
                url=reverse("admin:legal_proceeding_change", args=[proceeding.pk]),
            )
        )
    return told


def due(now: datetime.datetime) -> int:
    """Everything the tracker has to tell now. Returns how many notifications it made."""
    today = timezone.localdate(now)
    return incommunicado_due(now) + hearings_tomorrow(today) + pretrial_limits(today)
