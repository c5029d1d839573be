"""The reviewers' pages for likely duplicates (two incidents side by side, a decision) and
for people and organizations recorded twice (suggestions, merging). Registered from
cases/admin.py; every write calls a service."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from cases import duplicates, merges, services
from cases.models import DuplicatePair, Incident, Source
from core.admin_base import RecordAdmin, RequestLocalMixin, VisibleOnlyMixin
from core.references import HIDDEN_RECORD, hidden_keys
from organizations.admin import DefenderAdmin, OrganizationAdmin, PerpetratorAdmin
from organizations.models import Defender, Organization, Perpetrator


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
        (_("duplicate of"), _original_for(incident, user)),
        (_("reference in the import"), incident.import_ref or "—"),
    ]


def _original_for(incident: Incident, user) -> str:
    if incident.duplicate_of_id is None:
        return "—"
    if hidden_keys(user, Incident, [incident.duplicate_of_id]):
        return str(HIDDEN_RECORD)
    return str(incident.duplicate_of.public_id)


def _visible_sources(user):
    return Source.objects.visible_to(user).values("pk")


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("first", "first"), ("second", "second"), ("none", "none"), ("reopen", "reopen")]
    )
    reason = forms.CharField(required=False, max_length=500)


class DuplicatePairAdmin(RequestLocalMixin, VisibleOnlyMixin, RecordAdmin):
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
    merge_moves = gettext_lazy(
        "every incident, membership and court case that names the second will name the first."
    )

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
            "survivor_incidents": _incidents(survivor.incidents.count()),
            "merged_incidents": _incidents(merged.incidents.count()),
            "merge_moves": self.merge_moves,
        }
        return TemplateResponse(request, "admin/cases/merge.html", context)


def _incidents(count: int) -> str:
    return ngettext("%(count)s incident", "%(count)s incidents", count) % {
        "count": number_format(count, force_grouping=True)
    }


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


class MergeableDefenderAdmin(MergeMixin, DefenderAdmin):
    merge_service = staticmethod(merges.defender_merge)
    similar = staticmethod(duplicates.similar_defenders)


class MergeableOrganizationAdmin(MergeMixin, OrganizationAdmin):
    merge_service = staticmethod(merges.organization_merge)
    similar = staticmethod(duplicates.similar_organizations)


class MergeablePerpetratorAdmin(MergeMixin, PerpetratorAdmin):
    merge_service = staticmethod(merges.perpetrator_merge)
    similar = staticmethod(duplicates.similar_perpetrators)
    merge_moves = gettext_lazy(
        "every incident, detention and body part of the second will name the first (an "
        "incident naming both keeps the first one's role)."
    )


def register_mergeable_admins() -> None:
    """People and organizations recorded twice: the admins organizations registered, with
    merging added (merging repoints incidents, so it lives in cases, which may import
    organizations, not the other way round)."""
    for model, mergeable in (
        (Defender, MergeableDefenderAdmin),
        (Organization, MergeableOrganizationAdmin),
        (Perpetrator, MergeablePerpetratorAdmin),
    ):
        admin.site.unregister(model)
        admin.site.register(model, mergeable)
