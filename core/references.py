"""References to records a user may not see, on the pages of records they may see.

A record the user may see can point at one they may not: an incident marked as a duplicate
of one in a restricted case, a court case whose defendants include a protected defender.
Wherever such a page names that record (a form field, a read-only field, the history), it
shows a label that says nothing about it; the user cannot change the reference, and saving
the page keeps it exactly as it was."""

from django.db import models
from django.forms import ModelMultipleChoiceField
from django.utils.translation import gettext_lazy as _

HIDDEN_RECORD = _("(a record you may not see)")


def restrict_to_visible(queryset, user):
    """`queryset` limited to what `user` may see (its model's `visible_to`); as it is for a
    model without one, or for someone who sees everything (no semi-join over the whole
    table: it would defeat the estimated count and the ordered index scan of a big list)."""
    manager = queryset.model._default_manager
    if not hasattr(manager, "visible_to"):
        return queryset
    visible = manager.visible_to(user)
    if not visible.query.where:
        return queryset
    return queryset.filter(pk__in=visible.values("pk"))


def outsider_label(obj) -> str:
    """How a record is named to someone who may not see it: a model whose own label is safe
    for everyone (a protected defender prints as its pseudonym) says so with
    `label_for_outsiders`; any other record is only "a record you may not see"."""
    label = getattr(obj, "label_for_outsiders", None)
    return str(label()) if label is not None else str(HIDDEN_RECORD)


def hidden_keys(user, model, keys) -> set:
    """Of the primary keys `keys` of `model`, those `user` may not see."""
    keys = {key for key in keys if key is not None}
    if not keys:
        return set()
    asked = model._default_manager.filter(pk__in=keys)
    visible = restrict_to_visible(asked, user)
    if visible is asked:  # the user sees every record of this model
        return set()
    return keys - set(visible.values_list("pk", flat=True))


def is_scoped(field) -> bool:
    """Whether a form field's choices were limited to what the user may see."""
    return getattr(field, "unrestricted", None) is not None


def scope_field(field, user):
    """Limit a reference form field's choices, and so its valid values, to what `user` may
    see; the unrestricted choices stay on it, for keep_hidden_references."""
    if field is None or getattr(field, "queryset", None) is None:
        return field
    restricted = restrict_to_visible(field.queryset, user)
    if restricted is not field.queryset:
        field.unrestricted = field.queryset
        field.queryset = restricted
    return field


def keep_hidden_references(form) -> dict[str, set]:
    """Prepare the form of an existing record so that the references it holds to records the
    user may not see are shown neutrally and kept. A foreign key to such a record is shown
    with the neutral label and cannot be changed (a disabled field keeps its value); the
    hidden members of a many-to-many are left out of the field, and returned by field name
    so that the form adds them back when it saves."""
    kept = {}
    if form.instance.pk is None:
        return kept
    for name, field in form.fields.items():
        if not is_scoped(field):
            continue
        if isinstance(field, ModelMultipleChoiceField):
            members = {_key(value): value for value in form.initial.get(name) or ()}
            hidden = _not_offered(field, set(members))
            if hidden:
                kept[name] = hidden
                form.initial[name] = [key for key in members if key not in hidden]
                labels = sorted(
                    outsider_label(member)
                    for key, member in members.items()
                    if key in hidden and isinstance(member, models.Model)
                )
                field.help_text = _join(
                    field.help_text,
                    _("Also, and kept as it is, what you may not see: %(records)s.")
                    % {"records": "; ".join(labels) or len(hidden)},
                )
            continue
        key = _key(form.initial.get(name))
        cached = form.instance._state.fields_cache.get(name)
        if key is None or getattr(cached, "visible_to_all_staff", False):
            continue
        if _not_offered(field, {key}):
            _show_as_hidden(field, key)
    return kept


def with_kept(form, kept: dict[str, set]) -> None:
    """Add back, to the cleaned many-to-many values, the members the user could not see."""
    for name, hidden in kept.items():
        if name in form.cleaned_data:
            field = form.fields[name]
            chosen = list(form.cleaned_data[name] or [])
            form.cleaned_data[name] = chosen + list(field.unrestricted.filter(pk__in=hidden))


def _key(value):
    return value.pk if isinstance(value, models.Model) else value


def _not_offered(field, keys: set) -> set:
    keys = {key for key in keys if key not in (None, "")}
    if not keys:
        return set()
    offered = set(field.queryset.filter(pk__in=keys).values_list("pk", flat=True))
    return {key for key in keys if _as_key(field, key) not in offered}


def _as_key(field, key):
    return field.queryset.model._meta.pk.to_python(key)


def _show_as_hidden(field, key) -> None:
    model = field.queryset.model
    field.queryset = field.unrestricted.filter(
        models.Q(pk=key) | models.Q(pk__in=field.queryset.values("pk"))
    )
    field.disabled = True
    shown_as = field.label_from_instance
    hidden = _as_key(field, key)
    field.label_from_instance = lambda obj: (
        outsider_label(obj) if obj.pk == hidden else shown_as(obj)
    )
    field.help_text = _join(
        field.help_text,
        _("You may not see the %(model)s this refers to: it stays as it is.")
        % {"model": model._meta.verbose_name},
    )
    widget = field.widget  # the admin's wrapper would link to the hidden record's pages
    for link in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
        if hasattr(widget, link):
            setattr(widget, link, False)


def _join(help_text, addition) -> str:
    return f"{help_text} {addition}".strip() if help_text else str(addition)


class HiddenRecord:
    """Stands in, on a page being rendered, for a referenced record the user may not see:
    its key, so that links still resolve to "not found", and the neutral label."""

    def __init__(self, obj):
        self.pk = obj.pk
        setattr(self, type(obj)._meta.pk.attname, obj.pk)
        self._label = outsider_label(obj)

    def __str__(self):
        return self._label


def mask_for_display(instances, user) -> None:
    """Replace, on `instances` about to be rendered, each referenced record `user` may not
    see by a HiddenRecord, so that a read-only field prints the neutral label. One query per
    related model, however many instances. Only for display: the instances must not be saved
    afterwards."""
    instances = [obj for obj in instances if obj is not None and obj.pk is not None]
    wanted = {}  # (instance, field) pairs per related model
    for obj in instances:
        for field in _references(type(obj)):
            if field.many_to_many:
                for member in getattr(obj, field.name).all():
                    wanted.setdefault(field.related_model, []).append((obj, field, member.pk))
                continue
            key = getattr(obj, field.attname)
            cached = obj._state.fields_cache.get(field.name)
            if key is not None and not getattr(cached, "visible_to_all_staff", False):
                wanted.setdefault(field.related_model, []).append((obj, field, key))
    for model, references in wanted.items():
        hidden = hidden_keys(user, model, [key for _obj, _field, key in references])
        masked = {
            (id(obj), field.name): (obj, field) for obj, field, key in references if key in hidden
        }
        for obj, field in masked.values():
            _mask(obj, field, hidden)


def _references(model):
    for field in model._meta.get_fields():
        if (
            field.is_relation
            and not field.auto_created
            and field.editable
            and field.related_model is not None
            and hasattr(field.related_model._default_manager, "visible_to")
        ):
            yield field


def _mask(obj, field, hidden: set) -> None:
    if field.many_to_many:
        members = list(getattr(obj, field.name).all())
        shown = [HiddenRecord(m) if m.pk in hidden else m for m in members]
        cache = field.related_model._base_manager.none()
        cache._result_cache, cache._prefetch_done = shown, True
        if not hasattr(obj, "_prefetched_objects_cache"):
            obj._prefetched_objects_cache = {}
        obj._prefetched_objects_cache[field.name] = cache
    else:
        field.set_cached_value(obj, HiddenRecord(getattr(obj, field.name)))
