"""Pairs of incidents that look like reports of the same attack, and the reviewers'
decisions about them."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cases.models.core import Incident
from core.audit import AuditedQuerySet, ChainedHistory
from organizations.models import Defender


def comparable_for(user):
    """The incidents whose likely duplicates `user` may be told about: those of cases they
    may see, against a defender they may know (a protected person's real name typed in a
    file must not be confirmed by a count)."""
    return Incident.objects.visible_to(user).filter(
        Q(defender__isnull=True) | Q(defender__in=Defender.objects.visible_to(user).values("pk"))
    )


class DuplicatePairQuerySet(AuditedQuerySet):
    def visible_to(self, user):
        # A pair with a protected person hidden from `user` is for the case team.
        visible = comparable_for(user).values("pk")
        return self.filter(first__in=visible, second__in=visible)

    def pending(self):
        return self.filter(status=DuplicatePair.Status.PENDING)


class DuplicatePair(models.Model):
    """Two incidents that look like reports of the same attack (same target, same type,
    dates close together), and the reviewer's decision about them. The pair is kept: a
    "not a duplicate" decision means it is never flagged again."""

    class Status(models.TextChoices):
        PENDING = "pending", _("To decide")
        DUPLICATE = "duplicate", _("Duplicate")
        NOT_DUPLICATE = "not_duplicate", _("Not a duplicate")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    first = models.ForeignKey(
        "cases.Incident",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("incident"),
    )
    second = models.ForeignKey(
        "cases.Incident",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("possible duplicate"),
    )
    status = models.CharField(
        _("decision"), max_length=16, choices=Status, default=Status.PENDING, editable=False
    )
    detected_at = models.DateTimeField(_("detected at"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True, editable=False)

    objects = DuplicatePairQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("possible duplicate")
        verbose_name_plural = _("possible duplicates")
        ordering = ["-detected_at", "id"]
        default_permissions = ("view",)
        constraints = [
            models.UniqueConstraint(
                fields=["first", "second"], name="cases_duplicatepair_unique_pair"
            ),
            models.CheckConstraint(
                condition=models.Q(first__lt=models.F("second")),
                name="cases_duplicatepair_ordered",
                violation_error_message=_("A pair names two different incidents, lower id first."),
            ),
        ]
        indexes = [
            # The reviewers' list: pairs still to decide.
            models.Index(fields=["status"], name="cases_duplicatepair_status_idx"),
            # Finding the pairs of one incident (its second side; `first` has the unique index).
            models.Index(fields=["second"], name="cases_duplicatepair_second_idx"),
        ]

    def __str__(self):
        # Two queries unless select_related; protected names print as pseudonyms.
        return f"{self.first} ≈ {self.second}"
