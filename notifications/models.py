"""Notifications: what the system told each person (in the app, and by e-mail if they chose
it), and how each person wants to be told."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from notifications.kinds import MESSAGES, Kind


class Notification(models.Model):
    """One thing told to one person. `key` says what it is about, so that it is told once:
    the same key is never stored twice for the same person."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    kind = models.CharField(_("kind"), max_length=24, choices=Kind)
    key = models.CharField(_("about"), max_length=200)
    # The message's values, already as the recipient may see them (a protected defender by
    # pseudonym unless they may know who it is).
    params = models.JSONField(_("values"), default=dict)
    url = models.CharField(_("address"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    shown_in_app = models.BooleanField(_("shown in the app"), default=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "key"], name="notification_once"),
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_unread_idx"),
        ]

    def __str__(self):
        return self.text

    @property
    def text(self) -> str:
        """The message in the active language."""
        try:
            return str(MESSAGES[self.kind] % self.params)
        except (KeyError, TypeError, ValueError):
            return str(Kind(self.kind).label)


class Preferences(models.Model):
    """How a person wants to be told: per kind, in the app and/or by e-mail (absent: the
    kind's defaults), and the language of their e-mails."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("language of e-mails"), max_length=8, choices=settings.LANGUAGES, default="es"
    )
    # {kind: ["app", "email"]}: only the kinds the person changed.
    channels = models.JSONField(_("channels"), default=dict, blank=True)

    class Meta:
        verbose_name = _("notification preferences")
        verbose_name_plural = _("notification preferences")

    def __str__(self):
        return str(self.user)


def language_of(user, preferences=None) -> str:
    """The language `user` reads notifications in (their choice, else the site's;
    `preferences`: theirs, if already read)."""
    preferences = preferences or Preferences.objects.filter(user=user).first()
    return preferences.language if preferences is not None else settings.LANGUAGE_CODE
