"""The admin's history pages: read-only, readable (labels instead of codes, "—" for empty),
and a 404 rather than a crash for a malformed address."""

import dataclasses

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import BooleanField, ManyToManyField
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from core.pagination import LargeTablePaginator

EMPTY = "—"


class ReadableHistoryContextHelper(HistoricalRecordContextHelper):
    def __init__(self, *args, hidden_fields=frozenset(), **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_fields = hidden_fields

    def context_for_delta_changes(self, delta):
        shown = [c for c in delta.changes if c.field not in self.hidden_fields]
        return super().context_for_delta_changes(dataclasses.replace(delta, changes=shown))

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
    """Every audited model's admin: history shows who changed which field, from what to what;
    nothing is deleted."""

    show_full_result_count = False
    paginator = LargeTablePaginator

    def history_hidden_fields(self, request, obj) -> frozenset[str]:
        """Fields of `obj` this user may not see, so its history must not show them either."""
        return frozenset()

    def get_historical_record_context_helper(self, request, historical_record):
        hidden = self.history_hidden_fields(request, request._history_object)
        return ReadableHistoryContextHelper(self.model, historical_record, hidden_fields=hidden)

    def has_delete_permission(self, request, obj=None):
        # Nothing in the domain is deleted: cases are retracted, incidents marked as
        # duplicates, and foreign keys PROTECT what they point to.
        return False

    def _valid_object_id(self, object_id) -> None:
        try:
            self.model._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            raise Http404 from None

    def _visible_object(self, request, object_id):
        # simple-history falls back to the history table for objects the queryset does not
        # return (meant for deleted ones): that would show restricted records. Nothing is
        # deleted here, so what the user's queryset does not hold does not exist for them.
        self._valid_object_id(object_id)
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        return obj

    def history_view(self, request, object_id, extra_context=None):
        request._history_object = self._visible_object(request, object_id)
        return super().history_view(request, object_id, extra_context=extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # History is append-only. SIMPLE_HISTORY_REVERT_DISABLED only hides the button:
        # simple-history would still save an old version posted here, past the workflow and
        # with nothing but view permission (django-simple-history#1362). Only reading is allowed.
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        self._visible_object(request, object_id)
        if not str(version_id).isdigit():
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)
