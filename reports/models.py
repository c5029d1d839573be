import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cases.storage import source_storage
from core.audit import AuditedQuerySet, ChainedHistory


def bulletin_upload_to(snapshot: "MonthlySnapshot", filename: str) -> str:
    return f"bulletins/{snapshot.period:%Y-%m}-v{snapshot.version}-{uuid.uuid4().hex[:8]}.pdf"


class MonthlySnapshot(models.Model):
    """A month's figures as a reviewer published them. Never changed: a later publication
    of the same month is a new version; later reports show as a revision beside it."""

    period = models.DateField(_("month"), help_text=_("First day of the month."))
    version = models.PositiveIntegerField(_("version"), default=1)
    figures = models.JSONField(_("figures"))
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("published by"),
    )
    published_at = models.DateTimeField(_("published at"), default=timezone.now)
    # The bulletin as published, frozen with the figures (reports.bulletin.bulletin_pdf).
    pdf = models.FileField(
        _("bulletin (PDF)"), storage=source_storage, upload_to=bulletin_upload_to, blank=True
    )
    pdf_sha256 = models.CharField(_("SHA-256 of the PDF"), max_length=64, blank=True)

    # Added after the first release (core.audit.ChainedHistory._added_later).
    HISTORY_ADDED_LATER = {"pdf": "", "pdf_sha256": ""}
    objects = AuditedQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("published month")
        verbose_name_plural = _("published months")
        ordering = ["-period", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "version"], name="reports_snapshot_unique_version"
            ),
        ]
        permissions = [
            ("view_reports", _("Can see reports")),
            ("publish_month", _("Can publish a month's figures")),
        ]

    def __str__(self):
        return f"{self.period:%Y-%m} v{self.version}"
