"""The case page's widgets and formsets that take what they show from objects already loaded:
a case with 50 incidents opens with as many queries as a case with one."""

from django.contrib.admin.widgets import AutocompleteSelect

from core.admin_base import ScopedNestedInlineFormSet


class PreloadedAutocomplete(AutocompleteSelect):
    """An autocomplete that shows its current value from the object the form already holds
    (select_related / prefetch), not with one query per widget: a case with 50 incidents and
    their perpetrators opens with the same number of queries as a case with one."""

    preloaded: dict | None = None

    def optgroups(self, name, value, attr=None):
        chosen = [str(v) for v in value if str(v) not in self.choices.field.empty_values]
        objects = self.preloaded or {}
        if len(chosen) != 1 or chosen[0] not in objects:
            return super().optgroups(name, value, attr)
        options = []
        if not self.is_required:
            options.append(self.create_option(name, "", "", False, 0))
        label = self.choices.field.label_from_instance(objects[chosen[0]])
        options.append(self.create_option(name, chosen[0], label, set(chosen), len(options)))
        return [(None, options, 0)]


class PreloadedWidgetsMixin:
    """Model admins and inlines whose autocomplete widgets use the form's loaded objects."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = PreloadedAutocomplete(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class PreloadedFormMixin:
    """Hands each autocomplete widget the related object already loaded on the instance."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cache = self.instance._state.fields_cache
        for name, field in self.fields.items():
            widget = getattr(field.widget, "widget", field.widget)  # inside the admin's wrapper
            related = cache.get(name)
            if isinstance(widget, PreloadedAutocomplete) and related is not None:
                widget.preloaded = {str(related.pk): related}


class PrefetchedInlineFormSet(ScopedNestedInlineFormSet):
    """An inline formset that takes its rows from the parent's prefetched relation, when
    there is one, instead of one query per parent form."""

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            accessor = self.fk.remote_field.get_accessor_name()
            prefetched = getattr(self.instance, "_prefetched_objects_cache", {}).get(accessor)
            if prefetched is not None and not self.queryset.query.where.children[1:]:
                self._queryset = prefetched
            else:
                return super().get_queryset()
        return self._queryset
