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
        elif isinstance(widget, forms.CheckboxSelectMultiple):
            if value:  # unticked boxes send nothing
                data[key] = [str(v) for v in value]
            if field.show_hidden_initial:  # what the page showed, sent back with it
                data[form.add_initial_prefix(name)] = [str(v) for v in value or ()]
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


def management(prefix, total, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def loaded(data, case):
    """Add the versions a browser would send back: those shown when the page was opened."""
    data["loaded_version"] = str(case.version)
    for i, incident in enumerate(case.incidents.order_by("pk")):
        data[f"incidents-{i}-loaded_version"] = str(incident.version)
        data[f"incidents-{i}-case"] = str(case.pk)
    return data


def case_form(incidents, sources=(), **case_fields):
    """POST data for the nested case form: incidents with their perpetrators, and sources."""
    data = {
        "title": "Detención de activistas en Coro",
        "summary": "",
        "state": "VE-I",
        "place": "Coro",
        "confidentiality": "internal",
        **case_fields,
        **management("incidents", len(incidents)),
        **management("sources", len(sources)),
    }
    for i, incident in enumerate(incidents):
        perpetrators = incident.pop("perpetrators", [])
        fields = {
            "type": "arbitrary_detention",
            "occurred_on": "02/07/2021",
            "date_precision": "day",
            "defender": "",
            "organization": "",
            "state": "VE-I",
            "municipality": "",
            "description": "",
            "duplicate_of": "",
            **incident,
        }
        data.update({f"incidents-{i}-{key}": value for key, value in fields.items()})
        data.update(management(f"incidents-{i}-involvements", len(perpetrators)))
        for j, (perpetrator, role) in enumerate(perpetrators):
            data[f"incidents-{i}-involvements-{j}-perpetrator"] = str(perpetrator.pk)
            data[f"incidents-{i}-involvements-{j}-role"] = role
    for i, source in enumerate(sources):
        fields = {"kind": "press", "reliability": "probable", "title": "Nota", **source}
        data.update({f"sources-{i}-{key}": value for key, value in fields.items()})
    return data
