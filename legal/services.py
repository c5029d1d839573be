"""Writes of the lawyers' tracker: keyword-only, atomic, versioned and attributed in the
history (core.records.record_save), each with what it did as its reason."""

import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from core.records import record_save
from legal import notices
from legal.models import (
    CalendarToken,
    Detention,
    Hearing,
    LegalAction,
    Proceeding,
    Transfer,
    token_digest,
)


def _released_now(detention: Detention) -> bool:
    if detention.status not in Detention.FREE_STATUSES:
        return False
    if detention.pk is None:
        return True
    stored = Detention.objects.filter(pk=detention.pk).values_list("status", flat=True).first()
    return stored not in Detention.FREE_STATUSES


@transaction.atomic
def detention_save(
    *, detention: Detention, user: AbstractBaseUser | None, reason: str = ""
) -> Detention:
    """Record or update a detention. A save that frees the person says so in the history,
    whatever else it says."""
    if _released_now(detention) and detention.released_on:
        released = _("Released on %(date)s (%(kind)s)") % {
            "date": date_format(detention.released_on, "SHORT_DATE_FORMAT"),
            "kind": detention.get_release_kind_display() or _("kind not recorded"),
        }
        reason = f"{released}. {reason}" if reason else released
    opened = detention.pk is None
    record_save(detention, user=user, reason=reason or _("Detention updated"))
    if opened:
        notices.detention_opened(detention, by=user)
    return detention


@transaction.atomic
def detention_release(
    *,
    detention: Detention,
    user: AbstractBaseUser,
    released_on,
    kind: str = Detention.ReleaseKind.NOT_RECORDED,
    conditional: bool = False,
) -> Detention:
    """The person is free (or under a reporting duty): the release date and its kind."""
    detention.status = (
        Detention.Status.CONDITIONAL_RELEASE if conditional else Detention.Status.RELEASED
    )
    detention.released_on, detention.release_kind = released_on, kind
    detention.last_news_on = max(filter(None, [detention.last_news_on, released_on]))
    return detention_save(detention=detention, user=user)


@transaction.atomic
def transfer_save(*, transfer: Transfer, user: AbstractBaseUser | None, reason: str = "") -> None:
    record_save(
        transfer,
        user=user,
        reason=reason or _("Moved to %(place)s") % {"place": transfer.place},
    )


@transaction.atomic
def proceeding_save(
    *, proceeding: Proceeding, user: AbstractBaseUser | None, reason: str = ""
) -> Proceeding:
    record_save(proceeding, user=user, reason=reason or _("Court case updated"))
    return proceeding


@transaction.atomic
def hearing_save(*, hearing: Hearing, user: AbstractBaseUser | None, reason: str = "") -> Hearing:
    """Schedule a hearing or record what happened at it (held, or deferred and why)."""
    if hearing.held is False:
        what = _("Hearing deferred: %(why)s") % {"why": hearing.get_deferral_reason_display()}
    elif hearing.held:
        what = _("Hearing held")
    else:
        what = _("Hearing scheduled")
    record_save(hearing, user=user, reason=f"{what}. {reason}" if reason else what)
    return hearing


@transaction.atomic
def legal_action_save(
    *, action: LegalAction, user: AbstractBaseUser | None, reason: str = ""
) -> LegalAction:
    record_save(
        action,
        user=user,
        reason=reason
        or _("%(kind)s: %(status)s")
        % {"kind": action.get_kind_display(), "status": action.get_status_display()},
    )
    return action


@transaction.atomic
def calendar_token_create(*, user: AbstractBaseUser, with_case_numbers: bool = False) -> str:
    """A new private feed address for `user`; earlier ones stop working. Returns the token,
    shown once (only its hash is kept). `with_case_numbers`: the owner's choice that each
    hearing also names its case's number."""
    calendar_token_revoke(user=user)
    token = secrets.token_urlsafe(32)
    CalendarToken.objects.create(
        user=user, digest=token_digest(token), with_case_numbers=with_case_numbers
    )
    return token


@transaction.atomic
def calendar_token_revoke(*, user: AbstractBaseUser) -> int:
    """Every private feed address of `user` stops working. Returns how many did."""
    now = timezone.now()
    revoked = 0
    for token in CalendarToken.objects.filter(user=user, revoked_at__isnull=True):
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
        revoked += 1
    return revoked
