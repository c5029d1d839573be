"""Cases and incidents in the admin: one page for a case, its incidents (each with its
target and perpetrators) and its sources; the workflow's actions. Imports, duplicates and
merges register their own pages (cases.intake.admin, cases.admin_duplicates)."""

import nested_admin
from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_user_model
from django.db.models import Count, Min, Prefetch, prefetch_related_objects
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cases import admin_duplicates, services
from cases.admin_filters import CaseMonthFilter, CountedFilter, MonthFilter
from cases.admin_widgets import (
    PrefetchedInlineFormSet,
    PreloadedFormMixin,
    PreloadedWidgetsMixin,
)
from cases.admin_workflow import (
    CHANGE_REASON,
    CaseWorkflowMixin,
    CountedChangeReasonMixin,
)
from cases.intake.admin import ExportMixin, ImportBatchAdmin
from cases.models import (
    Case,
    DuplicatePair,
    ImportBatch,
    Incident,
    Involvement,
    Source,
    Support,
)
from core.admin_base import (
    RecordAdmin,
    RecordForm,
    RecordInlineMixin,
    RequestLocalMixin,
    ScopedNestedInlineFormSet,
    ScopedRelatedFilter,
    VisibleOnlyMixin,
)
from core.history import ReadableHistoryContextHelper, created_delta, history_delta


def case_related_history(case: Case, user) -> list[dict]:
    """Revisions of a case's incidents, involvements and sources, newest first, each with
    its readable diff against the previous revision of the same record (a source's witness
    and contact only for the case team)."""
    case_id = case.pk
    hidden = {Source: frozenset() if case.is_on_team(user) else SOURCE_TEAM_FIELDS}
    histories = [
        (
            Incident,
            Incident.history.filter(case_id=case_id).select_related(
                "history_user", "defender", "organization"
            ),
            lambda r: (
                f"{r.get_type_display()} — {r.defender or r.organization} — "
                f"{r.occurred_on:%d/%m/%Y}"
            ),
        ),
        (
            Involvement,
            Involvement.history.filter(incident__case_id=case_id).select_related(
                "history_user", "perpetrator"
            ),
            lambda r: f"{r.perpetrator} ({r.get_role_display()})",
        ),
        (
            Source,
            Source.history.filter(
                case_id=case_id, id__in=Source.objects.visible_to(user).values("pk")
            ).select_related("history_user"),
            lambda r: r.title,
        ),
    ]
    rows = []
    for model, records, label in histories:
        previous = None
        for record in records.order_by("id", "history_date", "history_id"):
            changes = []
            helper = ReadableHistoryContextHelper(
                model, record, hidden_fields=hidden.get(model, frozenset()), viewer=user
            )
            if previous is not None and previous.id == record.id:
                changes = helper.context_for_delta_changes(history_delta(record, previous))
            elif record.history_type == "+":
                changes = helper.context_for_delta_changes(created_delta(record))
            rows.append(
                {
                    "record": record,
                    "kind": model._meta.verbose_name,
                    "label": label(record),
                    "changes": changes,
                }
            )
            previous = record
    rows.sort(key=lambda row: row["record"].history_date, reverse=True)
    return rows


class CaseLockMixin:
    """Incidents, perpetrators and sources can be changed only while their case can
    (Case.is_editable_by): counted cases by reviewers, retracted cases by nobody."""

    @staticmethod
    def _case_of(obj):
        if isinstance(obj, Case):
            return obj
        if isinstance(obj, Incident | Source) and obj.case_id is not None:
            return obj.case
        if isinstance(obj, Involvement) and obj.incident_id is not None:
            return obj.incident.case
        return None

    def _case_allows(self, request, obj) -> bool:
        case = self._case_of(obj)
        return case is None or case.pk is None or case.is_editable_by(request.user)

    def has_add_permission(self, request, *obj):  # ModelAdmin: (request); inlines: (request, obj)
        allowed = super().has_add_permission(request, *obj)
        return allowed and self._case_allows(request, obj[0] if obj else None)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._case_allows(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Only a perpetrator row can be removed (a wrong attribution), and only before the
        # case is counted; the history keeps the removed row.
        case = self._case_of(obj)
        return (
            super().has_delete_permission(request, obj)
            and self._case_allows(request, obj)
            and (case is None or case.status in Case.OPEN_STATUSES)
        )


class CaseForm(RecordForm):
    change_reason = CHANGE_REASON

    class Meta:
        model = Case
        fields = (*Case.EDITABLE_FIELDS, "team")


class IncidentForm(PreloadedFormMixin, RecordForm):
    change_reason = CHANGE_REASON

    class Meta:
        model = Incident
        fields = (
            "case",
            "type",
            "occurred_on",
            "date_precision",
            "defender",
            "organization",
            "state",
            "municipality",
            "description",
            "duplicate_of",
        )

    def save_record(self, obj):
        # The history's user comes from the request (HistoryRequestMiddleware).
        services.incident_save(incident=obj, user=None, reason=self.change_reason())


class SourceForm(RecordForm):
    supported = forms.TypedMultipleChoiceField(
        label=_("Incidents it supports"),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        # What the page showed travels with it: links made by others since stay (_supported).
        show_hidden_initial=True,
        help_text=_(
            "A new source with none ticked supports every incident of the case. Each incident "
            "needs a source before the case is verified."
        ),
    )

    def __init__(self, *args, case_incidents=None, supported_by=None, **kwargs):
        # The case's incidents and every source's links come from the formset, read once
        # for all its forms (SourceFormSet); a form on its own reads its own.
        super().__init__(*args, **kwargs)
        if case_incidents is None:
            case_incidents = (
                list(
                    Incident.objects.filter(case_id=self.instance.case_id).select_related(
                        "defender", "organization"
                    )
                )
                if self.instance.case_id
                else []
            )
        if "supported" not in self.fields:
            return
        self.fields["supported"].choices = [(i.pk, str(i)) for i in case_incidents]
        if self.instance.pk is not None:
            if supported_by is None:
                linked = self.instance.supports.values_list("incident_id", flat=True)
            else:
                linked = supported_by.get(self.instance.pk, ())
            self.initial["supported"] = list(linked)

    def clean(self):
        cleaned = super().clean()
        choices = self.fields.get("supported") and self.fields["supported"].choices
        if (
            choices
            and self.instance.pk is not None
            and not cleaned.get("supported")
            and "supported" in self.changed_data
        ):
            self.add_error("supported", _("Tick at least one incident that this source supports."))
        return cleaned

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
            "witness",
            "contact",
        )

    def save_record(self, obj):
        services.source_save(
            source=obj, user=None, reason=self.change_reason(), incidents=self._supported(obj)
        )

    def _supported(self, source) -> list[int] | None:
        """The incidents the source is to support: what it supports now, with the boxes
        ticked and unticked on this page (links made by others since it was loaded stay);
        None when nothing was ticked on a new source (it then supports them all)."""
        if "supported" not in self.fields or "supported" not in self.changed_data:
            return None
        ticked = set(self.cleaned_data.get("supported") or ())
        shown_key = self.add_initial_prefix("supported")
        posted = self.data.getlist(shown_key) if hasattr(self.data, "getlist") else ()
        shown = {int(pk) for pk in posted if str(pk).isdigit()}
        now = set(source.supports.values_list("incident_id", flat=True)) if source.pk else set()
        if not now:
            return sorted(ticked) or None
        return sorted((now - (shown - ticked)) | (ticked - shown))


class InvolvementForm(PreloadedFormMixin, RecordForm):
    class Meta:
        model = Involvement
        fields = ("perpetrator", "role")


class InvolvementInline(
    RecordInlineMixin, PreloadedWidgetsMixin, CaseLockMixin, nested_admin.NestedTabularInline
):
    model = Involvement
    form = InvolvementForm
    formset = PrefetchedInlineFormSet
    extra = 1
    verbose_name = _("perpetrator")
    verbose_name_plural = _("perpetrators and roles")
    autocomplete_fields = ("perpetrator",)
    fields = ("perpetrator", "role")


class NameSearchMixin:
    """Searching by a defender's name would confirm who a protected defender is: only those
    who see every identity search by name."""

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)
        if request.user.has_perm("cases.view_all_cases"):
            return fields
        return tuple(f for f in fields if "full_name" not in f)


class DuplicateMarkingMixin:
    """Only reviewers (cases.mark_duplicate_incident) say that a report repeats another."""

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if not request.user.has_perm("cases.mark_duplicate_incident"):
            fields += ("duplicate_of",)
        return fields


class IncidentInline(
    RecordInlineMixin,
    PreloadedWidgetsMixin,
    DuplicateMarkingMixin,
    CaseLockMixin,
    nested_admin.NestedStackedInline,
):
    model = Incident
    form = IncidentForm
    formset = ScopedNestedInlineFormSet
    extra = 1
    can_delete = False  # an incident is marked duplicate or its case retracted, never deleted
    autocomplete_fields = ("defender", "organization", "duplicate_of")
    fieldsets = (
        (None, {"fields": ("type", ("occurred_on", "date_precision"))}),
        (_("Who was attacked (one only)"), {"fields": (("defender", "organization"),)}),
        (None, {"fields": (("state", "municipality"), "description", "duplicate_of")}),
    )
    inlines = (InvolvementInline,)

    def get_queryset(self, request):
        # Everything each incident's form shows, loaded once for all of them.
        return (
            super()
            .get_queryset(request)
            .select_related(
                "case",
                "defender",
                "organization",
                "duplicate_of__defender",
                "duplicate_of__organization",
            )
            .prefetch_related(
                Prefetch(
                    "involvements",
                    queryset=Involvement.objects.select_related("perpetrator").order_by("pk"),
                )
            )
        )


SOURCE_TEAM_FIELDS = frozenset({"witness", "contact"})


class SourceFormSet(ScopedNestedInlineFormSet):
    """The case's incidents (the choices of every source's "supports") and its sources'
    links, read once for all the forms."""

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        if not hasattr(self, "_case_incidents"):
            case = self.instance
            self._case_incidents, self._supported_by = [], {}
            if case.pk is not None:
                self._case_incidents = list(
                    Incident.objects.filter(case=case)
                    .select_related("defender", "organization")
                    .order_by("occurred_on", "pk")
                )
                links = Support.objects.filter(source__case=case).values_list(
                    "source_id", "incident_id"
                )
                for source_id, incident_id in links:
                    self._supported_by.setdefault(source_id, []).append(incident_id)
        return {
            **kwargs,
            "case_incidents": self._case_incidents,
            "supported_by": self._supported_by,
        }


class SourceInline(
    RecordInlineMixin, VisibleOnlyMixin, CaseLockMixin, nested_admin.NestedStackedInline
):
    model = Source
    form = SourceForm
    formset = SourceFormSet
    extra = 1
    can_delete = False
    readonly_fields = ("sha256", "archived", "file_text_read")
    fieldsets = (
        (None, {"fields": (("kind", "reliability", "confidential"), "title")}),
        (None, {"fields": (("publisher", "date"), ("url", "archived"), ("file", "sha256"))}),
        (None, {"fields": ("supported", "file_text_read")}),
        (_("Protected (encrypted)"), {"classes": ("collapse",), "fields": ("witness", "contact")}),
    )

    @admin.display(description=_("archived copy"))
    def archived(self, source):
        """The latest copy of the link: when it was fetched, its fingerprint, or why not."""
        copy = source.archives.first() if source.pk else None
        if copy is None:
            return "—"
        if copy.file:
            return format_html(
                '<a href="{}">{}</a> — {} — SHA-256 {}… {}',
                copy.file.url,
                copy.get_state_display(),
                date_format(timezone.localtime(copy.fetched_at), "SHORT_DATETIME_FORMAT"),
                copy.sha256[:16],
                copy.note,
            )
        return format_html("{} {}", copy.get_state_display(), copy.note)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("file_text")

    @admin.display(description=_("Incidents it supports"))
    def supported(self, source):
        """Shown in place of the boxes to those who may not change the case."""
        if source.pk is None:
            return "—"
        links = source.incidents.select_related("defender", "organization").order_by(
            "occurred_on", "pk"
        )
        return format_html_join(", ", "{}", ((str(incident),) for incident in links)) or "—"

    @admin.display(description=_("text of the file"))
    def file_text_read(self, source):
        """How the file was read for the search, or why it was not."""
        read = getattr(source, "file_text", None) if source.pk else None
        if read is None:
            return _("Being read…") if source.pk and source.file else "—"
        count = len(read.text)
        return format_html(
            "{} — {} {}",
            read.get_method_display(),
            ngettext("%(n)s character", "%(n)s characters", count)
            % {"n": number_format(count, force_grouping=True)},
            read.note,
        )

    def get_fieldsets(self, request, obj=None):
        # Witness and contact: the case team's and coordinators' only (left out of the form
        # too, so a post cannot change them), whatever the source's own flag.
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.is_on_team(request.user):
            return fieldsets
        return [
            (name, options)
            for name, options in fieldsets
            if not SOURCE_TEAM_FIELDS & set(flatten_fieldsets([(name, options)]))
        ]


@admin.register(Case)
class CaseAdmin(
    CaseWorkflowMixin,
    CountedChangeReasonMixin,
    VisibleOnlyMixin,
    CaseLockMixin,
    RecordAdmin,
    nested_admin.NestedModelAdmin,
):
    form = CaseForm
    list_display = (
        "title",
        "status",
        "confidentiality",
        "state",
        "first_date",
        "types",
        "incident_count",
        "updated",
    )
    list_filter = (
        "status",
        "confidentiality",
        "state",
        "incidents__type",
        CaseMonthFilter,
        ("import_batch", ScopedRelatedFilter),
    )
    search_fields = ("title", "summary", "place")
    readonly_fields = (
        "status",
        "highlight",
        "created_by",
        "created_at",
        "updated_by",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("title", "summary", ("state", "place"))}),
        (_("Workflow"), {"fields": (("status", "confidentiality"), "highlight", "team")}),
        (
            _("Record"),
            {
                "classes": ("collapse",),
                "fields": (("created_by", "created_at"), ("updated_by", "updated_at")),
            },
        ),
    )
    inlines = (IncidentInline, SourceInline)
    object_history_template = "admin/cases/case/object_history.html"

    def history_view(self, request, object_id, extra_context=None):
        # The case's own revisions come from SimpleHistoryAdmin; below them, the revisions
        # of what the case holds, on the same page, for those who may see the case.
        case = self._visible_object(request, object_id)
        context = dict(extra_context or {})
        if self.has_view_or_change_permission(request, case):
            context["related_history"] = case_related_history(case, request.user)
        return super().history_view(request, object_id, extra_context=context)

    def get_queryset(self, request):
        # distinct: the incident-type filter joins incidents a second time.
        incidents = Count("incidents", distinct=True)
        visible = super().get_queryset(request)
        # Meta.ordering does not apply to a GROUP BY query: say it (autocomplete pages on it).
        return visible.annotate(
            _incident_count=incidents, _first_date=Min("incidents__occurred_on")
        ).order_by(*Case._meta.ordering, "pk")

    def get_changelist_instance(self, request):
        # The page's incidents, for their types: one query per page, not one per case.
        changelist = super().get_changelist_instance(request)
        incidents = Incident.objects.only("id", "case_id", "type").order_by()
        prefetch_related_objects(
            changelist.result_list,
            Prefetch("incidents", queryset=incidents, to_attr="_page_incidents"),
        )
        return changelist

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # The team is granted by coordinators, never taken: others only read it.
        if request.user.has_perm("cases.change_case_team"):
            return fields
        return (*fields, "team")

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "team":
            kwargs["queryset"] = get_user_model().objects.filter(is_staff=True, is_active=True)
            kwargs["widget"] = forms.CheckboxSelectMultiple
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request, form, formsets, change):
        # The team through its services, which log every change in the security log.
        team = form.cleaned_data.pop("team", None)
        super().save_related(request, form, formsets, change)
        case = form.instance
        if team is not None:
            services.case_team_set(case=case, members=team, by=request.user, request=request)
        if not change:
            services.case_team_join_as_recorder(case=case, user=request.user, request=request)

    @admin.display(description=_("incidents"), ordering="_incident_count")
    def incident_count(self, case):
        return case._incident_count

    @admin.display(description=_("first incident"), ordering="_first_date")
    def first_date(self, case):
        day = case._first_date
        return date_format(day, "SHORT_DATE_FORMAT") if day else "—"

    @admin.display(description=_("types"))
    def types(self, case):
        incidents = getattr(case, "_page_incidents", [])
        return ", ".join(sorted({str(i.get_type_display()) for i in incidents})) or "—"

    @admin.display(description=_("changed"), ordering="updated_at")
    def updated(self, case):
        return date_format(timezone.localtime(case.updated_at), "SHORT_DATETIME_FORMAT")

    def save_record(self, request, obj, *, reason):
        services.case_save(case=obj, user=request.user, reason=reason)

    def counted_case(self, obj):
        return obj


@admin.register(Incident)
class IncidentAdmin(
    RequestLocalMixin,  # target() and its_sources(): names and sources the reader may see
    CountedChangeReasonMixin,
    ExportMixin,
    VisibleOnlyMixin,
    NameSearchMixin,
    DuplicateMarkingMixin,
    CaseLockMixin,
    RecordAdmin,
    nested_admin.NestedModelAdmin,
):
    form = IncidentForm
    list_display = ("type", "target", "occurred_on", "date_precision", "state", "case")
    list_filter = (
        "type",
        "case__status",
        CountedFilter,
        "state",
        "date_precision",
        MonthFilter,
        # The batches the user may see (a short table), not "those used": that would scan
        # every incident.
        ("import_batch", ScopedRelatedFilter),
    )
    list_select_related = ("case", "defender", "organization")
    ordering = ("-occurred_on", "-id")
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
        if incident.defender is not None:
            return incident.defender.name_for(self._request.user)
        return incident.organization

    @admin.display(description=_("sources"))
    def its_sources(self, incident):
        """The sources that support this incident, those the reader may see, each linked to
        its case's page."""
        sources = Source.objects.visible_to(self._request.user).filter(supports__incident=incident)
        items = [
            format_html(
                '<li><a href="{}">{}</a>{}{}</li>',
                reverse("admin:cases_case_change", args=[incident.case_id]),
                source.title,
                f" — {source.publisher}" if source.publisher else "",
                f" ({date_format(source.date)})" if source.date else "",
            )
            for source in sources.order_by("date", "pk")
        ]
        if not items:
            return _("None yet: tick this incident under a source of the case.")
        return format_html("<ul>{}</ul>", format_html_join("", "{}", ((i,) for i in items)))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [*fieldsets, (_("Sources"), {"fields": ("its_sources",)})]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # Moving an incident to another case would change that case's figures unreviewed.
        if obj is not None:
            return ("case", "its_sources", *fields)
        return fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "case":
            kwargs["queryset"] = Case.objects.editable_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_record(self, request, obj, *, reason):
        services.incident_save(incident=obj, user=request.user, reason=reason)

    def counted_case(self, obj):
        return obj.case if obj is not None and obj.case_id else None


admin.site.register(ImportBatch, ImportBatchAdmin)
admin.site.register(DuplicatePair, admin_duplicates.DuplicatePairAdmin)
admin_duplicates.register_mergeable_admins()
