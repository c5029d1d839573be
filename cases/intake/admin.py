"""The admin's pages for imports (upload → preview → confirm, template, error file,
retraction) and the incident list's export in the template. Registered from cases/admin.py;
every write calls a service."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.models import SecurityEvent
from accounts.services import security_event_record
from cases.intake import tasks, write
from cases.intake.export import as_csv, as_xlsx, export_rows
from cases.intake.plan import batch_counts, counts_sentence, retraction_scope
from cases.intake.read import quick_check
from cases.intake.template import (
    COLUMNS,
    REQUIRED,
    TEMPLATE_HELP,
    ImportFileError,
    template_example,
)
from cases.models import Case, DuplicatePair, ImportBatch, Incident, IncidentExport
from core.admin_base import RecordAdmin, VisibleOnlyMixin
from core.progress import progress_read

RESULT_ROWS = 200  # cases and likely duplicates an import's page lists
Kind, State = ImportBatch.TaskKind, ImportBatch.TaskState
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def work_state(public_id, state: str, label: str, **more) -> dict:
    """Background work as its page and progress.js show it: its state, and the stage and
    figures it last reported (core.progress)."""
    reported = progress_read(public_id) or {}
    return {
        "state": state,
        "state_label": label,
        "stage": reported.get("stage", ""),
        "done": reported.get("done", 0),
        "total": reported.get("total", 0),
        "finished": state in (State.DONE, State.FAILED),
        **more,
    }


def download(content: bytes, name: str, content_type: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("CSV (UTF-8, comma or semicolon) or XLSX, in the template."),
    )
    origin = forms.CharField(
        label=gettext_lazy("Origin"),
        max_length=100,
        required=False,
        help_text=ImportBatch._meta.get_field("origin").help_text,
    )
    case_status = forms.ChoiceField(
        label=gettext_lazy("Status of new cases"),
        choices=ImportBatch.CaseStatus.choices,
        initial=ImportBatch.CaseStatus.IN_REVIEW,
        help_text=gettext_lazy(
            "Imported figures count only once a reviewer has verified them: that is the "
            "default. Reviewers may import already verified data as verified."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if not user.has_perm("cases.verify_case"):
            self.fields["case_status"].choices = [
                c for c in ImportBatch.CaseStatus.choices if c[0] != ImportBatch.CaseStatus.VERIFIED
            ]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.IMPORT_MAX_MEGABYTES * 1024 * 1024:
            raise ValidationError(
                _("The file is larger than %(max)d MB: split it into several files.")
                % {"max": settings.IMPORT_MAX_MEGABYTES}
            )
        return upload


class ConfirmForm(forms.Form):
    skip_invalid = forms.BooleanField(
        label=gettext_lazy("Import the good rows and leave out the rejected ones"),
        required=False,
    )


class RetractForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Why"), widget=forms.Textarea(attrs={"rows": 3}))


class ImportBatchAdmin(VisibleOnlyMixin, RecordAdmin):
    list_display = (
        "origin",
        "file_name",
        "status",
        "case_status",
        "rows_created",
        "rows_updated",
        "rows_unchanged",
        "rows_rejected",
        "duplicates_flagged",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "origin")
    list_select_related = ("created_by",)
    search_fields = ("origin", "file_name")
    fields = (
        ("origin", "file_name", "sha256"),
        ("status", "case_status"),
        ("rows_total", "rows_created", "rows_updated", "rows_unchanged", "rows_rejected"),
        ("records_created", "duplicates_flagged"),
        ("created_by", "created_at", "imported_at"),
        ("retracted_by", "retracted_at", "retraction_reason"),
    )
    readonly_fields = tuple(name for line in fields for name in line)
    change_form_template = "admin/cases/importbatch/change_form.html"

    def has_add_permission(self, request):
        return request.user.has_perm("cases.import_incidents")

    def has_change_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:cases_importbatch_upload")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="cases_importbatch_upload"),
            path("template/", view(self.template_view), name="cases_importbatch_template"),
            path(
                "<uuid:public_id>/preview/",
                view(self.preview_view),
                name="cases_importbatch_preview",
            ),
            path(
                "<uuid:public_id>/errors/", view(self.errors_view), name="cases_importbatch_errors"
            ),
            path(
                "<uuid:public_id>/progress/",
                view(self.progress_view),
                name="cases_importbatch_progress",
            ),
            path("<uuid:public_id>/again/", view(self.again_view), name="cases_importbatch_again"),
            path(
                "<uuid:public_id>/retract/",
                view(self.retract_view),
                name="cases_importbatch_retract",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self._visible_object(request, object_id)
        context = {
            **(extra_context or {}),
            "batch": batch,
            "may_retract": batch.status == ImportBatch.Status.IMPORTED
            and request.user.has_perm("cases.retract_importbatch"),
            "may_download_errors": bool(batch.error_file) and self._owns(request, batch),
            "may_preview": batch.status == ImportBatch.Status.PREVIEW
            and batch.created_by_id == request.user.pk
            and batch.task_kind != Kind.IMPORT,
            "work": self._work_state(batch) if batch.task_kind else None,
            "owns_work": batch.created_by_id == request.user.pk,
            **self._result(request, batch),
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    @staticmethod
    def _result(request, batch) -> dict:
        """What an import left that this user may see: the cases it created and the likely
        duplicates it flagged that are still to decide, each a link."""
        if batch.status != ImportBatch.Status.IMPORTED:
            return {}
        cases = Case.objects.visible_to(request.user).filter(import_batch=batch).order_by("pk")
        pairs = (
            DuplicatePair.objects.visible_to(request.user)
            .pending()
            .filter(Q(first__import_batch=batch) | Q(second__import_batch=batch))
            .select_related("first__case", "second__case")
            .order_by("pk")
        )
        return {
            "summary": counts_sentence(batch_counts(batch)),
            "created_cases": cases[:RESULT_ROWS],
            "created_cases_total": cases.count(),
            "open_pairs": pairs[:RESULT_ROWS],
            "open_pairs_total": pairs.count(),
            "result_rows": RESULT_ROWS,
        }

    def _require(self, request, perm: str) -> None:
        if not request.user.has_perm(perm):
            raise PermissionDenied

    @staticmethod
    def _owns(request, batch) -> bool:
        # The rows of a file may name protected people: its uploader and coordinators only.
        return batch.created_by_id == request.user.pk or request.user.has_perm(
            "cases.view_all_cases"
        )

    def _context(self, request, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            **extra,
        }

    def template_view(self, request):
        self._require(request, "cases.import_incidents")
        rows = template_example()
        if request.GET.get("format") == "csv":
            return download(as_csv(rows), "plantilla-incidentes.csv", "text/csv")
        return download(as_xlsx(rows, with_help=True), "plantilla-incidentes.xlsx", XLSX)

    def upload_view(self, request):
        self._require(request, "cases.import_incidents")
        form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                quick_check(upload, upload.name)
                with transaction.atomic():
                    batch = write.import_batch_upload(
                        user=request.user,
                        data=upload,  # read a block at a time
                        file_name=upload.name,
                        origin=form.cleaned_data["origin"],
                        case_status=form.cleaned_data["case_status"],
                    )
                    transaction.on_commit(lambda: tasks.import_preview.enqueue(batch.pk))
            except ImportFileError as error:
                form.add_error("file", str(error))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return redirect("admin:cases_importbatch_preview", public_id=batch.public_id)
        context = self._context(
            request,
            _("Import incidents"),
            form=form,
            columns=[(c, TEMPLATE_HELP[c], c in REQUIRED) for c in COLUMNS],
            max_megabytes=settings.IMPORT_MAX_MEGABYTES,
            max_rows=settings.IMPORT_MAX_ROWS,
        )
        return TemplateResponse(request, "admin/cases/importbatch/upload.html", context)

    def _batch(self, request, public_id) -> ImportBatch:
        return get_object_or_404(self.get_queryset(request), public_id=public_id)

    def preview_view(self, request, public_id):
        """The preview the background made, once it is made (its progress until then), and
        the confirmation that queues the import."""
        self._require(request, "cases.import_incidents")
        batch = self._batch(request, public_id)
        if batch.created_by_id != request.user.pk:
            raise Http404
        if batch.status != ImportBatch.Status.PREVIEW or batch.task_kind == Kind.IMPORT:
            return redirect("admin:cases_importbatch_change", batch.pk)
        if batch.task_state != State.DONE:
            return self._working(request, batch, _("Preview of the import"))
        form = ConfirmForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            skip = form.cleaned_data["skip_invalid"]
            if batch.rows_rejected and not skip:
                messages.error(
                    request,
                    ngettext(
                        "%(count)d row is wrong: nothing was imported.",
                        "%(count)d rows are wrong: nothing was imported.",
                        batch.rows_rejected,
                    )
                    % {"count": batch.rows_rejected},
                )
            else:
                if not tasks.queue(batch, Kind.IMPORT, skip_invalid=skip):
                    messages.warning(request, _("This import is already under way."))
                return redirect("admin:cases_importbatch_change", batch.pk)
        summary = batch.preview or {}
        context = self._context(
            request,
            _("Preview of the import"),
            batch=batch,
            form=form,
            counts=summary.get("counts", {}),
            created=summary.get("created", []),
            updated=summary.get("updated", []),
            rejected=summary.get("rejected", []),
            new_defenders=summary.get("new_defenders", []),
            new_organizations=summary.get("new_organizations", []),
            new_perpetrators=summary.get("new_perpetrators", []),
            new_memberships=summary.get("new_memberships", []),
            likely_duplicates=self._likely_duplicates(
                request, summary.get("likely_duplicates", [])
            ),
            preview_rows=write.PREVIEW_ROWS,
            same_file=ImportBatch.objects.filter(
                sha256=batch.sha256, status=ImportBatch.Status.IMPORTED
            ).first(),
        )
        return TemplateResponse(request, "admin/cases/importbatch/preview.html", context)

    def _working(self, request, batch, title):
        """The page of work queued or running: its progress, followed by the page's script
        (progress.js) or by reloading; the work goes on if the page is left."""
        context = self._context(
            request,
            title,
            batch=batch,
            work=self._work_state(batch),
        )
        return TemplateResponse(request, "admin/cases/importbatch/working.html", context)

    @staticmethod
    def _work_state(batch) -> dict:
        return work_state(
            batch.public_id,
            batch.task_state,
            batch.get_task_state_display(),
            kind=batch.task_kind,
            error=batch.task_error,
            stale=tasks.is_stale(batch),
        )

    def progress_view(self, request, public_id):
        """How far the batch's background work has got, as JSON, for progress.js."""
        batch = self._batch(request, public_id)
        if batch.created_by_id != request.user.pk:
            raise Http404
        return JsonResponse(self._work_state(batch))

    def again_view(self, request, public_id):
        """Queue a preview or an import again, after it failed or its worker was lost."""
        self._require(request, "cases.import_incidents")
        batch = self._batch(request, public_id)
        if batch.created_by_id != request.user.pk or request.method != "POST":
            raise Http404
        kind = Kind.IMPORT if request.POST.get("kind") == Kind.IMPORT else Kind.PREVIEW
        if not tasks.queue(batch, kind, skip_invalid=batch.skip_invalid):
            messages.warning(request, _("This work is already under way."))
        if kind == Kind.PREVIEW:
            return redirect("admin:cases_importbatch_preview", public_id=batch.public_id)
        return redirect("admin:cases_importbatch_change", batch.pk)

    @staticmethod
    def _likely_duplicates(request, examples: list) -> list[dict]:
        """The preview's examples of likely duplicates, a recorded incident with its case."""
        ids = {incident for _line, _other, incident in examples if incident}
        incidents = Incident.objects.visible_to(request.user).select_related("case").in_bulk(ids)
        return [
            {"line": line, "other_line": other, "incident": incidents.get(incident)}
            for line, other, incident in examples
        ]

    def errors_view(self, request, public_id):
        batch = self._batch(request, public_id)
        if not batch.error_file or not self._owns(request, batch):
            raise Http404
        security_event_record(
            kind=SecurityEvent.Kind.EXPORT,
            request=request,
            user=request.user,
            import_batch=str(batch.public_id),
            file="errors",
        )
        with batch.error_file.open("rb") as stored:
            content = stored.read()
        return download(content, f"errores-{batch.public_id}.csv", "text/csv")

    def retract_view(self, request, public_id):
        self._require(request, "cases.retract_importbatch")
        batch = self._batch(request, public_id)
        form = RetractForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                cases = write.import_batch_retract(
                    batch=batch, user=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(
                    request,
                    ngettext(
                        "Import retracted: %(count)d case retracted.",
                        "Import retracted: %(count)d cases retracted.",
                        len(cases),
                    )
                    % {"count": len(cases)},
                )
                return redirect("admin:cases_importbatch_change", batch.pk)
        context = self._context(
            request,
            _("Retract the import"),
            batch=batch,
            form=form,
            scope=retraction_scope(batch, request.user),
        )
        return TemplateResponse(request, "admin/cases/importbatch/retract.html", context)


class ExportMixin:
    """IncidentAdmin: the filtered list as a file in the import template."""

    change_list_template = "admin/cases/incident/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export/", view(self.export_view), name="cases_incident_export"),
            path(
                "export/<uuid:public_id>/",
                view(self.export_page_view),
                name="cases_incident_export_page",
            ),
            path(
                "export/<uuid:public_id>/progress/",
                view(self.export_progress_view),
                name="cases_incident_export_progress",
            ),
            path(
                "export/<uuid:public_id>/file/",
                view(self.export_file_view),
                name="cases_incident_export_file",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        context = {
            **(extra_context or {}),
            "may_export": request.user.has_perm("cases.import_incidents"),
        }
        return super().changelist_view(request, context)

    def export_view(self, request):
        if not request.user.has_perm("cases.import_incidents"):
            raise PermissionDenied
        params = request.GET.copy()
        format_ = params.pop("format", ["csv"])[-1]
        request.GET = params  # the rest are the list's filters
        changelist = self.get_changelist_instance(request)
        listed = changelist.get_queryset(request)
        format_ = "xlsx" if format_ == "xlsx" else "csv"
        if listed.count() > settings.EXPORT_INLINE_ROWS:
            return self._export_later(request, params, format_)
        rows = export_rows(listed, viewer=request.user)
        security_event_record(
            kind=SecurityEvent.Kind.EXPORT,
            request=request,
            user=request.user,
            incidents=len(rows),
            filters=params.urlencode()[:500],
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        if format_ == "xlsx":
            return download(as_xlsx(rows), f"incidentes-{stamp}.xlsx", XLSX)
        return download(as_csv(rows), f"incidentes-{stamp}.csv", "text/csv")

    def _export_later(self, request, params, format_):
        """Too long for the request: made in the background, its link left on its page."""
        with transaction.atomic():
            export = IncidentExport.objects.create(
                created_by=request.user, filters=params.urlencode(), format=format_
            )
            transaction.on_commit(lambda: tasks.export_incidents.enqueue(export.pk))
        return redirect("admin:cases_incident_export_page", public_id=export.public_id)

    def _export(self, request, public_id) -> IncidentExport:
        # Whoever asked for it, no one else (a coordinator neither: its rows are theirs).
        if not request.user.has_perm("cases.import_incidents"):
            raise PermissionDenied
        return get_object_or_404(IncidentExport, public_id=public_id, created_by=request.user)

    @staticmethod
    def _export_state(export) -> dict:
        return work_state(export.public_id, export.state, export.get_state_display(), stale=False)

    def export_page_view(self, request, public_id):
        export = self._export(request, public_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Export of the incident list"),
            "export": export,
            "work": self._export_state(export),
        }
        return TemplateResponse(request, "admin/cases/incident/export.html", context)

    def export_progress_view(self, request, public_id):
        return JsonResponse(self._export_state(self._export(request, public_id)))

    def export_file_view(self, request, public_id):
        export = self._export(request, public_id)
        if export.state != State.DONE or export.expired or not export.file:
            raise Http404
        security_event_record(
            kind=SecurityEvent.Kind.EXPORT,
            request=request,
            user=request.user,
            incidents=export.rows,
            filters=export.filters[:500],
            export=str(export.public_id),
        )
        name = f"incidentes-{timezone.localtime(export.created_at):%Y%m%d-%H%M}.{export.format}"
        kind = XLSX if export.format == "xlsx" else "text/csv"
        return FileResponse(
            export.file.open("rb"), as_attachment=True, filename=name, content_type=kind
        )
