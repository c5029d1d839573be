"""Writes of the lawyers' tracker: keyword-only, atomic, versioned and attributed in the
history (core.records.record_save), each with what it did as its reason."""

import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cases import services as case_services
from cases.models import Case, Incident, Involvement
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
from organizations.models import Defender, Perpetrator
from organizations.services import defender_save


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


@transaction.atomic
def arrest_open(
    *,
    user: AbstractBaseUser,
    full_name: str,
    identity_protected: bool = False,
    arrested_on,
    arrested_at=None,
    arrest_place: str = "",
    state: str = "",
    arresting_body: Perpetrator | None = None,
    place_of_detention: str = "",
    status: str = Detention.Status.DETAINED,
    counsel: str = Detention.Counsel.NONE,
    summary: str = "",
    confidentiality: str = Case.Confidentiality.INTERNAL,
    source: dict,
) -> Detention:
    """A lawyer who learns of an arrest opens its record at once: a case with its
    arbitrary-detention incident, the source it is known from and the detention (followed
    by this lawyer), sent to review like any case: it counts only once a reviewer verifies
    it. The person is a new record (a likely duplicate is merged as any other)."""
    if not user.has_perm("legal.follow_detentions"):
        raise ValidationError(_("Only the legal team opens arrests here."), code="forbidden")
    reason = _("Arrest opened by the legal team")
    defender = Defender(
        full_name=full_name.strip(), state=state, identity_protected=identity_protected
    )
    defender_save(defender=defender, user=user, reason=reason)
    # A protected person's name stays out of the title, which every staff member reads.
    named = defender.pseudonym if identity_protected else defender.full_name
    case = case_services.case_create(
        user=user,
        title=_("Arrest of %(name)s, %(date)s") % {"name": named, "date": date_format(arrested_on)},
        summary=summary,
        confidentiality=confidentiality,
        state=state,
        place=arrest_place,
        reason=reason,
    )
    incident = case_services.incident_create(
        user=user,
        case=case,
        type=Incident.Type.ARBITRARY_DETENTION,
        occurred_on=arrested_on,
        defender=defender,
        state=state,
        perpetrators=[(arresting_body, Involvement.Role.PERPETRATED)] if arresting_body else (),
        reason=reason,
    )
    case_services.source_create(user=user, case=case, reason=reason, **source)
    detention = Detention(
        incident=incident,
        arrested_on=arrested_on,
        arrested_at=arrested_at,
        arrest_place=arrest_place,
        arresting_body=arresting_body,
        place_of_detention=place_of_detention,
        status=status,
        counsel=counsel,
        lawyer=user,
    )
    detention_save(detention=detention, user=user, reason=reason)
    case_services.case_submit_for_review(case=case, user=user, reason=reason)
    return detention
