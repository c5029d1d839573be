"""Spreadsheet imports: one ImportBatch per file, kept with what it created."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cases.storage import source_storage
from core.audit import AuditedQuerySet, ChainedHistory


def import_upload_to(batch: "ImportBatch", filename: str) -> str:
    # A random name: the spreadsheet's own name may say whose data it holds.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"imports/{uuid.uuid4().hex}.{extension[:10]}"


class ImportBatchQuerySet(AuditedQuerySet):
    def visible_to(self, user):
        """A batch's origin, file name and counts say whose data it holds: its uploader's,
        coordinators' and (to retract it) reviewers' business only."""
        if not user.is_authenticated or getattr(user, "is_ally", False):
            return self.none()
        if user.has_perm("cases.view_all_cases") or user.has_perm("cases.retract_importbatch"):
            return self
        return self.filter(created_by=user)


class TaskKind(models.TextChoices):
    PREVIEW = "preview", _("Preview")
    IMPORT = "import", _("Import")


class TaskState(models.TextChoices):
    QUEUED = "queued", _("Waiting for a worker")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportBatch(models.Model):
    """One spreadsheet imported (or previewed) by one person: what it created, changed and
    rejected. A batch is retracted as a whole, never deleted."""

    class Status(models.TextChoices):
        PREVIEW = "preview", _("Previewed, not imported")
        IMPORTED = "imported", _("Imported")
        RETRACTED = "retracted", _("Retracted")

    TaskKind = TaskKind
    TaskState = TaskState

    class CaseStatus(models.TextChoices):
        # What new cases become. Only these: "published" is a reviewer's act, case by case.
        DRAFT = "draft", _("Draft")
        IN_REVIEW = "in_review", _("In review (counted once a reviewer verifies it)")
        VERIFIED = "verified", _("Verified (counted at once; reviewers only)")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    origin = models.CharField(
        _("origin"),
        max_length=100,
        help_text=_(
            "The spreadsheet these rows come from, e.g. “Base CDJ 2019–2021”. The "
            "“referencia” of a row is unique within its origin: import a corrected file "
            "under the same origin to update the rows it changed."
        ),
    )
    file_name = models.CharField(_("file name"), max_length=255)
    file = models.FileField(
        _("file"), upload_to=import_upload_to, storage=source_storage, editable=False
    )
    sha256 = models.CharField(_("SHA-256"), max_length=64, editable=False)
    case_status = models.CharField(
        _("status of new cases"), max_length=16, choices=CaseStatus, default=CaseStatus.IN_REVIEW
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status, default=Status.PREVIEW, editable=False
    )
    rows_total = models.PositiveIntegerField(_("rows"), default=0, editable=False)
    rows_created = models.PositiveIntegerField(_("created"), default=0, editable=False)
    rows_updated = models.PositiveIntegerField(_("updated"), default=0, editable=False)
    rows_unchanged = models.PositiveIntegerField(_("unchanged"), default=0, editable=False)
    rows_rejected = models.PositiveIntegerField(_("rejected"), default=0, editable=False)
    records_created = models.PositiveIntegerField(
        _("people and organizations created"), default=0, editable=False
    )
    duplicates_flagged = models.PositiveIntegerField(
        _("possible duplicates flagged"), default=0, editable=False
    )
    error_file = models.FileField(
        _("error file"), storage=source_storage, blank=True, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("imported by"),
    )
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True, editable=False)
    retracted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("retracted by"),
    )
    retracted_at = models.DateTimeField(_("retracted at"), null=True, blank=True, editable=False)
    retraction_reason = models.TextField(_("why it was retracted"), blank=True, editable=False)
    # Work in the background (cases/intake/tasks.py): its preview, then the import itself.
    task_kind = models.CharField(
        _("background work"), max_length=16, choices=TaskKind, blank=True, editable=False
    )
    task_state = models.CharField(
        _("state of the background work"),
        max_length=16,
        choices=TaskState,
        blank=True,
        editable=False,
    )
    task_error = models.TextField(_("why the background work failed"), blank=True, editable=False)
    skip_invalid = models.BooleanField(
        _("import the good rows only"), default=False, editable=False
    )
    # What the preview showed (a summary for its page) and a digest of every row's planned
    # action: the import writes exactly that, or nothing. Not in the history: the summary
    # repeats the file's names, and the history is read by more people than the batch.
    preview = models.JSONField(_("preview"), null=True, blank=True, editable=False)
    preview_digest = models.CharField(
        _("preview digest"), max_length=64, blank=True, editable=False
    )

    # Added after the first release (core.audit.ChainedHistory._added_later).
    HISTORY_ADDED_LATER = {
        "task_kind": "",
        "task_state": "",
        "task_error": "",
        "skip_invalid": False,
        "preview_digest": "",
    }
    objects = ImportBatchQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory], excluded_fields=["preview"])

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]
        default_permissions = ("view",)
        permissions = [
            ("import_incidents", _("Can import incidents from spreadsheets")),
            ("retract_importbatch", _("Can retract an import as a whole")),
        ]

    def __str__(self):
        uploaded = timezone.localtime(self.created_at)  # the site's time, as on its fields
        return f"{self.origin} — {self.file_name} ({uploaded:%d/%m/%Y %H:%M})"

    @property
    def reason(self) -> str:
        """The history's change reason for everything this batch writes: its id only (the
        file's name may itself name a witness, and the history is read by more people than
        the batch)."""
        return _("Import %(id)s") % {"id": self.public_id}
