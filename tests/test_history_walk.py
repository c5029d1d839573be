"""Every write goes through a service that names who did it and why: a walk of every audited
model's admin change page (and the rows of its inlines), each saved with a change, fails on
a history row without a user or with an empty or "None" reason."""

import datetime

import pytest
from django import forms
from django.contrib import admin
from django.urls import reverse

from api.models import Ally
from cases.models import Case
from core.audit import chained_history_models
from legal.models import Detention, Hearing, LegalAction, Proceeding, Transfer
from organizations.models import Membership
from tests.factories import (
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    InvolvementFactory,
    OrganizationFactory,
    PerpetratorFactory,
    SourceFactory,
)
from tests.forms import form_data, page_data

pytestmark = pytest.mark.django_db


def records() -> dict:
    """A record of each audited kind (with a row in each of its inlines)."""
    case = CaseFactory(title="Caso", status=Case.Status.DRAFT, confidentiality="internal")
    defender = DefenderFactory(full_name="Persona")
    incident = IncidentFactory(case=case, defender=defender, type="arbitrary_detention")
    InvolvementFactory(incident=incident, perpetrator=PerpetratorFactory(name="Cuerpo"))
    SourceFactory(case=case, title="Fuente")
    organization = OrganizationFactory(name="Organización")
    Membership.objects.create(defender=defender, organization=organization, role="miembro")
    detention = Detention.objects.create(incident=incident, arrested_on=datetime.date(2021, 7, 2))
    Transfer.objects.create(detention=detention, moved_on=datetime.date(2021, 7, 3), place="A")
    proceeding = Proceeding.objects.create(court="Tribunal")
    proceeding.defendants.add(defender)
    proceeding.incidents.add(incident)
    Hearing.objects.create(proceeding=proceeding, scheduled_on=datetime.date(2021, 9, 1))
    LegalAction.objects.create(
        proceeding=proceeding, kind="habeas_corpus", filed_on=datetime.date(2021, 7, 5), body="X"
    )
    return {
        model: model.objects.first()
        for model in admin.site._registry
        if hasattr(model, "history") and model.objects.exists()
    } | {Ally: Ally.objects.create(name="Aliada")}


def changed(form: forms.BaseForm) -> dict:
    """The form's data with one of its values changed: a text appended to, or another choice."""
    data = form_data(form)
    for name, field in form.fields.items():
        key, widget = form.add_prefix(name), field.widget
        if field.disabled or widget.is_hidden or name in ("loaded_version", "DELETE"):
            continue
        if isinstance(field, forms.CharField) and isinstance(
            widget, forms.TextInput | forms.Textarea
        ):
            data[key] = f"{data.get(key, '')} (editado)".strip()
            return data
    for name, field in form.fields.items():
        key = form.add_prefix(name)
        if isinstance(field, forms.TypedChoiceField | forms.ChoiceField) and not isinstance(
            field, forms.ModelChoiceField
        ):
            others = [str(v) for v, _label in field.choices if v and str(v) != data.get(key)]
            if others:
                data[key] = others[0]
                return data
    return data


def test_every_admin_save_is_attributed_with_a_reason(client_for, coordinator):
    client = client_for(coordinator)
    objects = records()
    before = {
        m: (m.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
        for m in chained_history_models()
    }
    walked = []
    for model, obj in objects.items():
        info = model._meta.app_label, model._meta.model_name
        url = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
        page = client.get(url)
        if not page.context or "adminform" not in page.context:
            continue
        if not page.context.get("has_change_permission"):
            continue
        data = page_data(page)
        data.update(changed(page.context["adminform"].form))
        for inline in page.context["inline_admin_formsets"]:
            for form in inline.formset.initial_forms:
                data.update(changed(form))
        response = client.post(url, data)
        assert response.status_code == 302, (model, response.context and response.context["errors"])
        walked.append(model.__name__)
    assert {"Case", "Defender", "Detention", "Proceeding"} <= set(walked)
    problems = []
    for history in chained_history_models():
        if not hasattr(history, "history_change_reason"):
            continue  # a many-to-many field's rows: their parent row carries who and why
        for row in history.objects.filter(pk__gt=before[history]):
            reason = row.history_change_reason
            if row.history_user_id is None or not reason or reason == "None":
                problems.append(
                    f"{history._meta.db_table} {row.pk}: {row.history_user_id} {reason!r}"
                )
    assert problems == []
