"""Spreadsheet exports too long for a web request, made in the background and downloaded once
ready, for a limited time, by the person who asked for them only."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models.imports import TaskState
from cases.storage import source_storage


def export_upload_to(export: "IncidentExport", filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"exports/{uuid.uuid4().hex}.{extension[:10]}"


class IncidentExport(models.Model):
    """The incident list, filtered, as a file in the import template. Not a record of what
    happened, so no history: asking for it and downloading it are in the security log, and
    its file is deleted once its link expires."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("asked for by"),
    )
    created_at = models.DateTimeField(_("asked for at"), auto_now_add=True)
    filters = models.TextField(_("the list's filters"), blank=True, editable=False)
    format = models.CharField(_("format"), max_length=8, choices=Format, editable=False)
    state = models.CharField(
        _("state"), max_length=16, choices=TaskState, default=TaskState.QUEUED, editable=False
    )
    error = models.TextField(_("why it failed"), blank=True, editable=False)
    rows = models.PositiveIntegerField(_("rows"), default=0, editable=False)
    file = models.FileField(
        _("file"), upload_to=export_upload_to, storage=source_storage, blank=True, editable=False
    )
    expires_at = models.DateTimeField(_("link valid until"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at"]
        default_permissions = ()

    def __str__(self):
        return f"{self.get_format_display()} — {timezone.localtime(self.created_at):%d/%m/%Y %H:%M}"

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
