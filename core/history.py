"""The admin's history pages: read-only and readable. Labels instead of codes, "—" for
empty; a long text shown whole with the words that changed marked; a change of status shown
as a change; the values a record was created with; and a 404 rather than a crash for a
malformed address."""

import dataclasses
import difflib

from django.contrib.admin.utils import unquote
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import BooleanField, ManyToManyField
from django.http import Http404
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import ModelChange, ModelDelta
from simple_history.template_utils import HistoricalRecordContextHelper

from core.pagination import LargeTablePaginator
from core.references import hidden_keys, mask_for_display, outsider_label

EMPTY = "—"
LONG_TEXT = 40  # characters from which a changed text is shown with its changed words marked


def shown_fields(model) -> set[str]:
    """The fields a history page shows: what people edit, the status-like fields the
    workflow moves (not editable, with choices) and the many-to-many ones."""
    history = model.history.model
    fields = {field.name for field in history.tracked_fields if field.editable or field.choices}
    return fields | {field.name for field in history._history_m2m_fields}


def _moved_fields(model) -> list:
    """The fields the workflow moves: not editable, so simple-history's diff skips them."""
    return [f for f in model.history.model.tracked_fields if not f.editable and f.choices]


def history_delta(newer, older):
    """What changed from `older` to `newer`, as the history pages show it: a change of
    status included."""
    delta = newer.diff_against(older, foreign_keys_are_objs=True)
    moved = [
        ModelChange(field.name, getattr(older, field.attname), getattr(newer, field.attname))
        for field in _moved_fields(newer.instance_type)
        if getattr(older, field.attname) != getattr(newer, field.attname)
    ]
    if not moved:
        return delta
    return dataclasses.replace(
        delta,
        changes=[*moved, *delta.changes],
        changed_fields=[*(change.field for change in moved), *delta.changed_fields],
    )


def created_delta(record):
    """The values a record was created with, as a delta from nothing."""
    model = record.instance_type
    changes = []
    for field in record.tracked_fields:
        if field.name not in shown_fields(model) or field.primary_key:
            continue
        try:
            value = (
                getattr(record, field.name)
                if field.is_relation
                else field.value_from_object(record)
            )
        except ObjectDoesNotExist:
            value = None
        if value not in (None, "", False):
            changes.append(ModelChange(field.name, None, value))
    return ModelDelta(changes, [change.field for change in changes], None, record)


class WholeText:
    """simple-history shortens long values to "En el[107 chars]o de 2021…": not here."""

    def common_shorten_repr(self, *args):
        return args


def marked_words(old: str, new: str) -> tuple[str, str]:
    """`old` and `new`, escaped, with the words taken out and put in marked."""
    before, after = old.split(" "), new.split(" ")
    old_html, new_html = [], []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for operation, a1, a2, b1, b2 in matcher.get_opcodes():
        removed = escape(" ".join(before[a1:a2]))
        added = escape(" ".join(after[b1:b2]))
        if operation == "equal":
            old_html.append(removed)
            new_html.append(added)
            continue
        if removed:
            old_html.append(f"<del>{removed}</del>")
        if added:
            new_html.append(f"<ins>{added}</ins>")
    return mark_safe(" ".join(old_html)), mark_safe(" ".join(new_html))  # nosec: escaped above


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

    def get_obj_diff_display(self):
        return WholeText()

    def stringify_delta_change_values(self, change, old, new):
        if isinstance(old, str) and isinstance(new, str) and EMPTY not in (old, new):
            if max(len(old), len(new)) >= LONG_TEXT:
                return marked_words(old, new)
        return super().stringify_delta_change_values(change, old, new)

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

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        """Each record's changes from the one before it (newest first, as listed); the
        creation, when it is on this page, with the values it was made with."""
        records = list(historical_records)
        for newer, older in zip(records, records[1:], strict=False):
            helper = self.get_historical_record_context_helper(request, newer)
            newer.history_delta_changes = helper.context_for_delta_changes(
                history_delta(newer, older)
            )
        if records and records[-1].history_type == "+":
            oldest = records[-1]
            helper = self.get_historical_record_context_helper(request, oldest)
            oldest.history_delta_changes = helper.context_for_delta_changes(created_delta(oldest))

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
