from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import SecurityEvent
from accounts.services import access_attempts_unlock, user_deactivate

User = get_user_model()


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    """The security log: read-only, for coordinators."""

    list_display = ("occurred_at", "kind", "username", "user", "ip_address")
    list_filter = ("kind",)
    search_fields = ("username", "user__username", "ip_address")
    date_hierarchy = "occurred_at"
    list_select_related = ("user",)
    show_full_result_count = False
    readonly_fields = ("occurred_at", "kind", "user", "username", "ip_address", "details")

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
    """Staff accounts are deactivated, never deleted, so that every history row keeps its
    author. Only a superuser grants superuser status or individual permissions."""

    actions = ("deactivate",)
    list_display = ("username", "first_name", "last_name", "is_active", "is_staff", "last_login")
    list_filter = ("is_active", "is_staff", "groups")

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
        return fields

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
