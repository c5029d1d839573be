"""The admin's history pages, made readable: labels instead of codes, "—" for empty."""

from django.db.models import BooleanField, ManyToManyField
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

EMPTY = "—"


class ReadableHistoryContextHelper(HistoricalRecordContextHelper):
    def prepare_delta_change_value(self, change, value):
        field = self.model._meta.get_field(change.field)
        if isinstance(field, ManyToManyField):
            return super().prepare_delta_change_value(change, value) or EMPTY
        if value is None or value == "":
            return EMPTY
        if field.choices:
            return dict(field.flatchoices).get(value, value)
        if isinstance(field, BooleanField):
            return _("yes") if value else _("no")
        return value


class HistoryAdmin(SimpleHistoryAdmin):
    """Every audited model's admin: history shows who changed which field, from what to what."""

    show_full_result_count = False

    def get_historical_record_context_helper(self, request, historical_record):
        return ReadableHistoryContextHelper(self.model, historical_record)
