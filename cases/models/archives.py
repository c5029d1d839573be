"""Archived copies of the links sources cite: fetched once (cases/archiving.py), kept with
their SHA-256, under the confidentiality of their source."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models.core import Source
from cases.storage import source_storage


def archive_upload_to(copy: "ArchivedCopy", filename: str) -> str:
    return f"archives/{uuid.uuid4().hex}.{filename.rsplit('.', 1)[-1][:10] or 'bin'}"


class OfSourceQuerySet(models.QuerySet):
    """What is kept of a source (its archived copies, its file's text): seen by those who
    may see the source."""

    def visible_to(self, user):
        return self.filter(source__in=Source.objects.visible_to(user))


class ArchivedCopy(models.Model):
    """One fetch of a source's link: the page (a PDF stays a PDF), its text, when, the HTTP
    status, and its fingerprint. A fetch that failed says why and when it is tried again."""

    class State(models.TextChoices):
        PENDING = "pending", _("To be fetched")
        DONE = "done", _("Archived")
        FAILED = "failed", _("Could not be fetched")
        REFUSED = "refused", _("Refused")

    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="archives", verbose_name=_("source")
    )
    url = models.URLField(_("address"), max_length=2000)
    state = models.CharField(_("state"), max_length=8, choices=State, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    fetched_at = models.DateTimeField(_("fetched at"), null=True, blank=True)
    final_url = models.URLField(_("address reached"), max_length=2000, blank=True)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    content_type = models.CharField(_("content type"), max_length=200, blank=True)
    file = models.FileField(
        _("copy"), upload_to=archive_upload_to, storage=source_storage, blank=True
    )
    size = models.PositiveBigIntegerField(_("bytes"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    truncated = models.BooleanField(_("cut off"), default=False)
    text = models.TextField(_("text of the page"), blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = OfSourceQuerySet.as_manager()

    class Meta:
        verbose_name = _("archived copy")
        verbose_name_plural = _("archived copies")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="cases_archive_due_idx")]

    def __str__(self):
        return f"{self.url} ({self.get_state_display()})"


class SourceText(models.Model):
    """The words of a source's file, read for search: a PDF's text (or, for a scan, what
    OCR reads), an HTML page's text, a plain-text file, or an image through OCR. Derived from
    the file and read again whenever the file changes (`sha256` says which file it came
    from): it is not evidence itself, so it has no history of its own."""

    class Method(models.TextChoices):
        PDF = "pdf", _("PDF text")
        HTML = "html", _("Web page text")
        PLAIN = "plain", _("Plain text")
        OCR = "ocr", _("Optical character recognition (Tesseract)")
        NONE = "none", _("No text read")

    source = models.OneToOneField(
        Source, on_delete=models.PROTECT, related_name="file_text", verbose_name=_("source")
    )
    sha256 = models.CharField(_("SHA-256 of the file read"), max_length=64)
    method = models.CharField(_("how it was read"), max_length=8, choices=Method)
    text = models.TextField(_("text"), blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    read_at = models.DateTimeField(_("read at"), default=timezone.now)

    objects = OfSourceQuerySet.as_manager()

    class Meta:
        verbose_name = _("text of a source's file")
        verbose_name_plural = _("texts of sources' files")

    def __str__(self):
        return f"{self.source} ({self.get_method_display()})"
