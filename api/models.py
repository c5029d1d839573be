"""Allied organizations, their API keys and the log of what they took."""

import hashlib
import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from core.audit import AuditedQuerySet, ChainedHistory, Versioned


class Ally(Versioned):
    """An allied organization (another NGO, a rapporteur's team, researchers) that pulls
    our published data over the API with its own keys."""

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=255)
    contact_name = models.CharField(_("contact person"), max_length=255, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("An inactive ally's keys are all refused.")
    )
    notes = models.TextField(_("notes"), blank=True, help_text=_("Agreement, purpose, limits."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = AuditedQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("ally")
        verbose_name_plural = _("allies")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="api_ally_unique_name",
                violation_error_message=_("An ally with this name already exists."),
            ),
        ]

    def __str__(self):
        return self.name


class ApiKeyQuerySet(AuditedQuerySet):
    def usable(self, *, now=None):
        """Keys that open the API now: not revoked, not expired, ally active."""
        return self.filter(
            revoked_at__isnull=True,
            expires_at__gt=now or timezone.now(),
            ally__active=True,
        )


class ApiKey(models.Model):
    """A secret an ally sends as `Authorization: Bearer <key>`. Only its SHA-256 is
    stored: the key itself is shown once, when it is created."""

    PREFIX = "dfs"

    ally = models.ForeignKey(
        Ally, on_delete=models.PROTECT, related_name="keys", verbose_name=_("ally")
    )
    name = models.CharField(
        _("label"), max_length=100, blank=True, help_text=_("E.g. the tool or person using it.")
    )
    # The key's first characters, stored in clear to find the row without a table scan
    # and to let staff tell keys apart; the rest is only hashed.
    lookup = models.CharField(_("key prefix"), max_length=16, unique=True, editable=False)
    hashed = models.CharField(_("key hash"), max_length=64, editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by"),
    )

    objects = ApiKeyQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.PREFIX}_{self.lookup}…"

    @staticmethod
    def hash(secret: str) -> str:
        # The key is 256 random bits: a plain SHA-256 cannot be brute-forced, and unlike a
        # password hash it costs nothing per request.
        return hashlib.sha256(secret.encode()).hexdigest()


class ApiRequest(models.Model):
    """One API request: who (ally key or staff user), what, which filters, how many rows.
    Read by coordinators; written once per request."""

    at = models.DateTimeField(_("when"), auto_now_add=True)
    ally = models.ForeignKey(
        Ally,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("ally"),
    )
    key = models.ForeignKey(
        ApiKey,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("API key"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff user"),
    )
    endpoint = models.CharField(_("endpoint"), max_length=100)
    path = models.CharField(_("path"), max_length=500)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    status_code = models.PositiveSmallIntegerField(_("status"))
    rows = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("API request")
        verbose_name_plural = _("API requests")
        ordering = ["-at"]
        indexes = [
            # The keys' "last used" column and the per-key log: newest request of a key.
            models.Index(fields=["key", "-at"], name="api_apirequest_key_idx"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.endpoint} ({self.status_code})"
