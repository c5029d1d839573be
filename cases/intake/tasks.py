"""Spreadsheet work in the background (Django's tasks framework, config: TASKS_BACKEND): an
import's preview, then the import itself; long exports of the incident list. The page that
queued the work follows its progress (core/progress.py) and may be left and come back to.

Each task is given the batch's id only, and does its work as the batch's uploader. A task
delivered twice, or queued from two tabs, works once: it starts only from "queued", under a
row lock. A task that fails writes nothing (the import is one transaction) and says why on
the batch; so does a worker killed halfway, once its silence has lasted TASK_STALE_MINUTES."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from cases import notices
from cases.intake import write
from cases.intake.export import as_csv, as_xlsx, export_rows
from cases.intake.template import ImportFileError
from cases.models import ImportBatch, Incident, IncidentExport
from core.progress import FileProgress, progress_clear, progress_read
from core.records import record_save

logger = logging.getLogger(__name__)
Kind, State = ImportBatch.TaskKind, ImportBatch.TaskState


@task()
def import_preview(batch_id: int) -> None:
    _work(batch_id, Kind.PREVIEW)


@task()
def import_run(batch_id: int) -> None:
    _work(batch_id, Kind.IMPORT)


def queue(batch: ImportBatch, kind: str, *, skip_invalid: bool = False) -> bool:
    """Queue a batch's preview or import, once this transaction commits. False, and
    nothing queued, if that work is already queued, running or done (a second click, a
    second tab): the caller says so."""
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != ImportBatch.Status.PREVIEW or not _may_queue(locked, kind):
            return False
        locked.task_kind, locked.task_state, locked.task_error = kind, State.QUEUED, ""
        locked.skip_invalid = skip_invalid
        reason = _("Preview queued") if kind == Kind.PREVIEW else _("Import queued")
        record_save(locked, user=locked.created_by, reason=reason)
        progress_clear(locked.public_id)
        work = import_preview if kind == Kind.PREVIEW else import_run
        transaction.on_commit(lambda: work.enqueue(locked.pk))
    batch.refresh_from_db()
    return True


def _may_queue(batch: ImportBatch, kind: str) -> bool:
    stopped = batch.task_state == State.FAILED or is_stale(batch)
    if kind == Kind.IMPORT:
        # After its preview, or again after the import itself stopped.
        previewed = batch.task_kind == Kind.PREVIEW and batch.task_state == State.DONE
        return previewed or (batch.task_kind == Kind.IMPORT and stopped)
    return stopped  # a preview again: after it, or the import, stopped


def is_stale(batch: ImportBatch) -> bool:
    """Whether a queued or running task has been silent so long that its worker is taken
    as lost (killed, or none running): its user may queue it again."""
    if batch.task_state not in (State.QUEUED, State.RUNNING):
        return False
    reported = progress_read(batch.public_id)
    last = reported["at"] if reported else _last_change(batch)
    return time.time() - last > settings.TASK_STALE_MINUTES * 60


def _last_change(batch: ImportBatch) -> float:
    latest = batch.history.order_by("-history_date").values_list("history_date", flat=True)
    return latest[0].timestamp() if latest else 0.0


def _start(batch_id: int, kind: str) -> ImportBatch | None:
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.task_kind != kind or batch.task_state != State.QUEUED:
            return None  # done already, or queued again for other work
        batch.task_state = State.RUNNING
        record_save(batch, user=batch.created_by, reason=_("Started in the background"))
    return batch


def _work(batch_id: int, kind: str) -> None:
    batch = _start(batch_id, kind)
    if batch is None:
        return
    progress = FileProgress(batch.public_id)
    try:
        if kind == Kind.PREVIEW:
            write.import_batch_preview(batch=batch, progress=progress)
        else:
            write.import_batch_run(
                batch=batch,
                user=batch.created_by,
                skip_invalid=batch.skip_invalid,
                progress=progress,
            )
    except write.ImportChanged as changed:
        _preview_again(batch_id, changed.messages[0])
    except (ValidationError, ImportFileError) as error:
        _failed(batch_id, " ".join(getattr(error, "messages", [str(error)])))
    except Exception:
        logger.exception("Background work on import %s failed", batch.public_id)
        _failed(
            batch_id,
            _("An unexpected error stopped it and nothing was written; the server's log has it."),
        )
        raise
    finally:
        progress_clear(batch.public_id)
        notices.import_finished(ImportBatch.objects.get(pk=batch_id))


def _preview_again(batch_id: int, why: str) -> None:
    """The records changed since the preview: the import wrote nothing, and a new preview
    is made for its user to look at (why stays on the batch until then)."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch_id)
        batch.task_kind, batch.task_state, batch.task_error = Kind.PREVIEW, State.QUEUED, why
        record_save(batch, user=batch.created_by, reason=_("Preview queued"))
        transaction.on_commit(lambda: import_preview.enqueue(batch_id))


def _failed(batch_id: int, why: str) -> None:
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch_id)
        batch.task_state, batch.task_error = State.FAILED, why[:2000]
        record_save(batch, user=batch.created_by, reason=_("Failed in the background"))


@task()
def export_incidents(export_id: int) -> None:
    """The incident list as its asker filtered it, as a file left for them to download
    (IncidentExport), made with the admin list's own filters and the export policy."""
    with transaction.atomic():
        export = IncidentExport.objects.select_for_update().filter(pk=export_id).first()
        if export is None or export.state != State.QUEUED:
            return
        export.state = State.RUNNING
        export.save(update_fields=["state"])
    progress = FileProgress(export.public_id)
    try:
        rows = export_rows(_listed(export), viewer=export.created_by, progress=progress)
        progress(_("writing the file"), len(rows), len(rows))
        content = as_xlsx(rows) if export.format == "xlsx" else as_csv(rows)
        stamp = timezone.localtime(export.created_at).strftime("%Y%m%d-%H%M")
        export.file.save(f"incidentes-{stamp}.{export.format}", ContentFile(content), save=False)
        export.rows, export.state = len(rows), State.DONE
        export.expires_at = timezone.now() + timedelta(hours=settings.EXPORT_LINK_HOURS)
        export.save(update_fields=["file", "rows", "state", "expires_at"])
    except Exception:
        logger.exception("Export %s failed", export.public_id)
        export.state = State.FAILED
        export.error = _("An unexpected error stopped it; the server's log has it.")
        export.save(update_fields=["state", "error"])
        raise
    finally:
        progress_clear(export.public_id)
    exports_prune()


def _listed(export):
    """The incidents the admin's list showed its asker with these filters."""
    from django.contrib import admin
    from django.contrib.messages.storage.cookie import CookieStorage

    request = HttpRequest()
    request.method, request.path = "GET", reverse("admin:cases_incident_changelist")
    request.GET = QueryDict(export.filters)
    request.META["QUERY_STRING"] = export.filters
    request.user = export.created_by
    request._messages = CookieStorage(request)  # a filter's complaint goes nowhere
    model_admin = admin.site._registry[Incident]
    return model_admin.get_changelist_instance(request).get_queryset(request)


def exports_prune() -> None:
    """Delete the files of exports whose link has expired (their rows stay, as a trace)."""
    expired = IncidentExport.objects.filter(expires_at__lte=timezone.now()).exclude(file="")
    for export in expired:
        export.file.storage.delete(export.file.name)
        export.file = ""
        export.save(update_fields=["file"])
