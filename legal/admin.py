"""The lawyers' tracker in the admin: detentions (also on their incident's page), court cases
with their hearings and legal actions. Health notes and case file numbers are shown only to
whom they are for."""

import nested_admin
from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cases.admin import IncidentAdmin, NameSearchMixin
from cases.models import Case, Incident
from core.admin_base import (
    RecordAdmin,
    RecordForm,
    RecordInlineMixin,
    ScopedNestedInlineFormSet,
    VisibleOnlyMixin,
)
from legal import selectors, services
from legal.models import Detention, Hearing, LegalAction, Proceeding, Transfer


class LawyerPickerMixin:
    """The "our lawyer" field lists the lawyers, not every staff account."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name != "lawyer":
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        kwargs["queryset"] = selectors.lawyer_accounts()
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        field.label_from_instance = lambda user: user.get_full_name() or user.get_username()
        return field


class TransferForm(RecordForm):
    def save_record(self, obj):
        services.transfer_save(transfer=obj, user=None, reason=self.change_reason())


class DetentionForm(RecordForm):
    def save_record(self, obj):
        services.detention_save(detention=obj, user=None, reason=self.change_reason())


class HearingForm(RecordForm):
    def save_record(self, obj):
        services.hearing_save(hearing=obj, user=None, reason=self.change_reason())


class LegalActionForm(RecordForm):
    def save_record(self, obj):
        services.legal_action_save(action=obj, user=None, reason=self.change_reason())


class TransferInline(RecordInlineMixin, nested_admin.NestedTabularInline):
    model = Transfer
    form = TransferForm
    formset = ScopedNestedInlineFormSet
    extra = 0
    fields = ("moved_on", "place", "note")


class DetentionActionInline(VisibleOnlyMixin, RecordInlineMixin, nested_admin.NestedTabularInline):
    """Legal actions about the detention (a habeas corpus, an IACHR request), with or
    without a court case."""

    model = LegalAction
    form = LegalActionForm
    formset = ScopedNestedInlineFormSet
    fk_name = "detention"
    extra = 0
    can_delete = False
    fields = ("kind", "filed_on", "body", "status", "outcome", "proceeding")


class DetentionInline(LawyerPickerMixin, RecordInlineMixin, nested_admin.NestedStackedInline):
    """On its arbitrary-detention incident."""

    model = Detention
    form = DetentionForm
    formset = ScopedNestedInlineFormSet
    extra = 0
    max_num = 1
    can_delete = False
    autocomplete_fields = ("arresting_body",)
    fieldsets = (
        (None, {"fields": (("arrested_on", "arrested_at"), "arrest_place", "arresting_body")}),
        (None, {"fields": ("incommunicado_until", "place_of_detention", "status")}),
        (
            None,
            {"fields": (("released_on", "release_kind"), ("counsel", "lawyer"), "last_news_on")},
        ),
        (_("Confidential"), {"classes": ("collapse",), "fields": ("health_notes",)}),
    )
    inlines = (TransferInline,)

    def get_fieldsets(self, request, obj=None):
        # obj: the incident the detention belongs to.
        case = obj.case if obj is not None else None
        return without_health_notes(super().get_fieldsets(request, obj), request, case)


def without_health_notes(fieldsets, request, case: Case | None):
    """Health notes are for the case team and coordinators only (the fieldset, and so the
    form, drop them); whoever records a new detention may enter them."""
    if case is None or case.is_on_team(request.user):
        return fieldsets
    return [(name, opts) for name, opts in fieldsets if "health_notes" not in opts["fields"]]


class HearingInline(RecordInlineMixin, admin.TabularInline):
    model = Hearing
    form = HearingForm
    extra = 1
    can_delete = False
    fields = (
        "scheduled_on",
        "scheduled_at",
        "kind",
        "held",
        "deferral_reason",
        "outcome",
        "next_on",
    )


class LegalActionInline(VisibleOnlyMixin, RecordInlineMixin, admin.TabularInline):
    model = LegalAction
    form = LegalActionForm
    extra = 0
    can_delete = False
    fields = ("kind", "filed_on", "body", "status", "outcome")


@admin.register(Proceeding)
class ProceedingAdmin(LawyerPickerMixin, VisibleOnlyMixin, NameSearchMixin, RecordAdmin):
    list_display = ("court", "stage", "pretrial_detention_since", "deferrals", "lawyer")
    list_filter = ("stage", "charges")
    search_fields = ("court", "judge", "defendants__full_name")
    autocomplete_fields = ("defendants", "incidents")
    filter_horizontal = ("charges",)
    inlines = (HearingInline, LegalActionInline)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_deferrals=Count("hearings", filter=Q(hearings__held=False)))
            .select_related("lawyer")
            .order_by("court", "pk")
        )

    def get_fields(self, request, obj=None):
        fields = [
            "court",
            "case_file_number",
            "judge",
            "stage",
            "charges",
            "defendants",
            "incidents",
            "pretrial_detention_since",
            "lawyer",
        ]
        if not request.user.has_perm("legal.view_case_file_number"):
            fields.remove("case_file_number")  # the legal team's only
        return fields

    def history_hidden_fields(self, request, obj):
        if request.user.has_perm("legal.view_case_file_number"):
            return frozenset()
        return frozenset({"case_file_number"})

    def save_record(self, request, obj, *, reason):
        services.proceeding_save(proceeding=obj, user=request.user, reason=reason)

    @admin.display(description=_("deferrals"), ordering="_deferrals")
    def deferrals(self, proceeding):
        return proceeding._deferrals

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The timeline of each detention behind the court case that the reader may see.
        context = dict(extra_context or {})
        proceeding = self.get_object(request, object_id)
        if proceeding is not None:
            detentions = (
                Detention.objects.visible_to(request.user)
                .filter(incident__in=proceeding.incidents.all())
                .select_related("incident__defender", "incident__organization")
            )
            context["timelines"] = [
                {
                    "url": reverse("legal:detention", args=[d.public_id]),
                    "name": d.target_name_for(request.user),
                }
                for d in detentions
            ]
        return super().change_view(request, object_id, form_url, extra_context=context)


@admin.register(Detention)
class DetentionAdmin(
    LawyerPickerMixin, VisibleOnlyMixin, NameSearchMixin, RecordAdmin, nested_admin.NestedModelAdmin
):
    """The legal team edits detentions here (the incident itself may be read-only to them)."""

    list_display = ("__str__", "status", "place_of_detention", "days", "lawyer")
    list_filter = ("status", "counsel", "incident__state")
    list_select_related = ("incident__defender", "incident__organization", "lawyer")
    search_fields = ("incident__defender__full_name", "place_of_detention")
    autocomplete_fields = ("incident", "arresting_body")
    fieldsets = ((None, {"fields": ("incident",)}), *DetentionInline.fieldsets)
    inlines = (TransferInline, DetentionActionInline)

    def get_readonly_fields(self, request, obj=None):
        return ("incident",) if obj is not None else ()

    def get_fieldsets(self, request, obj=None):
        case = obj.incident.case if obj is not None else None
        return without_health_notes(super().get_fieldsets(request, obj), request, case)

    def history_hidden_fields(self, request, obj):
        if obj.incident.case.is_on_team(request.user):
            return frozenset()
        return frozenset({"health_notes"})

    def save_record(self, request, obj, *, reason):
        services.detention_save(detention=obj, user=request.user, reason=reason)

    @admin.display(description=_("days in detention"))
    def days(self, detention):
        return detention.days_in_detention


@admin.register(LegalAction)
class LegalActionAdmin(VisibleOnlyMixin, RecordAdmin):
    """Every legal action, whatever it is about: a court case, a detention, a defender."""

    list_display = ("__str__", "body", "status", "proceeding", "detention")
    list_filter = ("kind", "status")
    list_select_related = ("proceeding", "detention__incident__defender", "defender")
    search_fields = ("body", "outcome")
    autocomplete_fields = ("proceeding", "detention", "defender")
    fields = (
        "kind",
        "filed_on",
        "body",
        "status",
        "outcome",
        "proceeding",
        "detention",
        "defender",
    )

    def save_record(self, request, obj, *, reason):
        services.legal_action_save(action=obj, user=request.user, reason=reason)


# A detention is recorded on its arbitrary-detention incident: the incident's page, as cases
# registered it, with the detention below (legal may import cases, not the other way round).
admin.site.unregister(Incident)


@admin.register(Incident)
class IncidentWithDetentionAdmin(IncidentAdmin):
    def get_inlines(self, request, obj):
        inlines = super().get_inlines(request, obj)
        if obj is not None and obj.type == Incident.Type.ARBITRARY_DETENTION:
            return (*inlines, DetentionInline)
        return inlines
