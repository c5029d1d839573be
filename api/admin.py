from django import forms
from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from api.models import Ally, ApiKey, ApiRequest
from api.services import api_key_create, api_key_revoke
from core.admin_base import RecordAdmin, RecordInlineMixin


class ApiKeyInline(RecordInlineMixin, admin.TabularInline):
    """The ally's keys, read-only here: create one with "Add API key", revoke from its list."""

    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("lookup", "name", "created_at", "expires_at", "revoked_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ally)
class AllyAdmin(RecordAdmin):
    list_display = ("name", "contact_name", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "contact_name")
    fields = ("name", "contact_name", "contact_email", "active", "notes")
    inlines = (ApiKeyInline,)


class ApiKeyCreateForm(forms.ModelForm):
    days = forms.IntegerField(label=_("valid for (days)"), min_value=1, max_value=3650, initial=365)

    class Meta:
        model = ApiKey
        fields = ("ally", "name")


@admin.register(ApiKey)
class ApiKeyAdmin(RecordAdmin):
    """Keys are created here (the secret is shown once, on the page that follows) and
    revoked with the list action. Nothing else about a key changes."""

    list_display = ("__str__", "ally", "name", "expires_at", "revoked_at", "last_used")
    list_filter = ("ally", "revoked_at")
    list_select_related = ("ally",)
    search_fields = ("ally__name", "name", "lookup")
    actions = ("revoke",)
    readonly_fields = (
        "ally",
        "name",
        "lookup",
        "created_at",
        "created_by",
        "expires_at",
        "revoked_at",
    )

    def get_queryset(self, request):
        # The newest request of each key: one index lookup per key row
        # (api_apirequest_key_idx), not a GROUP BY over the whole request log.
        newest = ApiRequest.objects.filter(key=OuterRef("pk")).order_by("-at").values("at")[:1]
        return super().get_queryset(request).annotate(last_request=Subquery(newest))

    @admin.display(description=_("last used"), ordering="last_request")
    def last_used(self, obj):
        return obj.last_request

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ("ally", "name", "days") if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, secret = api_key_create(
            ally=form.cleaned_data["ally"],
            user=request.user,
            name=form.cleaned_data["name"],
            days=form.cleaned_data["days"],
        )
        form.instance = key
        request._api_key_secret = secret

    def save_related(self, request, form, formsets, change):
        pass

    def response_add(self, request, obj, post_url_continue=None):
        # Shown once, on this page only: never in a message (messages may sit in a cookie).
        return TemplateResponse(
            request,
            "admin/api/apikey/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "key": obj,
                "secret": request._api_key_secret,
                "title": _("API key created"),
            },
        )

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key, user=request.user)
        self.message_user(request, _("Revoked: %(n)d.") % {"n": queryset.count()})


@admin.register(ApiRequest)
class ApiRequestAdmin(admin.ModelAdmin):
    """Every API request, for coordinators: who took what, with which filters."""

    list_display = ("at", "ally", "key", "user", "endpoint", "status_code", "rows", "ip_address")
    list_filter = ("endpoint", "status_code", "ally")
    list_select_related = ("ally", "key", "user")
    date_hierarchy = "at"
    show_full_result_count = False
    readonly_fields = (
        "at",
        "ally",
        "key",
        "user",
        "endpoint",
        "path",
        "filters",
        "status_code",
        "rows",
        "ip_address",
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
