"""The admin's pages for imports (upload → preview → confirm, template, error file,
retraction), the export in the template, and the reviewers' duplicate pages. Registered from
cases/admin.py; every write calls a service."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import SecurityEvent
from accounts.services import security_event_record
from cases import imports, services
from cases.models import DuplicatePair, ImportBatch, Incident
from organizations.admin_base import RecordAdmin, VisibleOnlyMixin

PREVIEW_ROWS = 200
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
            and batch.created_by_id == request.user.pk,
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

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
        rows = imports.template_example()
        if request.GET.get("format") == "csv":
            return download(imports.as_csv(rows), "plantilla-incidentes.csv", "text/csv")
        return download(imports.as_xlsx(rows, with_help=True), "plantilla-incidentes.xlsx", XLSX)

    def upload_view(self, request):
        self._require(request, "cases.import_incidents")
        form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                batch, _plan = services.import_batch_prepare(
                    user=request.user,
                    data=upload,  # read a block at a time
                    file_name=upload.name,
                    origin=form.cleaned_data["origin"],
                    case_status=form.cleaned_data["case_status"],
                    max_rows=settings.IMPORT_ADMIN_MAX_ROWS,
                )
            except imports.ImportFileError as error:
                form.add_error("file", str(error))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return redirect("admin:cases_importbatch_preview", public_id=batch.public_id)
        context = self._context(
            request,
            _("Import incidents"),
            form=form,
            columns=[(c, imports.TEMPLATE_HELP[c], c in imports.REQUIRED) for c in imports.COLUMNS],
            max_megabytes=settings.IMPORT_MAX_MEGABYTES,
            max_rows=min(settings.IMPORT_MAX_ROWS, settings.IMPORT_ADMIN_MAX_ROWS),
        )
        return TemplateResponse(request, "admin/cases/importbatch/upload.html", context)

    def _batch(self, request, public_id) -> ImportBatch:
        return get_object_or_404(self.get_queryset(request), public_id=public_id)

    def preview_view(self, request, public_id):
        self._require(request, "cases.import_incidents")
        batch = self._batch(request, public_id)
        if batch.created_by_id != request.user.pk:
            raise Http404
        if batch.status != ImportBatch.Status.PREVIEW:
            return redirect("admin:cases_importbatch_change", batch.pk)
        form = ConfirmForm(request.POST or None)
        plan = None
        if request.method == "POST" and form.is_valid():
            try:
                plan = services.import_batch_run(
                    batch=batch, user=request.user, skip_invalid=form.cleaned_data["skip_invalid"]
                )
            except services.ImportRejected as rejected:
                plan = rejected.plan
                messages.error(request, rejected.messages[0])
            except services.ImportConflict as conflict:
                messages.error(request, conflict.messages[0])  # the preview, planned anew
            except (ValidationError, imports.ImportFileError) as error:
                messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
                return redirect("admin:cases_importbatch_changelist")
            else:
                batch.refresh_from_db()
                messages.success(
                    request,
                    _(
                        "Imported: %(created)d new, %(updated)d updated, %(unchanged)d unchanged, "
                        "%(rejected)d rejected; %(duplicates)d possible duplicates to review."
                    )
                    % {
                        "created": batch.rows_created,
                        "updated": batch.rows_updated,
                        "unchanged": batch.rows_unchanged,
                        "rejected": batch.rows_rejected,
                        "duplicates": batch.duplicates_flagged,
                    },
                )
                return redirect("admin:cases_importbatch_change", batch.pk)
        if plan is None:
            try:
                plan = services.import_batch_plan(batch=batch, user=request.user)
            except (ValidationError, imports.ImportFileError) as error:
                messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
                return redirect("admin:cases_importbatch_changelist")
        context = self._context(
            request,
            _("Preview of the import"),
            batch=batch,
            form=form,
            counts=plan.counts(),
            created=plan.of("create")[:PREVIEW_ROWS],
            updated=plan.of("update")[:PREVIEW_ROWS],
            rejected=plan.rejected[:PREVIEW_ROWS],
            new_defenders=sorted(plan.new_defenders.values())[:PREVIEW_ROWS],
            new_organizations=sorted(plan.new_organizations.values())[:PREVIEW_ROWS],
            # With the acronym read from "Name (ACRONYM)", so that it is seen before it is kept.
            new_perpetrators=sorted(
                f"{p.name} ({p.acronym})" if p.acronym else p.name
                for p in plan.new_perpetrators.values()
            )[:PREVIEW_ROWS],
            preview_rows=PREVIEW_ROWS,
            same_file=ImportBatch.objects.filter(
                sha256=batch.sha256, status=ImportBatch.Status.IMPORTED
            ).first(),
        )
        return TemplateResponse(request, "admin/cases/importbatch/preview.html", context)

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
                cases = services.import_batch_retract(
                    batch=batch, user=request.user, reason=form.cleaned_data["reason"]
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(
                    request,
                    _("Import retracted: %(count)d cases retracted.") % {"count": len(cases)},
                )
                return redirect("admin:cases_importbatch_change", batch.pk)
        context = self._context(
            request,
            _("Retract the import"),
            batch=batch,
            form=form,
            scope=imports.retraction_scope(batch, request.user),
        )
        return TemplateResponse(request, "admin/cases/importbatch/retract.html", context)


class ExportMixin:
    """IncidentAdmin: the filtered list as a file in the import template."""

    change_list_template = "admin/cases/incident/change_list.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export/", view(self.export_view), name="cases_incident_export"),
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
        rows = imports.export_rows(changelist.get_queryset(request))
        security_event_record(
            kind=SecurityEvent.Kind.EXPORT,
            request=request,
            user=request.user,
            incidents=len(rows),
            filters=params.urlencode()[:500],
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        if format_ == "xlsx":
            return download(imports.as_xlsx(rows), f"incidentes-{stamp}.xlsx", XLSX)
        return download(imports.as_csv(rows), f"incidentes-{stamp}.csv", "text/csv")


def incident_facts(incident: Incident, user) -> list[tuple[str, str]]:
    """An incident as label/value lines for the side-by-side comparison."""
    target = (
        incident.defender.name_for(user) if incident.defender is not None else incident.organization
    )
    perpetrators = ", ".join(str(i) for i in incident.involvements.all()) or "—"
    sources = ", ".join(
        s.title for s in incident.case.sources.filter(pk__in=_visible_sources(user))
    )
    return [
        (_("case"), f"{incident.case} ({incident.case.get_status_display()})"),
        (_("type"), incident.get_type_display()),
        (_("date"), incident.occurred_on_display),
        (_("target"), str(target)),
        (_("state"), incident.get_state_display() or "—"),
        (_("municipality"), incident.municipality or "—"),
        (_("perpetrators"), perpetrators),
        (_("description"), incident.description or "—"),
        (_("sources"), sources or "—"),
        (_("duplicate of"), str(incident.duplicate_of.public_id) if incident.duplicate_of else "—"),
        (_("reference in the import"), incident.import_ref or "—"),
    ]


def _visible_sources(user):
    from cases.models import Source

    return Source.objects.visible_to(user).values("pk")


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("first", "first"), ("second", "second"), ("none", "none"), ("reopen", "reopen")]
    )
    reason = forms.CharField(required=False, max_length=500)


class DuplicatePairAdmin(VisibleOnlyMixin, RecordAdmin):
    list_display = ("pair", "type", "status", "detected_at", "decided_by")
    list_filter = ("status", "first__type")
    list_select_related = (
        "first__defender",
        "first__organization",
        "second__defender",
        "second__organization",
        "decided_by",
    )
    fields = ("first", "second", "status", "detected_at", "decided_by", "decided_at")
    readonly_fields = fields
    change_form_template = "admin/cases/duplicatepair/compare.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("status", "-detected_at", "id")

    def changelist_view(self, request, extra_context=None):
        self._request = request
        if "status__exact" not in request.GET and not request.GET.get("q"):
            # Reviewers come for the pairs still to decide.
            query = request.GET.copy()
            query["status__exact"] = DuplicatePair.Status.PENDING
            request.GET = query
            request.META["QUERY_STRING"] = query.urlencode()
        return super().changelist_view(request, extra_context)

    @admin.display(description=gettext_lazy("incidents"))
    def pair(self, obj):
        user = self._request.user
        return " ≈ ".join(
            f"{(i.defender.name_for(user) if i.defender else i.organization)}, "
            f"{i.occurred_on_display}"
            for i in (obj.first, obj.second)
        )

    @admin.display(description=gettext_lazy("type"))
    def type(self, obj):
        return obj.first.get_type_display()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pair = self._visible_object(request, object_id)
        may_decide = request.user.has_perm("cases.mark_duplicate_incident")
        if request.method == "POST":
            if not may_decide:
                raise PermissionDenied
            form = DecisionForm(request.POST)
            if form.is_valid():
                self._decide(request, pair, **form.cleaned_data)
            return redirect("admin:cases_duplicatepair_change", pair.pk)
        first, second = (
            Incident.objects.select_related("case", "defender", "organization", "duplicate_of")
            .prefetch_related("involvements__perpetrator")
            .get(pk=pk)
            for pk in (pair.first_id, pair.second_id)
        )
        facts_first = incident_facts(first, request.user)
        facts_second = incident_facts(second, request.user)
        context = {
            **(extra_context or {}),
            "pair": pair,
            "first": first,
            "second": second,
            "comparison": [
                (label, a, b, a != b)
                for (label, a), (_label, b) in zip(facts_first, facts_second, strict=True)
            ],
            "may_decide": may_decide,
        }
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _decide(self, request, pair, *, decision: str, reason: str) -> None:
        try:
            if decision == "reopen":
                services.duplicate_pair_reopen(pair=pair, user=request.user, reason=reason)
                messages.success(request, _("The decision was reopened."))
                return
            original = {"first": pair.first, "second": pair.second}.get(decision)
            services.duplicate_pair_decide(
                pair=pair, user=request.user, original=original, reason=reason
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Decision recorded."))


class MergeForm(forms.Form):
    survivor = forms.UUIDField()
    merged = forms.UUIDField()
    reason = forms.CharField(required=False, max_length=500)


class MergeMixin:
    """Defender and Organization admins: suggestions of records that look like the same one,
    and merging two of them (reviewers: cases.mark_duplicate_incident)."""

    change_list_template = "admin/cases/merge_change_list.html"
    merge_service = None  # staticmethod(services.…_merge), set by each admin
    similar = None  # staticmethod(duplicates.similar_…)

    def get_urls(self):
        view = self.admin_site.admin_view
        info = self.model._meta.app_label, self.model._meta.model_name
        return [
            path("merge/", view(self.merge_view), name="{}_{}_merge".format(*info)),
            path("similar/", view(self.similar_view), name="{}_{}_similar".format(*info)),
            *super().get_urls(),
        ]

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), "needs_review", MergedFilter)

    def get_search_results(self, request, queryset, search_term):
        # Autocomplete offers only records still in use, never one merged into another.
        queryset, distinct = super().get_search_results(request, queryset, search_term)
        if request.path.endswith("/autocomplete/"):
            queryset = queryset.filter(merged_into__isnull=True)
        return queryset, distinct

    def has_merge_permission(self, request) -> bool:
        meta = self.model._meta
        return request.user.has_perm("cases.mark_duplicate_incident") and request.user.has_perm(
            f"{meta.app_label}.change_{meta.model_name}"
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self.has_merge_permission(request):
            actions["merge_selected"] = (
                MergeMixin.merge_selected,
                "merge_selected",
                gettext_lazy("Merge the two selected (the same one recorded twice)"),
            )
        return actions

    def merge_selected(self, request, queryset):
        records = list(queryset[:3])
        if len(records) != 2:
            messages.error(request, _("Select exactly two records to merge."))
            return None
        url = reverse(f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_merge")
        return redirect(f"{url}?survivor={records[0].public_id}&merged={records[1].public_id}")

    def similar_view(self, request):
        if not self.has_merge_permission(request):
            raise PermissionDenied
        visible = self.get_queryset(request)
        pairs = [
            (a, b)
            for a, b in type(self).similar()
            if visible.filter(pk__in=[a.pk, b.pk]).count() == 2
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Possibly recorded twice"),
            "pairs": pairs,
        }
        return TemplateResponse(request, "admin/cases/merge_similar.html", context)

    def merge_view(self, request):
        if not self.has_merge_permission(request):
            raise PermissionDenied
        form = MergeForm(request.POST or request.GET or None)
        if not form.is_valid():
            raise Http404
        visible = self.get_queryset(request)
        survivor = get_object_or_404(visible, public_id=form.cleaned_data["survivor"])
        merged = get_object_or_404(visible, public_id=form.cleaned_data["merged"])
        if request.method == "POST" and "confirm" in request.POST:
            try:
                type(self).merge_service(
                    survivor=survivor,
                    merged=merged,
                    user=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(
                    request, _("Merged: everything now names “%(name)s”.") % {"name": survivor}
                )
                info = self.model._meta.app_label, self.model._meta.model_name
                return redirect("admin:{}_{}_change".format(*info), survivor.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Merge two records"),
            "survivor": survivor,
            "merged": merged,
            "survivor_incidents": survivor.incidents.count(),
            "merged_incidents": merged.incidents.count(),
        }
        return TemplateResponse(request, "admin/cases/merge.html", context)


class MergedFilter(admin.SimpleListFilter):
    title = gettext_lazy("merged into another")
    parameter_name = "merged"

    def lookups(self, request, model_admin):
        return [("no", _("No (in use)")), ("yes", _("Yes"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(merged_into__isnull=True)
        if self.value() == "yes":
            return queryset.filter(merged_into__isnull=False)
        return queryset
