from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin_base import RecordAdmin, RecordInlineMixin, VisibleOnlyMixin
from organizations.models import Defender, Membership, Organization, Perpetrator
from organizations.services import defender_save


@admin.register(Organization)
class OrganizationAdmin(RecordAdmin):
    list_display = ("name", "acronym", "kind", "state")
    list_filter = ("kind", "state")
    search_fields = ("name", "acronym")
    fields = ("name", "acronym", "kind", "state", "website")


class MembershipInline(RecordInlineMixin, admin.TabularInline):
    model = Membership
    extra = 1
    can_delete = False  # a membership that ended gets its end date
    autocomplete_fields = ("organization",)
    fields = ("organization", "role", "started_on", "ended_on")
    verbose_name = _("membership in an organization")
    verbose_name_plural = _("memberships in organizations")


CONTACT_FIELDS = frozenset({"phone", "email", "address"})


@admin.register(Defender)
class DefenderAdmin(VisibleOnlyMixin, RecordAdmin):
    list_display = ("full_name", "known_as", "gender", "state", "identity_protected")
    list_filter = ("state", "gender", "profiles", "identity_protected")
    search_fields = ("full_name", "known_as")

    fieldsets = (
        (None, {"fields": ("full_name", "known_as", "gender", "profiles", "state")}),
        (_("Protection"), {"fields": ("identity_protected",)}),
        (
            _("Contact (encrypted)"),
            {"classes": ("collapse",), "fields": ("phone", "email", "address")},
        ),
    )
    formfield_overrides = {
        Defender.profiles.field.__class__: {"widget": forms.CheckboxSelectMultiple},
    }
    inlines = (MembershipInline,)

    def get_fieldsets(self, request, obj=None):
        # Contact details: the case teams' and coordinators' only (left out of the form too,
        # so a post cannot change them).
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or obj.contact_visible_to(request.user):
            return fieldsets
        return [
            (name, opts) for name, opts in fieldsets if not CONTACT_FIELDS & set(opts["fields"])
        ]

    def history_hidden_fields(self, request, obj):
        # The pseudonym key would tie the pseudonym to the name: never shown.
        hidden = {"pseudonym_key"}
        if not obj.contact_visible_to(request.user):
            hidden |= CONTACT_FIELDS
        return frozenset(hidden)

    def save_record(self, request, obj, *, reason):
        defender_save(defender=obj, user=request.user, reason=reason)


@admin.register(Perpetrator)
class PerpetratorAdmin(RecordAdmin):
    list_display = ("name", "acronym", "category", "kind", "parent")
    list_filter = ("category", "kind")
    list_select_related = ("parent",)
    search_fields = ("name", "acronym")
    autocomplete_fields = ("parent",)
    fields = ("name", "acronym", "category", "kind", "parent")
