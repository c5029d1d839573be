"""Lockout that cannot be turned against staff (django-axes, configured in settings).

Failures are counted per username and address together: someone else's typos, or an
outsider guessing a coordinator's password from elsewhere, never lock that coordinator out.
A lock cools off by itself, after 15 minutes the first time in a day and twice as long each
time after (up to a day); a coordinator may lift it at once from the admin."""

import datetime

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.utils import timezone

from accounts.models import SecurityEvent

FIRST_COOL_OFF = datetime.timedelta(minutes=15)
LONGEST_COOL_OFF = datetime.timedelta(days=1)
REMEMBERED = datetime.timedelta(days=1)  # how far back earlier lockouts make the next longer


def cool_off_for(username: str, address: str | None) -> datetime.timedelta:
    """15 minutes, doubled for each earlier lockout of this username from this address in
    the last day (the security log keeps them)."""
    lockouts = SecurityEvent.objects.filter(
        kind=SecurityEvent.Kind.LOCKOUT,
        username=username or "",
        details__counted_as=address,
        occurred_at__gte=timezone.now() - REMEMBERED,
    ).count()
    return min(FIRST_COOL_OFF * 2 ** max(lockouts - 1, 0), LONGEST_COOL_OFF)


def _username(request, credentials=None) -> str:
    if credentials is None:
        credentials = getattr(request, "axes_credentials", None)
    if credentials is None:
        # The login wizard's first step posts "auth-username".
        return request.POST.get("auth-username") or request.POST.get("username") or ""
    return get_client_username(request, credentials) or ""


def cool_off(request=None) -> datetime.timedelta:
    """AXES_COOLOFF_TIME: the cool-off of this request's username and address."""
    if request is None:
        return FIRST_COOL_OFF
    return cool_off_for(_username(request), getattr(request, "axes_ip_address", None))


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler, with each username and address's cool-off its own: axes would
    apply the cool-off of whoever signs in next to everybody's failures."""

    def _threshold(self, request, credentials) -> datetime.datetime:
        username = _username(request, credentials)
        return timezone.now() - cool_off_for(username, request.axes_ip_address)

    def get_user_attempts(self, request, credentials=None):
        threshold = self._threshold(request, credentials)
        return [
            attempts.filter(attempt_time__gte=threshold)
            for attempts in self.filter_user_attempts(request, credentials)
        ]

    def clean_expired_user_attempts(self, request=None, credentials=None) -> int:
        if request is None:
            return 0
        expired = AccessAttempt.objects.filter(
            username=_username(request, credentials),
            ip_address=request.axes_ip_address,
            attempt_time__lte=self._threshold(request, credentials),
        )
        count = 0
        for attempt in expired:
            attempt._unlocked_by = ""  # the cool-off ended it (accounts.signals logs it)
            attempt.delete()
            count += 1
        return count
