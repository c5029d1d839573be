from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SecurityEvent(models.Model):
    """What happened to staff access: logins, failures, lockouts, resets, exports."""

    class Kind(models.TextChoices):
        LOGIN = "login", _("Login")
        LOGOUT = "logout", _("Logout")
        LOGIN_FAILED = "login_failed", _("Failed login")
        OTP_FAILED = "otp_failed", _("Failed second factor")
        LOCKOUT = "lockout", _("Account locked")
        UNLOCK = "unlock", _("Account unlocked")
        DEVICE_RESET = "device_reset", _("Second factor reset")
        PERMISSION_CHANGE = "permission_change", _("Permissions changed")
        EXPORT = "export", _("Export")
        TEAM_CHANGE = "team_change", _("Case team changed")
        AUDIT_ANCHOR = "audit_anchor", _("Audit chain anchored")
        AUDIT_BROKEN = "audit_broken", _("Audit chain broken")
        DEACTIVATED = "deactivated", _("Account deactivated")

    kind = models.CharField(_("event"), max_length=32, choices=Kind)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="security_events",
        verbose_name=_("user"),
    )
    username = models.CharField(
        _("username"), max_length=150, blank=True, help_text=_("As typed, for failed logins.")
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security log")
        ordering = ["-occurred_at"]
        indexes = [
            # The coordinators' log is read newest first; pruning deletes the oldest.
            models.Index(fields=["occurred_at"], name="accounts_event_time_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} — {self.username or self.user} — {self.occurred_at}"
