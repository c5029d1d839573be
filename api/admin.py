from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Q, Subquery
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from api import webhooks
from api.models import Ally, ApiKey, ApiRequest, Webhook, WebhookDelivery
from api.services import api_key_create, api_key_revoke
from core.admin_base import RecordAdmin, RecordForm, RecordInlineMixin


def shown_once(model_admin, request, template: str, title, **context):
    """The page after adding a key or a webhook, with its secret: shown once, on this page
    only, never in a message (messages may sit in a cookie)."""
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.opts,
            "title": title,
            **context,
        },
    )


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
        return shown_once(
            self, request, "admin/api/apikey/created.html", _("API key created"), key=obj,
            secret=request._api_key_secret,
        )  # fmt: skip

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


class WebhookForm(RecordForm):
    url = forms.URLField(
        label=_("address"),
        max_length=500,
        assume_scheme="https",
        help_text=_("HTTPS only, on a public address: the ally's receiver."),
    )

    class Meta:
        model = Webhook
        fields = ("ally", "url", "active")

    def clean_url(self):
        url = self.cleaned_data["url"]
        problem = webhooks.url_problem(url)
        if problem:
            raise ValidationError(problem)
        return url


@admin.register(Webhook)
class WebhookAdmin(RecordAdmin):
    """Allies' endpoints. The secret is shown once, on the page after adding one; a failing
    endpoint shows since when, and its deliveries what went wrong."""

    form = WebhookForm
    list_display = ("ally", "url", "active", "waiting", "given_up", "failing_since")
    list_filter = ("active", "ally")
    list_select_related = ("ally",)
    readonly_fields = ("synced_until", "failing_since", "created_at")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _waiting=Count("deliveries", filter=Q(deliveries__state="pending")),
                _given_up=Count("deliveries", filter=Q(deliveries__state="failed")),
            )
            .order_by("ally__name", "url")
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("ally", "url")
        return ("ally", "url", "active", "synced_until", "failing_since", "created_at")

    @admin.display(description=_("waiting"), ordering="_waiting")
    def waiting(self, obj):
        return obj._waiting

    @admin.display(description=_("given up"), ordering="_given_up")
    def given_up(self, obj):
        return obj._given_up

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        webhook, secret = webhooks.webhook_create(
            ally=form.cleaned_data["ally"], url=form.cleaned_data["url"], user=request.user
        )
        form.instance = webhook
        request._webhook_secret = secret

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def response_add(self, request, obj, post_url_continue=None):
        return shown_once(
            self, request, "admin/api/webhook/created.html", _("Webhook registered"),
            webhook=obj, secret=request._webhook_secret,
        )  # fmt: skip


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """What was sent to each webhook and how it went; a given-up delivery can be sent again."""

    list_display = ("created_at", "webhook", "record_id", "state", "attempts", "last_status")
    list_filter = ("state", "webhook__ally")
    list_select_related = ("webhook__ally",)
    actions = ("retry",)
    readonly_fields = (
        "webhook",
        "event_id",
        "record_id",
        "state",
        "attempts",
        "next_attempt_at",
        "last_status",
        "last_error",
        "created_at",
        "sent_at",
    )
    exclude = ("payload", "digest")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Send the selected deliveries again"), permissions=["change"])
    def retry(self, request, queryset):
        retried = 0
        for delivery in queryset.filter(state=WebhookDelivery.State.FAILED):
            webhooks.delivery_retry(delivery=delivery)
            retried += 1
        self.message_user(request, _("Queued again: %(n)d.") % {"n": retried})
