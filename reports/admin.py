from django.contrib import admin

from core.admin_base import RecordAdmin
from reports.models import MonthlySnapshot


@admin.register(MonthlySnapshot)
class MonthlySnapshotAdmin(RecordAdmin):
    """Published months: read-only (published from the report page)."""

    list_display = ("period", "version", "published_by", "published_at")
    list_select_related = ("published_by",)
    readonly_fields = ("period", "version", "figures", "published_by", "published_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
