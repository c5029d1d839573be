"""Receivers that write the security log. The writing itself is in accounts.services."""

from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete
from django.dispatch import receiver
from simple_history.models import HistoricalRecords

from accounts.models import SecurityEvent
from accounts.services import security_event_record

User = get_user_model()


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    security_event_record(kind=SecurityEvent.Kind.LOGIN, request=request, user=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        security_event_record(kind=SecurityEvent.Kind.LOGOUT, request=request, user=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    username = credentials.get("username", "")
    security_event_record(
        kind=SecurityEvent.Kind.LOGIN_FAILED,
        request=request,
        user=User.objects.filter(username=username).first(),
        username=username,
    )


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    # Only when the lock begins: axes says it again for each attempt refused during it.
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    security_event_record(
        kind=SecurityEvent.Kind.LOCKOUT,
        request=request,
        user=User.objects.filter(username=username).first(),
        username=username or "",
        counted_as=ip_address,  # the lockout's address: an IPv6 caller's /64 network
    )


@receiver(post_delete, sender=AccessAttempt)
def _unlocked(sender, instance, **kwargs):
    # Deleting attempts below the limit (a good login after a typo) is no unlock.
    if instance.failures_since_start < settings.AXES_FAILURE_LIMIT:
        return
    # Who lifted it (accounts.services.access_attempts_unlock), or "" when it cooled off.
    by = getattr(instance, "_unlocked_by", None)
    security_event_record(
        kind=SecurityEvent.Kind.UNLOCK,
        user=User.objects.filter(username=instance.username).first(),
        username=instance.username or "",
        failures=instance.failures_since_start,
        address=instance.ip_address,
        **({"by": by} if by else {"cooled_off": True} if by == "" else {}),
    )


@receiver(m2m_changed, sender=User.groups.through)
@receiver(m2m_changed, sender=User.user_permissions.through)
@receiver(m2m_changed, sender=Group.permissions.through)
def _permissions_changed(sender, instance, action, model, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    names = sorted(str(obj) for obj in model.objects.filter(pk__in=pk_set or ()))
    target = instance.get_username() if isinstance(instance, User) else f"group {instance}"
    by = getattr(instance, "_changed_by", None) or _request_user()
    security_event_record(
        kind=SecurityEvent.Kind.PERMISSION_CHANGE,
        user=instance if isinstance(instance, User) else None,
        username=target if not isinstance(instance, User) else "",
        action=action.removeprefix("post_"),
        items=names,
        **({"by": by.get_username()} if by is not None else {}),
    )


def _request_user():
    """Who is making the current request, if a request is being served (simple-history's
    middleware keeps it): the author of a change made through the admin."""
    request = getattr(HistoricalRecords.context, "request", None)
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None
