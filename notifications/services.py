"""Telling people things: `notify` stores each notification once per person and queues its
e-mail; a person's preferences say which kinds reach them and by which channel."""

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from simple_history.models import HistoricalRecords

from notifications.kinds import DEFAULT_CHANNELS, Channel, Kind
from notifications.models import Notification, Preferences, language_of


def channels_for(user: AbstractBaseUser, kind: str, preferences=None) -> set[str]:
    """The channels by which `user` wants to be told of `kind` (`preferences`: theirs, if
    already read)."""
    preferences = preferences or Preferences.objects.filter(user=user).first()
    if preferences is not None and kind in preferences.channels:
        return set(preferences.channels[kind]) & set(Channel.values)
    return set(DEFAULT_CHANNELS[Kind(kind)])


def notify(
    *,
    kind: str,
    recipients: Iterable[AbstractBaseUser],
    key: str,
    params,
    url: str = "",
    by: AbstractBaseUser | None = None,
) -> list[Notification]:
    """Tell each recipient (active staff only) about `key`, once: a key already told to a
    person is not told again. `params`: the message's values, or a function of the
    recipient giving them (for what depends on what that person may see), made in the
    recipient's language. Whoever caused it (`by`, else the user of the request being
    served) is not told of their own act. Returns the notifications made now."""
    made = []
    actor = by or acting_user()
    for user in {user.pk: user for user in recipients}.values():
        if actor is not None and user.pk == actor.pk:
            continue
        if (
            not (user.is_active and user.is_staff)
            or user.get_username() == settings.SYSTEM_USERNAME
        ):
            continue
        preferences = Preferences.objects.filter(user=user).first()  # read once for both
        channels = channels_for(user, kind, preferences)
        if not channels or Notification.objects.filter(recipient=user, key=key).exists():
            continue
        with translation.override(language_of(user, preferences)):  # dates and labels in theirs
            values = params(user) if callable(params) else params
        try:
            with transaction.atomic():
                notification = Notification.objects.create(
                    recipient=user,
                    kind=kind,
                    key=key,
                    params=values,
                    url=url,
                    shown_in_app=Channel.APP in channels,
                )
        except IntegrityError:  # told a moment ago by another worker
            continue
        if Channel.EMAIL in channels and user.email:
            from notifications.tasks import send_email

            transaction.on_commit(lambda pk=notification.pk: send_email.enqueue(pk))
        made.append(notification)
    return made


def acting_user():
    """Who is making the current request, if one is being served (simple-history's
    middleware keeps it): the author of a change made through the admin."""
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def notifications_read(*, user: AbstractBaseUser, ids: Iterable[int] | None = None) -> int:
    """Mark `user`'s notifications (these, or all) as read. Returns how many were unread."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())


def preferences_save(
    *, user: AbstractBaseUser, language: str, channels: dict[str, list[str]]
) -> Preferences:
    """Store how `user` wants to be told (every kind, each with its channels)."""
    preferences, _created = Preferences.objects.get_or_create(user=user)
    preferences.language = language
    preferences.channels = {
        kind: sorted(set(chosen) & set(Channel.values))
        for kind, chosen in channels.items()
        if kind in Kind.values
    }
    preferences.full_clean()
    preferences.save()
    return preferences


def names_refresh(*, subject: str, name_for) -> int:
    """The notifications about a person (params["defender"] == `subject`) show each reader
    `name_for(reader)`, in the reader's language: what they may see now. Returns how many
    changed."""
    changed = 0
    for notification in Notification.objects.filter(params__defender=subject).select_related(
        "recipient"
    ):
        with translation.override(language_of(notification.recipient)):
            name = str(name_for(notification.recipient))
        if notification.params.get("name") != name:
            notification.params = {**notification.params, "name": name}
            notification.save(update_fields=["params"])
            changed += 1
    return changed
