"""What every admin page of a record shares, so that no page can forget it:

- references are scoped: each foreign-key and many-to-many field offers, accepts and labels
  only what the user may see (the related model's `visible_to`), whether the id comes from
  the form, an inline, a `?field=` initial value or a list filter;
- versions are checked: a form carries the version it loaded, and a save over a newer one
  is refused with what changed meanwhile, even when two saves meet at the same instant;
- saves go through the services (record_save: validated, versioned, attributed)."""

import threading

import nested_admin
from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from core.audit import is_versioned
from core.history import HistoryAdmin
from core.records import record_save
from core.references import (
    keep_hidden_references,
    mask_for_display,
    restrict_to_visible,
    scope_field,
    with_kept,
)


class VisibleOnlyMixin:
    """An admin (or inline) whose queryset holds only what the user may see: the model's
    `visible_to(user)`. List, search, autocomplete, change and history pages all use it."""

    def get_queryset(self, request):
        return restrict_to_visible(super().get_queryset(request), request.user)


class ScopedReferencesMixin:
    """Every foreign-key and many-to-many field draws its choices from, and validates its
    value against, what the user may see. An id they may not see is "not a valid choice",
    and its label is never rendered (the autocomplete widget labels its value from the
    field's queryset)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return _scoped(super().formfield_for_foreignkey(db_field, request, **kwargs), request)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return _scoped(super().formfield_for_manytomany(db_field, request, **kwargs), request)


def _scoped(field, request):
    return scope_field(field, request.user)


class ScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A list filter on a related record that lists, and filters by, only the records the
    user may see: an id they may not see matches nothing and shows no label."""

    def field_choices(self, field, request, model_admin):
        related = restrict_to_visible(field.related_model._default_manager.all(), request.user)
        return [(obj.pk, str(obj)) for obj in related]

    def has_output(self):
        # Shown, and so applied, whenever a value was asked for: a hidden one matches nothing
        # rather than being silently dropped.
        return super().has_output() or bool(self.lookup_val)

    def queryset(self, request, queryset):
        chosen = self.lookup_val
        if chosen and not {str(pk) for pk, _label in self.lookup_choices} >= set(chosen):
            return queryset.none()
        return super().queryset(request, queryset)


def changes_since(model, pk: int, version: int, shown: set[str]) -> list[str]:
    """Who saved a record after `version`, when, and which of the fields `shown` to the user
    they changed: one line per revision. Never the values, nor the names of fields the user
    does not see (a witness, a contact, health notes): the loaded version comes from the
    form, so anyone can ask for the whole history."""
    records = list(model.history.filter(id=pk, version__gte=version).order_by("history_id"))
    lines = []
    for previous, record in zip(records, records[1:], strict=False):
        changed = {
            change.field
            for change in record.diff_against(previous).changes
            if model._meta.get_field(change.field).editable
        }
        labels = sorted(str(model._meta.get_field(name).verbose_name) for name in changed & shown)
        if changed - shown:
            labels.append(str(_("other fields")))
        when = date_format(timezone.localtime(record.history_date), "SHORT_DATETIME_FORMAT")
        lines.append(f"{record.history_user or '—'} ({when}): {', '.join(labels) or '—'}")
    return lines


def stale_message(model, pk: int, loaded: int, shown: set[str]) -> str:
    return _(
        "Someone else saved this record (%(record)s) while you were editing it, so your "
        "changes were not saved. Reload the page to see the current version, then apply your "
        "changes again. Changed meanwhile: %(changes)s"
    ) % {
        "record": model._meta.verbose_name,
        "changes": " | ".join(changes_since(model, pk, loaded, shown)) or "—",
    }


class RecordForm(forms.ModelForm):
    """The admin form of every record. For a versioned one it carries the version the user
    loaded; saving over a newer one is refused with what changed meanwhile, so nothing is
    silently overwritten. Its row stays locked until the save ends (inside the admin's
    transaction), so a colleague saving at the same instant waits, then gets this message."""

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    save_error: str | None = None  # set when the save itself was refused (RecordAdminMixin)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kept_hidden = keep_hidden_references(self)
        if is_versioned(self._meta.model):
            self.fields["loaded_version"].initial = self.instance.version
        else:
            del self.fields["loaded_version"]

    def clean(self):
        cleaned = super().clean()
        with_kept(self, self.kept_hidden)
        if self.save_error is not None:
            raise ValidationError(self.save_error, code="refused")
        own_key = self._meta.model._meta.pk.name
        if own_key in self.fields:
            # An inline row posts its own key back: it must be this row's, never another
            # record's (the formset would take it for a new row and fail to save it).
            row = cleaned.get(own_key)
            if row is not None and row.pk != self.instance.pk:
                raise ValidationError(
                    _("This row does not belong to this page: reload the page."), code="tampered"
                )
        if "loaded_version" not in self.fields or self.instance.pk is None:
            return cleaned
        loaded = cleaned.get("loaded_version")
        if loaded is None:
            raise ValidationError(
                _("The form came without the version you loaded: reload the page."), code="stale"
            )
        model = type(self.instance)
        stored = model._base_manager.filter(pk=self.instance.pk)
        if transaction.get_connection().in_atomic_block:
            stored = stored.select_for_update()
        current = stored.values_list("version", flat=True).first()
        if current is not None and current != loaded:
            raise ValidationError(
                stale_message(model, self.instance.pk, loaded, set(self.fields)), code="stale"
            )
        self.instance.version = loaded  # the services compare it again, under the row lock
        return cleaned

    def save(self, commit=True):
        obj = super().save(commit=False)
        if commit:
            self.save_record(obj)
            self._save_m2m()
        return obj

    def save_record(self, obj) -> None:
        """Inline rows are saved here, through their service; the history takes the
        request's user."""
        record_save(obj, user=None, reason=self.change_reason())

    def change_reason(self) -> str:
        return change_reason(self, adding=self.instance._state.adding)


def change_reason(form, *, adding: bool) -> str:
    """The history's reason for a save from an admin form: what it changed, by label; and,
    first, the reason the user typed, when the page asked for one (a counted case)."""
    typed = getattr(form, "typed_reason", "") or (
        (getattr(form, "cleaned_data", None) or {}).get("change_reason") or ""
    )
    if adding:
        done = str(_("Recorded in the admin"))
    else:
        labels = [
            str(form.fields[name].label or name)
            for name in form.changed_data
            if name in form.fields and name not in ("loaded_version", "change_reason")
        ]
        if labels:
            done = str(_("Changed in the admin: %(fields)s") % {"fields": ", ".join(labels)})
        else:
            done = str(_("Saved in the admin, nothing changed"))
    return f"{typed.strip()} ({done})" if typed.strip() else done


def with_loaded_version(fieldsets, model, editable: bool):
    """The fieldsets, the hidden `loaded_version` added to the first when the record is
    versioned and the user may change it."""
    if not (editable and is_versioned(model)) or "loaded_version" in flatten_fieldsets(fieldsets):
        return fieldsets
    (name, options), *rest = fieldsets
    return [(name, {**options, "fields": (*options["fields"], "loaded_version")}), *rest]


class RecordAdminMixin(ScopedReferencesMixin):
    """Model admins of records: scoped references, version checks, saves through record_save
    (admins with a service of their own override save_model)."""

    form = RecordForm

    def get_fieldsets(self, request, obj=None):
        editable = obj is None or self.has_change_permission(request, obj)
        return with_loaded_version(super().get_fieldsets(request, obj), self.model, editable)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        refused = getattr(request, "_save_refused", None)
        if refused is not None:
            form = type(form.__name__, (form,), {"save_error": refused})
        return form

    def save_model(self, request, obj, form, change):
        self.save_record(request, obj, reason=change_reason(form, adding=not change))

    def save_record(self, request, obj, *, reason: str) -> None:
        """Through the record's service (admins override this); record_save by default."""
        record_save(obj, user=request.user, reason=reason)

    def lookup_allowed(self, lookup, value, request=None):
        """A list is filtered only by what its filters and date hierarchy offer: a lookup
        written into the address on any other field would answer, yes or no, questions about
        values the page never shows (the origin of an import, a field of a hidden record)."""
        if not super().lookup_allowed(lookup, value, request):
            return False
        offered = {self.date_hierarchy} if self.date_hierarchy else set()
        for item in self.get_list_filter(request):
            if isinstance(item, (list, tuple)):
                offered.add(item[0])
            elif isinstance(item, str):
                offered.add(item)
            elif issubclass(item, admin.SimpleListFilter):
                offered.add(item.parameter_name)
            else:  # a FieldListFilter subclass without its field: not in this project
                return False
        return any(lookup == path or lookup.startswith(f"{path}__") for path in offered)

    def render_change_form(self, request, context, *args, **kwargs):
        mask_for_display(page_instances(context), request.user)
        return super().render_change_form(request, context, *args, **kwargs)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            # A service refused the save after the forms were valid: most often another save
            # came in between (StaleEditError). The transaction is rolled back; the same page
            # again, with what the user typed and why.
            request._save_refused = " ".join(error.messages)
            return super().changeform_view(request, object_id, form_url, extra_context)


def page_instances(context) -> list:
    """The records an admin page shows: its form's and those of its inlines, nested ones
    included."""
    found = []

    def walk(formset):
        for form in formset.forms:
            found.append(form.instance)
            for nested in getattr(form, "nested_formsets", []):
                walk(nested)

    if "adminform" in context:
        found.append(context["adminform"].form.instance)
    for inline in context.get("inline_admin_formsets", []):
        walk(inline.formset)
    return found


class RecordAdmin(RecordAdminMixin, HistoryAdmin):
    """The base of every record's model admin: history pages, nothing deleted (HistoryAdmin),
    scoped references, version checks, saves through the services."""


class ScopedNestedInlineFormSet(nested_admin.formsets.NestedInlineFormSet):
    """nested_admin's formset, bound, reads the rows it edits by the keys posted, from the
    whole table (so that rows may move between parents): a posted key of any record would
    edit that record and move it here. Here only this parent's rows can be edited."""

    def get_queryset(self):
        queryset = super().get_queryset()
        if not self.data:
            return queryset
        return queryset.filter(pk__in=self.queryset.values("pk"))


class RecordInlineMixin(ScopedReferencesMixin):
    """Inlines of records: scoped references and version checks, rows saved by
    RecordForm.save_record."""

    form = RecordForm

    def get_fieldsets(self, request, obj=None):
        editable = self.has_change_permission(request, obj) or self.has_add_permission(request, obj)
        return with_loaded_version(super().get_fieldsets(request, obj), self.model, editable)


class RequestLocalMixin:
    """For list columns and read-only fields that show each reader what they may see: the
    request being answered, kept per thread (the admin object serves every request)."""

    _local = threading.local()

    @property
    def _request(self):
        return self._local.request

    def changelist_view(self, request, extra_context=None):
        self._local.request = request
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        self._local.request = request
        return super().changeform_view(request, object_id, form_url, extra_context)
