"""A record the user may see that points at one they may not: its pages name that record
neutrally (form, read-only field, history, old versions), and saving them keeps the
reference as it was, neither dropped nor refused."""

import pytest
from django.urls import reverse

from cases import services
from cases.admin_duplicates import incident_facts
from cases.models import Case
from legal.models import Proceeding
from tests.factories import CaseFactory, DefenderFactory, IncidentFactory
from tests.forms import page_data
from tests.hidden import shows_hidden

pytestmark = pytest.mark.django_db

ROLES = ["documentalist", "reviewer", "lawyer", "analyst"]


@pytest.fixture
def duplicate(hidden, coordinator):
    """A visible incident marked (by a coordinator) as a duplicate of a restricted one."""
    case = CaseFactory(title="Caso interno visible", status="draft", confidentiality="internal")
    incident = IncidentFactory(
        case=case,
        defender=DefenderFactory(full_name="Persona visible"),
        type="arbitrary_detention",
        occurred_on=hidden.detention_incident.occurred_on,
    )
    incident.duplicate_of = hidden.detention_incident
    services.incident_save(incident=incident, user=coordinator)
    return incident


@pytest.fixture
def proceeding(hidden, coordinator):
    """A court case shared by a visible defendant and the hidden protected one (a court case
    over a restricted incident is itself hidden)."""
    visible = IncidentFactory(
        case=CaseFactory(title="Caso visible", status="draft", confidentiality="internal"),
        type="judicial_harassment",
    )
    proceeding = Proceeding.objects.create(court="Tribunal visible")
    proceeding.defendants.add(DefenderFactory(full_name="Acusada visible"), hidden.defender)
    proceeding.incidents.add(visible)
    return proceeding


@pytest.mark.parametrize("role", ROLES)
def test_no_page_of_the_duplicate_names_the_hidden_original(
    request, client_for, hidden, duplicate, role
):
    client = client_for(request.getfixturevalue(role))
    pages = [
        reverse("admin:cases_case_change", args=[duplicate.case_id]),
        reverse("admin:cases_incident_change", args=[duplicate.pk]),
        reverse("admin:cases_incident_history", args=[duplicate.pk]),
        reverse("admin:cases_case_history", args=[duplicate.case_id]),
    ]
    pages += [
        reverse("admin:cases_incident_simple_history", args=[duplicate.pk, record.history_id])
        for record in duplicate.history.all()
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert shows_hidden(response.content.decode(), hidden) == [], url


def test_the_history_names_the_hidden_original_neutrally(client_for, analyst, duplicate):
    page = client_for(analyst).get(reverse("admin:cases_incident_history", args=[duplicate.pk]))
    assert "(un registro que usted no puede ver)" in page.content.decode()


def test_a_reviewer_saving_the_duplicate_keeps_its_hidden_original(
    client_for, reviewer, hidden, duplicate
):
    client = client_for(reviewer)
    url = reverse("admin:cases_incident_change", args=[duplicate.pk])
    page = client.get(url)
    assert "(un registro que usted no puede ver)" in page.content.decode()
    data = page_data(page)
    data["description"] = "Corrijo una coma"
    data["duplicate_of"] = ""  # a disabled field: whatever is posted, it stays
    assert client.post(url, data).status_code == 302
    duplicate.refresh_from_db()
    assert duplicate.description == "Corrijo una coma"
    assert duplicate.duplicate_of_id == hidden.detention_incident.pk


def test_a_documentalist_can_save_an_internal_case_naming_a_protected_defender(
    client_for, documentalist, hidden
):
    internal = Case.objects.get(title="Caso interno con una defensora protegida")
    client = client_for(documentalist)
    url = reverse("admin:cases_case_change", args=[internal.pk])
    data = page_data(client.get(url))
    data["summary"] = "Un resumen"
    assert client.post(url, data).status_code == 302
    internal.refresh_from_db()
    assert internal.summary == "Un resumen"
    assert internal.incidents.get().defender == hidden.defender


def test_a_lawyer_saving_a_court_case_keeps_what_they_may_not_see(
    client_for, lawyer, hidden, proceeding
):
    client = client_for(lawyer)
    url = reverse("admin:legal_proceeding_change", args=[proceeding.pk])
    page = client.get(url)
    html = page.content.decode()
    assert "OCULTO" not in html  # the protected defendant is named by their pseudonym
    assert f"lo que usted no puede ver: {hidden.defender.pseudonym}." in html
    data = page_data(page)
    data["judge"] = "Juez X"
    assert client.post(url, data).status_code == 302
    proceeding.refresh_from_db()
    assert proceeding.judge == "Juez X"
    assert hidden.defender in proceeding.defendants.all()
    assert proceeding.defendants.count() == 2 and proceeding.incidents.count() == 1


def test_read_only_pages_name_hidden_references_neutrally(
    client_for, analyst, hidden, proceeding, duplicate
):
    client = client_for(analyst)
    for url, label in [
        (reverse("admin:legal_proceeding_change", args=[proceeding.pk]), hidden.defender.pseudonym),
        (reverse("admin:cases_incident_change", args=[duplicate.pk]), "(un registro que usted no"),
    ]:
        response = client.get(url)
        assert response.status_code == 200
        assert not response.context["has_change_permission"], url
        html = response.content.decode()
        assert "OCULTO" not in html, url
        assert str(label) in html, url


def test_the_duplicate_review_does_not_show_the_hidden_originals_id(reviewer, hidden, duplicate):
    facts = dict(incident_facts(duplicate, reviewer))
    assert facts["duplicado de"] == "(un registro que usted no puede ver)"
    assert str(hidden.detention_incident.public_id) not in str(facts)
