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
from core.references import hidden_keys, mask_for_display, outsider_label

EMPTY = "—"


class ReadableHistoryContextHelper(HistoricalRecordContextHelper):
    """Readable values; no field the viewer may not see, and no record they may not see
    (a reference to one shows the neutral label)."""

    def __init__(self, *args, hidden_fields=frozenset(), viewer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_fields = hidden_fields
        self.viewer = viewer

    def context_for_delta_changes(self, delta):
        shown = [c for c in delta.changes if c.field not in self.hidden_fields]
        return super().context_for_delta_changes(dataclasses.replace(delta, changes=shown))

    def prepare_delta_change_value(self, change, value):
        field = self.model._meta.get_field(change.field)
        if isinstance(field, ManyToManyField):
            members = super().prepare_delta_change_value(change, value)
            return [self._masked(field, member) for member in members] or EMPTY
        if value is None or value == "":
            return EMPTY
        if field.is_relation:
            return self._masked(field, value)
        if field.choices:
            return dict(field.flatchoices).get(value, value)
        if isinstance(field, BooleanField):
            return _("yes") if value else _("no")
        return value

    def _masked(self, field, related):
        key = getattr(related, "pk", None)
        if self.viewer is None or key is None:
            return related
        if hidden_keys(self.viewer, field.related_model, [key]):
            return outsider_label(related)
        return related


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
        return ReadableHistoryContextHelper(
            self.model, historical_record, hidden_fields=hidden, viewer=request.user
        )

    def render_history_view(self, request, template, context, **kwargs):
        if "adminform" in context:  # an old version's page: its references, as on the form
            mask_for_display([context["adminform"].form.instance], request.user)
        return super().render_history_view(request, template, context, **kwargs)

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
