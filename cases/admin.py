import datetime

import nested_admin
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cases import services
from cases.models import Case, Incident, Involvement, Source
from organizations.history import HistoryAdmin, ReadableHistoryContextHelper


def case_related_history(case_id) -> list[dict]:
    """Revisions of a case's incidents, involvements and sources, newest first, each with
    its readable diff against the previous revision of the same record."""
    try:
        case_id = int(case_id)
    except (TypeError, ValueError):
        return []
    histories = [
        (
            Incident,
            Incident.history.filter(case_id=case_id).select_related(
                "history_user", "defender", "organization"
            ),
        ),
        (
            Involvement,
            Involvement.history.filter(incident__case_id=case_id).select_related(
                "history_user", "perpetrator"
            ),
        ),
        (Source, Source.history.filter(case_id=case_id).select_related("history_user")),
    ]
    rows = []
    for model, records in histories:
        previous = None
        for record in records.order_by("id", "history_date", "history_id"):
            changes = []
            if previous is not None and previous.id == record.id:
                delta = record.diff_against(previous, foreign_keys_are_objs=True)
                changes = ReadableHistoryContextHelper(model, record).context_for_delta_changes(
                    delta
                )
            rows.append({"record": record, "kind": model._meta.verbose_name, "changes": changes})
            previous = record
    rows.sort(key=lambda row: row["record"].history_date, reverse=True)
    return rows


class MonthFilter(admin.SimpleListFilter):
    """Incidents dated in a month (the report's period), through Incident.in_month()."""

    title = _("month of the incident")
    parameter_name = "month"
    incident_path = ""  # lookup from the filtered model to Incident ("" = Incident itself)

    def lookups(self, request, model_admin):
        months = Incident.objects.dates("occurred_on", "month", order="DESC")[:36]
        return [(f"{m:%Y-%m}", date_format(m, "YEAR_MONTH_FORMAT")) for m in months]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            month = datetime.datetime.strptime(self.value(), "%Y-%m").date()  # noqa: DTZ007
        except ValueError:
            message = _("Unknown month %(value)s: use YYYY-MM.") % {"value": self.value()}
            messages.error(request, message)
            return queryset.none()
        incidents = Incident.objects.in_month(month.year, month.month)
        if not self.incident_path:
            return queryset.filter(pk__in=incidents.values("pk"))
        return queryset.filter(pk__in=incidents.values(self.incident_path))


class CaseMonthFilter(MonthFilter):
    title = _("month of its incidents")
    incident_path = "case_id"


class SourceForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = (
            "kind",
            "title",
            "publisher",
            "url",
            "date",
            "reliability",
            "confidential",
            "file",
        )

    def save(self, commit=True):
        source = super().save(commit=False)
        services.source_fingerprint(source)
        if commit:
            source.save()
        return source


class InvolvementInline(nested_admin.NestedTabularInline):
    model = Involvement
    extra = 1
    verbose_name = _("perpetrator")
    verbose_name_plural = _("perpetrators and roles")
    autocomplete_fields = ("perpetrator",)
    fields = ("perpetrator", "role")


class IncidentInline(nested_admin.NestedStackedInline):
    model = Incident
    extra = 1
    can_delete = False  # an incident is marked duplicate or its case retracted, never deleted
    autocomplete_fields = ("defender", "organization", "duplicate_of")
    fieldsets = (
        (None, {"fields": ("type", ("occurred_on", "date_precision"))}),
        (_("Who was attacked (one only)"), {"fields": (("defender", "organization"),)}),
        (None, {"fields": (("state", "municipality"), "description", "duplicate_of")}),
    )
    inlines = (InvolvementInline,)


class SourceInline(nested_admin.NestedStackedInline):
    model = Source
    form = SourceForm
    extra = 1
    can_delete = False
    readonly_fields = ("sha256",)
    fieldsets = (
        (None, {"fields": (("kind", "reliability", "confidential"), "title")}),
        (None, {"fields": (("publisher", "date"), "url", ("file", "sha256"))}),
    )


@admin.register(Case)
class CaseAdmin(HistoryAdmin, nested_admin.NestedModelAdmin):
    list_display = ("title", "status", "confidentiality", "state", "incident_count", "updated_at")
    list_filter = ("status", "confidentiality", "state", "incidents__type", CaseMonthFilter)
    search_fields = ("title", "summary", "place")
    readonly_fields = ("status", "created_by", "created_at", "updated_by", "updated_at")
    fieldsets = (
        (None, {"fields": ("title", "summary", ("state", "place"))}),
        (_("Workflow"), {"fields": (("status", "confidentiality"),)}),
        (
            _("Record"),
            {
                "classes": ("collapse",),
                "fields": (("created_by", "created_at"), ("updated_by", "updated_at")),
            },
        ),
    )
    inlines = (IncidentInline, SourceInline)
    actions = ("submit_for_review", "verify", "publish")
    object_history_template = "admin/cases/case/object_history.html"

    def history_view(self, request, object_id, extra_context=None):
        # The case's own revisions come from SimpleHistoryAdmin (which also checks access);
        # below them, the revisions of what the case holds, on the same page.
        context = {**(extra_context or {}), "related_history": case_related_history(object_id)}
        return super().history_view(request, object_id, extra_context=context)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_incident_count=Count("incidents"))

    @admin.display(description=_("incidents"), ordering="_incident_count")
    def incident_count(self, case):
        return case._incident_count

    def save_model(self, request, obj, form, change):
        services.case_save(case=obj, user=request.user)

    def has_submit_permission(self, request):
        return request.user.has_perm("cases.submit_case")

    def has_verify_permission(self, request):
        return request.user.has_perm("cases.verify_case")

    def has_publish_permission(self, request):
        return request.user.has_perm("cases.publish_case")

    def _transition(self, request, queryset, service):
        moved = 0
        for case in queryset:
            try:
                service(case=case, user=request.user)
            except ValidationError as error:
                messages.error(request, f"{case}: {' '.join(error.messages)}")
            else:
                moved += 1
        if moved:
            messages.success(
                request,
                ngettext("%(count)d case updated.", "%(count)d cases updated.", moved)
                % {"count": moved},
            )

    @admin.action(description=_("Send to review"), permissions=["submit"])
    def submit_for_review(self, request, queryset):
        self._transition(request, queryset, services.case_submit_for_review)

    @admin.action(description=_("Verify"), permissions=["verify"])
    def verify(self, request, queryset):
        self._transition(request, queryset, services.case_verify)

    @admin.action(description=_("Publish"), permissions=["publish"])
    def publish(self, request, queryset):
        self._transition(request, queryset, services.case_publish)


@admin.register(Incident)
class IncidentAdmin(HistoryAdmin, nested_admin.NestedModelAdmin):
    list_display = ("type", "target", "occurred_on", "date_precision", "state", "case")
    list_filter = ("type", "case__status", "state", "date_precision", MonthFilter)
    list_select_related = ("case", "defender", "organization")
    search_fields = ("defender__full_name", "organization__name", "case__title", "description")
    autocomplete_fields = ("case", "defender", "organization", "duplicate_of")
    fieldsets = (
        (None, {"fields": ("case", "type", ("occurred_on", "date_precision"))}),
        (_("Who was attacked (one only)"), {"fields": (("defender", "organization"),)}),
        (None, {"fields": (("state", "municipality"), "description", "duplicate_of")}),
    )
    inlines = (InvolvementInline,)

    @admin.display(description=_("target"))
    def target(self, incident):
        return incident.target
