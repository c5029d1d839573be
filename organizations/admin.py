from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from organizations.history import HistoryAdmin, VisibleOnlyMixin
from organizations.models import Defender, Membership, Organization, Perpetrator


@admin.register(Organization)
class OrganizationAdmin(HistoryAdmin):
    list_display = ("name", "acronym", "kind", "state")
    list_filter = ("kind", "state")
    search_fields = ("name", "acronym")
    fields = ("name", "acronym", "kind", "state", "website")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    can_delete = False  # a membership that ended gets its end date
    autocomplete_fields = ("organization",)
    fields = ("organization", "role", "started_on", "ended_on")
    verbose_name = _("membership in an organization")
    verbose_name_plural = _("memberships in organizations")


@admin.register(Defender)
class DefenderAdmin(VisibleOnlyMixin, HistoryAdmin):
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


@admin.register(Perpetrator)
class PerpetratorAdmin(HistoryAdmin):
    list_display = ("name", "acronym", "category", "kind", "parent")
    list_filter = ("category", "kind")
    list_select_related = ("parent",)
    search_fields = ("name", "acronym")
    autocomplete_fields = ("parent",)
    fields = ("name", "acronym", "category", "kind", "parent")
