"""The role × form × field walk: for every admin add and change page (inlines and nested
inlines included) and every role, each field that references another record refuses the id
of a record the role may not see, by every way such an id can arrive, and never shows its
label:

- the field itself: the hidden record is not among its choices and is not a valid value;
- a `?field=<id>` initial value on the add page;
- a post of the page, as the browser would send it, with that one field set to the id;
- a list filter given that id.

Coordinators see everything, so nothing is hidden from them; the keeper of the hidden
records is on their teams."""

import datetime

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import ModelChoiceField, ModelMultipleChoiceField
from django.urls import reverse
from nested_admin.formsets import NestedInlineFormSetMixin

from api.models import Ally
from core.admin_base import (
    RecordAdminMixin,
    RecordInlineMixin,
    ScopedNestedInlineFormSet,
)
from legal.models import Detention, Hearing, LegalAction, Proceeding
from organizations.models import Membership
from tests.factories import (
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    OrganizationFactory,
    PerpetratorFactory,
    SourceFactory,
)
from tests.forms import page_data
from tests.hidden import shows_hidden

pytestmark = pytest.mark.django_db

ROLES = ["documentalist", "reviewer", "lawyer", "analyst"]


@pytest.fixture
def visible(documentalist, reviewer, lawyer, analyst):
    """One record of each kind that every role may see (and those who may, change): their
    change pages are walked."""
    case = CaseFactory(title="Caso visible", status="draft", confidentiality="internal")
    case.team.add(documentalist, reviewer, lawyer, analyst)
    defender = DefenderFactory(full_name="Persona visible")
    incident = IncidentFactory(case=case, defender=defender, type="arbitrary_detention")
    SourceFactory(case=case, title="Fuente visible")
    detention = Detention.objects.create(incident=incident, arrested_on=datetime.date(2021, 7, 2))
    proceeding = Proceeding.objects.create(court="Tribunal visible")
    proceeding.incidents.add(incident)
    proceeding.defendants.add(defender)
    Hearing.objects.create(proceeding=proceeding, scheduled_on=datetime.date(2021, 9, 1))
    LegalAction.objects.create(
        proceeding=proceeding, kind="habeas_corpus", filed_on=datetime.date(2021, 7, 5), body="TSJ"
    )
    organization = OrganizationFactory(name="Organización visible")
    Membership.objects.create(defender=defender, organization=organization)
    return {
        "cases.case": case,
        "cases.incident": incident,
        "legal.detention": detention,
        "legal.proceeding": proceeding,
        "organizations.defender": defender,
        "organizations.organization": organization,
        "organizations.perpetrator": PerpetratorFactory(name="Cuerpo visible"),
        "api.ally": Ally.objects.create(name="Aliada visible"),
    }


def hidden_from(user, hidden) -> dict:
    """The hidden world's records `user` may not see, by model."""
    records = [
        hidden.case,
        hidden.incident,
        hidden.detention_incident,
        hidden.source,
        hidden.defender,
        hidden.detention,
        hidden.proceeding,
        hidden.batch,
    ]
    found = {}
    for record in records:
        model = type(record)
        if not model.objects.visible_to(user).filter(pk=record.pk).exists():
            found.setdefault(model, []).append(record)
    return found


def pages_of(user, visible):
    """(label, url, model admin) of each add and change page `user` may open."""
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        info = model._meta.app_label, model._meta.model_name
        request = type("Request", (), {"user": user})()
        if model_admin.has_add_permission(request):
            yield f"{label} add", reverse("admin:{}_{}_add".format(*info)), model_admin
        obj = visible.get(label)
        if obj is not None and model_admin.has_view_or_change_permission(request, obj):
            url = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
            yield f"{label} change", url, model_admin


def forms_of(response):
    """Every form on an admin page: the main one, each inline's, each nested inline's."""
    forms = [(None, response.context["adminform"].form)]

    def walk(formset):
        for form in [*formset.forms, formset.empty_form]:
            forms.append((formset, form))
            for nested in getattr(form, "nested_formsets", []):
                walk(nested)

    for inline in response.context["inline_admin_formsets"]:
        walk(inline.formset)
    return forms


def reference_fields(form):
    for name, field in form.fields.items():
        if isinstance(field, ModelChoiceField):
            yield name, field


def refuses(field, pk) -> bool:
    value = [str(pk)] if isinstance(field, ModelMultipleChoiceField) else str(pk)
    try:
        field.clean(value)
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("role", ROLES)
def test_every_reference_field_refuses_what_the_role_may_not_see(
    request, client_for, hidden, visible, role
):
    user = request.getfixturevalue(role)
    client = client_for(user)
    secret = hidden_from(user, hidden)
    assert secret, "something is hidden from every role"
    walked = 0
    failures = []
    for label, url, _model_admin in pages_of(user, visible):
        response = client.get(url, follow=True)  # an add page may lead to a page of its own
        assert response.status_code == 200, (label, response.status_code)
        assert shows_hidden(response.content.decode(), hidden) == [], label
        if "adminform" not in response.context:
            continue
        read_only = not response.context.get("has_change_permission", True) and "change" in label
        for formset, form in forms_of(response):
            template = "__prefix__" in (form.prefix or "")
            for name, field in reference_fields(form):
                # An inline row's own key: an extra row ignores it, an existing row looks it
                # up among its parent's rows only. Posted below all the same.
                own_key = formset is not None and name == formset.model._meta.pk.name
                for record in secret.get(field.queryset.model, []):
                    walked += 1
                    where = f"{label}: {form.add_prefix(name)} = {type(record).__name__}"
                    offered = field.queryset.filter(pk=record.pk).exists()
                    if not own_key and (offered or not refuses(field, record.pk)):
                        failures.append(f"{where} is offered or accepted")
                        continue
                    if not (read_only or template):
                        _post_refused(
                            client, url, response, form, name, record, hidden, where, failures
                        )
    assert failures == [], "\n".join(failures)
    assert walked > 0


def _post_refused(client, url, response, form, name, record, hidden, where, failures) -> None:
    """Post the page as loaded with one field set to `record`'s id: refused, no label."""
    data = page_data(response)
    key = form.add_prefix(name)
    value = str(record.pk)
    data[key] = [value] if isinstance(form.fields[name], ModelMultipleChoiceField) else value
    model = type(form.instance)
    before = model._default_manager.count()
    # A row the user may only read is rendered as text: its posted values are ignored.
    html = response.content.decode()
    editable = any(
        f'name="{form.add_prefix(other)}"' in html
        for other, field in form.fields.items()
        if not field.widget.is_hidden
    )
    answer = client.post(url, data)
    if answer.status_code != 200 and editable:
        failures.append(f"{where}: the post was not refused ({answer.status_code})")
        return
    leaked = shows_hidden(answer.content.decode(), hidden)
    if leaked:
        failures.append(f"{where}: the refusal shows {leaked}")
        return
    if model._default_manager.count() != before:
        failures.append(f"{where}: a record was written")
        return
    version = getattr(record, "version", None)
    record.refresh_from_db()
    if getattr(record, "version", None) != version:
        failures.append(f"{where}: the hidden record was changed")


@pytest.mark.parametrize("role", ROLES)
def test_an_initial_value_never_shows_a_hidden_label(request, client_for, hidden, visible, role):
    user = request.getfixturevalue(role)
    client = client_for(user)
    secret = hidden_from(user, hidden)
    failures = []
    for label, url, _model_admin in pages_of(user, visible):
        if not label.endswith(" add"):
            continue
        context = client.get(url, follow=True).context
        if "adminform" not in context:
            continue
        form = context["adminform"].form
        for name, field in reference_fields(form):
            for record in secret.get(field.queryset.model, []):
                page = client.get(f"{url}?{name}={record.pk}").content.decode()
                if shows_hidden(page, hidden):
                    failures.append(f"{label}?{name}={type(record).__name__}")
    assert failures == [], failures


@pytest.mark.parametrize("role", ["documentalist", "lawyer", "analyst"])  # reviewers see batches
def test_a_list_filter_given_a_hidden_id_shows_no_label(request, client_for, hidden, role):
    user = request.getfixturevalue(role)
    client = client_for(user)
    for url in ["/admin/cases/incident/", "/admin/cases/case/"]:
        response = client.get(f"{url}?import_batch__id__exact={hidden.batch.pk}")
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == []
        page = response.content.decode()
        assert hidden.batch.origin not in page and hidden.batch.file_name not in page


def test_every_admin_and_inline_applies_the_rules():
    """A new admin page cannot forget them: each registered record admin, and each of its
    inlines at any depth, has the scoped references and the version checks; a nested inline
    edits only its parent's rows."""
    from accounts.admin import LockoutAdmin, SecurityEventAdmin, UserAdmin
    from api.admin import ApiRequestAdmin

    exempt = (SecurityEventAdmin, UserAdmin, LockoutAdmin, ApiRequestAdmin)  # not records
    missing = []

    def inlines(owner):
        for inline in getattr(owner, "inlines", ()):
            yield inline
            yield from inlines(inline)

    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in {"cases", "organizations", "reports"}:
            continue
        if isinstance(model_admin, exempt):
            continue
        if not isinstance(model_admin, RecordAdminMixin):
            missing.append(type(model_admin).__name__)
        for inline in inlines(model_admin):
            if not issubclass(inline, RecordInlineMixin):
                missing.append(inline.__name__)
            nested = issubclass(inline.formset, NestedInlineFormSetMixin)
            if nested and not issubclass(inline.formset, ScopedNestedInlineFormSet):
                missing.append(f"{inline.__name__}.formset")
    assert missing == []
