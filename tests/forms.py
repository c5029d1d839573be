"""Turn an admin page's forms back into what a browser would post."""

from html.parser import HTMLParser

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
    """Everything the admin add or change page in `response` would post back as loaded: a
    select posts only the options the page rendered as selected, a disabled field nothing."""
    data = form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data.update(formset_data(inline.formset))
    page = _Controls()
    page.feed(response.content.decode())
    for name in page.disabled:
        data.pop(name, None)
    for name, chosen in page.selected.items():
        if name in data and name not in page.disabled:
            data[name] = chosen if isinstance(data[name], list) else (chosen or [""])[0]
    return data


class _Controls(HTMLParser):
    """The selected options of each select on a page, and the disabled controls."""

    def __init__(self):
        super().__init__()
        self.selected: dict[str, list[str]] = {}
        self.disabled: set[str] = set()
        self._select = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        name = attributes.get("name")
        if tag in ("select", "input", "textarea") and name and "disabled" in attributes:
            self.disabled.add(name)
        if tag == "select":
            self._select = name
            self.selected.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attributes:
            self.selected[self._select].append(attributes.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
