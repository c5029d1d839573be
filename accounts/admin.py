from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.describe import describe
from accounts.forms import StaffChangeForm, StaffCreationForm
from accounts.models import SecurityEvent
from accounts.roles import role_of
from accounts.services import access_attempts_unlock, user_deactivate, user_role_set

User = get_user_model()


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    """The security log: read-only, for coordinators."""

    list_display = ("occurred_at", "kind", "username", "user", "ip_address", "description")
    list_filter = ("kind",)
    search_fields = ("username", "user__username", "ip_address")
    date_hierarchy = "occurred_at"
    list_select_related = ("user",)
    show_full_result_count = False
    readonly_fields = ("occurred_at", "kind", "user", "username", "ip_address", "description")
    fields = readonly_fields

    @admin.display(description=_("what happened"))
    def description(self, event):
        return describe(event)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    """Failed logins per username and address; a locked pair is unlocked here at once."""

    actions = ("unlock",)

    @admin.action(description=_("Unlock (lift the lockout now)"), permissions=["delete"])
    def unlock(self, request, queryset):
        count = access_attempts_unlock(attempts=queryset, by=request.user)
        messages.success(
            request,
            ngettext("%(count)d lockout lifted.", "%(count)d lockouts lifted.", count)
            % {"count": count},
        )


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Staff accounts: one role each, and staff exactly when they have one. Accounts are
    deactivated, never deleted, so that every history row keeps its author. Only a
    superuser grants superuser status or individual permissions."""

    form = StaffChangeForm
    add_form = StaffCreationForm
    actions = ("deactivate",)
    list_display = (
        "username",
        "full_name",
        "role",
        "two_factor",
        "last_login",
        "is_active",
    )
    list_filter = ("is_active", ("groups", admin.RelatedOnlyFieldListFilter))
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": (("first_name", "last_name"), "email")}),
        (_("Access"), {"fields": ("role", "is_active")}),
        (_("Dates"), {"classes": ("collapse",), "fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    ("first_name", "last_name"),
                    "email",
                    "role",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups", "totpdevice_set")

    @admin.display(description=_("name"))
    def full_name(self, user):
        return user.get_full_name() or "—"

    @admin.display(description=_("role"))
    def role(self, user):
        return role_of(user) or "—"

    @admin.display(description=_("second factor"), boolean=True)
    def two_factor(self, user):
        return any(device.confirmed for device in user.totpdevice_set.all())

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "role" in form.cleaned_data:
            user_role_set(user=obj, role=form.cleaned_data["role"] or None, by=request.user)

    @admin.action(description=_("Deactivate (keeps their history)"), permissions=["change"])
    def deactivate(self, request, queryset):
        count = sum(
            user_deactivate(user=user, by=request.user, request=request) for user in queryset
        )
        messages.success(
            request,
            ngettext("%(count)d account deactivated.", "%(count)d accounts deactivated.", count)
            % {"count": count},
        )
