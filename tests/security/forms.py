"""Turn an admin page's forms back into what a browser would post."""

from django import forms
from django.forms.widgets import Input


def form_data(form: forms.BaseForm) -> dict:
    """The values `form` shows, as a browser would send them back unchanged."""
    data = {}
    for name, field in form.fields.items():
        widget = field.widget
        value = form[name].value()
        key = form.add_prefix(name)
        if isinstance(widget, forms.CheckboxInput):
            if widget.check_test(value):
                data[key] = "on"
        elif isinstance(value, list | tuple):
            data[key] = ["" if v is None else str(v) for v in value]
        elif isinstance(widget, Input | forms.Textarea):
            shown = widget.format_value(value)
            data[key] = "" if shown is None else str(shown)
        else:
            data[key] = "" if value is None else str(value)
    return data


def formset_data(formset) -> dict:
    data = form_data(formset.management_form)
    for form in formset.forms:
        data.update(form_data(form))
        for nested in getattr(form, "nested_formsets", []):
            data.update(formset_data(nested))
    return data


def page_data(response) -> dict:
    """Everything the admin add or change page in `response` would post back as loaded."""
    data = form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data.update(formset_data(inline.formset))
    return data
