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
from core.encryption import EncryptedTextField


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


class Webhook(Versioned):
    """An ally's HTTPS endpoint: every entry of the changes feed the ally may see is POSTed
    to it, signed with its secret (api/webhooks.py). Registered by a coordinator."""

    ally = models.ForeignKey(
        Ally, on_delete=models.PROTECT, related_name="webhooks", verbose_name=_("ally")
    )
    url = models.URLField(
        _("address"),
        max_length=500,
        help_text=_("HTTPS only, on a public address: the ally's receiver."),
    )
    # Signs each delivery (HMAC-SHA256); shown once, when it is made. Never in the history.
    secret = EncryptedTextField(_("secret"), editable=False)
    active = models.BooleanField(_("active"), default=True)
    # The changes up to this moment have been collected for delivery.
    synced_until = models.DateTimeField(_("collected until"), default=timezone.now, editable=False)
    failing_since = models.DateTimeField(
        _("failing since"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Set when a delivery was given up; cleared by the next one that arrives."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = AuditedQuerySet.as_manager()
    # The secret never enters the history; nor does the bookkeeping of deliveries, written
    # every minute (api.webhooks._bookkeep).
    history = HistoricalRecords(
        bases=[ChainedHistory], excluded_fields=["secret", "synced_until", "failing_since"]
    )

    class Meta:
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")
        ordering = ["ally__name", "url"]
        constraints = [
            # Twice the same endpoint would get every change twice (a form sent again).
            models.UniqueConstraint(
                fields=["ally", "url"],
                name="api_webhook_unique_endpoint",
                violation_error_message=_("This ally already has a webhook at this address."),
            ),
        ]

    def __str__(self):
        return f"{self.ally} — {self.url}"


class WebhookDelivery(models.Model):
    """One changes-feed entry to POST to one webhook, and how its sending went."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENT = "sent", _("Delivered")
        FAILED = "failed", _("Given up")
        REPLACED = "replaced", _("Replaced by a later one")

    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("webhook")
    )
    event_id = models.UUIDField(_("event id"), default=uuid.uuid4, unique=True, editable=False)
    record_id = models.CharField(_("record"), max_length=64)
    payload = models.JSONField(_("entry"))
    digest = models.CharField(_("digest"), max_length=64)
    state = models.CharField(_("state"), max_length=8, choices=State, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_status = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="api_delivery_due_idx"),
            models.Index(fields=["webhook", "record_id"], name="api_delivery_record_idx"),
        ]

    def __str__(self):
        return f"{self.event_id} ({self.get_state_display()})"
