"""Writes on staff accounts and the security log."""

import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import devices_for_user

from accounts.addresses import client_address
from accounts.models import SecurityEvent
from accounts.roles import ROLES


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's full address (accounts.addresses), as the security log records it."""
    return client_address(request)


def security_event_record(
    *,
    kind: str,
    request: HttpRequest | None = None,
    user: AbstractBaseUser | None = None,
    username: str = "",
    **details,
) -> SecurityEvent:
    if user is not None and not user.is_authenticated:
        user = None
    return SecurityEvent.objects.create(
        kind=kind,
        user=user,
        username=username or (user.get_username() if user is not None else ""),
        ip_address=client_ip(request),
        details=details,
    )


@transaction.atomic
def user_reset_second_factor(*, user: AbstractBaseUser, by: AbstractBaseUser) -> int:
    """Remove every second-factor device (TOTP, backup codes) of `user`, who must enroll
    again at the next login. Returns how many devices were removed."""
    devices = list(devices_for_user(user, confirmed=None))
    for device in devices:
        device.delete()
    security_event_record(
        kind=SecurityEvent.Kind.DEVICE_RESET, user=user, by=by.get_username(), devices=len(devices)
    )
    return len(devices)


def system_user() -> AbstractBaseUser:
    """The named user that commands act as in the history (it cannot log in)."""
    user, created = get_user_model().objects.get_or_create(
        username=settings.SYSTEM_USERNAME, defaults={"is_active": False, "first_name": "Sistema"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def security_log_prune(*, now: datetime.datetime | None = None) -> int:
    """Delete events older than SECURITY_LOG_RETENTION_DAYS. Returns how many."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.SECURITY_LOG_RETENTION_DAYS)
    deleted, _ = SecurityEvent.objects.filter(occurred_at__lt=cutoff).delete()
    return deleted


@transaction.atomic
def access_attempts_unlock(*, attempts, by: AbstractBaseUser) -> int:
    """Lift these lockouts now (a coordinator, from the admin). Each is in the security log
    with who lifted it. Returns how many."""
    count = 0
    for attempt in attempts:
        attempt._unlocked_by = by.get_username()
        attempt.delete()
        count += 1
    return count


@transaction.atomic
@transaction.atomic
def user_role_set(*, user: AbstractBaseUser, role: str | None, by: AbstractBaseUser | None) -> None:
    """Give the account exactly one role (its group), or none. The account is staff exactly
    when it has a role; the security log names who changed it (accounts.signals)."""
    if role and role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    user._changed_by = by
    user.is_staff = bool(role)
    user.save(update_fields=["is_staff"])
    user.groups.set([Group.objects.get(name=role)] if role else [])


def user_deactivate(*, user: AbstractBaseUser, by: AbstractBaseUser, request=None) -> bool:
    """The account can no longer sign in; it is kept, so that every history row keeps its
    author. Nobody deactivates themselves. Returns whether it was active."""
    if user.pk == by.pk or not user.is_active:
        return False
    user.is_active = False
    user.save(update_fields=["is_active"])
    security_event_record(
        kind=SecurityEvent.Kind.DEACTIVATED, request=request, user=user, by=by.get_username()
    )
    return True
