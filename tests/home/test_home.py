"""Each role lands on its own home page: what waits for it, nothing it may not see."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from accounts.models import SecurityEvent
from api.services import api_key_create
from cases import services
from reports.services import month_publish
from tests.factories import SHARED, CaseFactory, IncidentFactory, submitted_case
from tests.hidden import shows_hidden

pytestmark = pytest.mark.django_db
HOME = "/admin/"


def test_a_lawyer_lands_on_the_legal_dashboard(client_for, lawyer):
    response = client_for(lawyer).get(HOME)
    assert response.status_code == 302 and response["Location"] == reverse("legal:dashboard")


@pytest.mark.parametrize(
    ("role", "heading"),
    [
        ("documentalist", "Mis borradores"),
        ("reviewer", "Esperando revisión"),
        ("analyst", "Doce meses"),
        ("coordinator", "El equipo esta semana"),
    ],
)
def test_each_role_lands_on_its_home_and_sees_nothing_hidden(
    request, client_for, hidden, role, heading
):
    page = client_for(request.getfixturevalue(role)).get(HOME)
    html = page.content.decode()
    assert page.status_code == 200 and heading in html
    assert "AXES" not in html and "Acciones recientes" not in html
    if role != "coordinator":
        assert shows_hidden(html, hidden) == []


def test_a_documentalist_finds_the_case_sent_back_and_why(client_for, documentalist, reviewer):
    case = submitted_case(documentalist, "Allanamiento en Coro")
    services.case_send_back(case=case, user=reviewer, reason="Falta la fuente original")
    html = client_for(documentalist).get(HOME).content.decode()
    sent_back = html.split('id="sent-back"')[1].split("</section>")[0]
    assert "Allanamiento en Coro" in sent_back and "Falta la fuente original" in sent_back


def test_the_review_queue_says_who_sent_each_case_and_how_long_it_waits(
    client_for, documentalist, reviewer
):
    submitted_case(documentalist, "Detención en Barinas")
    html = client_for(reviewer).get(HOME).content.decode()
    queue = html.split('id="review-queue"')[1].split("</section>")[0]
    assert "Detención en Barinas" in queue and "documentalista" in queue and "0 días" in queue


def test_records_an_import_created_are_pointed_out_to_check(client_for, reviewer):
    from tests.cases.intake.rows import row, run

    run(reviewer, [row(organizacion_victima="FundaRedes")])  # a new person and organization
    html = client_for(reviewer).get(HOME).content.decode()
    assert "1 persona de una importación por revisar" in html
    assert "1 organización de una importación por revisar" in html
    assert "/admin/organizations/defender/?needs_review__exact=1&amp;merged=no" in html
    assert "1 perpetrador de una importación por revisar" in html  # SEBIN, new here


def test_a_published_case_changed_since_publication_is_pointed_out(
    client_for, documentalist, reviewer
):
    case = submitted_case(documentalist, "Caso publicado")
    services.case_verify(case=case, user=reviewer)
    services.case_publish(case=case, user=reviewer)
    html = client_for(reviewer).get(HOME).content.decode()
    assert "Caso publicado" not in html.split('id="edited-published"')[1].split("</section>")[0]
    incident = case.incidents.get()
    incident.description = "Cambio posterior"
    services.incident_save(incident=incident, user=documentalist, reason="errata")
    html = client_for(reviewer).get(HOME).content.decode()
    assert "Caso publicado" in html.split('id="edited-published"')[1].split("</section>")[0]


def test_an_analyst_sees_which_months_were_published_and_revised(client_for, analyst, reviewer):
    from django.utils import timezone

    from reports.selectors import previous_month

    today = timezone.localdate()
    year, month = previous_month(today.year, today.month)
    IncidentFactory(case=CaseFactory(**SHARED), occurred_on=datetime.date(year, month, 3))
    month_publish(year=year, month=month, user=reviewer)
    IncidentFactory(case=CaseFactory(**SHARED), occurred_on=datetime.date(year, month, 4))
    html = client_for(analyst).get(HOME).content.decode()
    months = html.split('id="months"')[1].split("</section>")[0]
    assert "versión 1: 1" in months and "revisado desde entonces" in months


def test_a_coordinator_sees_locks_expiring_keys_and_the_last_check(
    client_for, coordinator, ally, settings
):
    AccessAttempt.objects.create(
        username="documentalista", ip_address="10.0.0.7", failures_since_start=9
    )
    key, _secret = api_key_create(ally=ally, user=coordinator, name="por vencer", days=10)
    SecurityEvent.objects.create(
        kind=SecurityEvent.Kind.AUDIT_BROKEN, details={"problems": ["Fila 7 cambiada"]}
    )
    html = client_for(coordinator).get(HOME).content.decode()
    security = html.split('id="security"')[1].split("</section>")[0]
    assert "documentalista" in security and "por vencer" in security
    assert "Fila 7 cambiada" in security


def test_the_sections_page_groups_security_for_coordinators_only(
    client_for, coordinator, documentalist
):
    sections = reverse("admin:sections")
    html = client_for(coordinator).get(sections).content.decode()
    assert "Seguridad" in html and "Registro de seguridad" in html and "AXES" not in html
    html = client_for(documentalist).get(sections).content.decode()
    assert "Registro de seguridad" not in html and "Casos" in html


def test_a_database_of_past_years_opens_on_its_last_months(client_for, analyst):
    IncidentFactory(case=CaseFactory(**SHARED), occurred_on=datetime.date(2021, 7, 3))
    html = client_for(analyst).get(HOME).content.decode()
    months = html.split('id="months"')[1].split("</section>")[0]
    assert "julio 2021" in months and "agosto 2020" in months and "2022" not in months
