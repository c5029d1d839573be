"""A lawyer who learns of an arrest opens its record at once: the case, its
arbitrary-detention incident, the source and the detention, sent to review like any case."""

import datetime

import pytest
from django.utils import timezone

from cases.models import Case
from legal.models import Detention
from notifications.models import Notification
from tests.factories import PerpetratorFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


def arrest_data(**changes):
    data = {
        "full_name": "Activista Detenido",
        "arrested_on": (TODAY - datetime.timedelta(days=1)).isoformat(),
        "arrested_at": "06:30",
        "arrest_place": "Coro",
        "state": "VE-I",
        "place_of_detention": "Sede del SEBIN",
        "status": "incommunicado",
        "counsel": "chosen",
        "summary": "Detenido en su casa sin orden judicial.",
        "confidentiality": "internal",
        "source_kind": "testimony",
        "source_title": "Llamada de su hermana",
        "source_url": "",
        "source_confidential": "on",
    }
    return {**data, **changes}


def test_a_lawyer_opens_an_arrest_that_goes_to_review(client_for, lawyer, reviewer, coordinator):
    sebin = PerpetratorFactory(name="SEBIN", kind="institution")
    client = client_for(lawyer)
    assert client.get("/legal/arrests/new/").status_code == 200
    response = client.post("/legal/arrests/new/", arrest_data(arresting_body=sebin.pk))
    detention = Detention.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/legal/detentions/{detention.public_id}/"
    case = detention.incident.case
    assert (case.status, case.confidentiality) == (Case.Status.IN_REVIEW, "internal")
    assert detention.lawyer == lawyer and detention.status == "incommunicado"
    assert detention.incident.type == "arbitrary_detention"
    assert list(detention.incident.involvements.values_list("perpetrator", flat=True)) == [sebin.pk]
    assert case.sources.get().confidential and lawyer in case.team.all()
    # Not counted until verified; the reviewer finds it in the queue.
    home = client_for(reviewer).get("/admin/").content.decode()
    assert case.title in home
    # The legal team is told (not the lawyer who opened it).
    assert not Notification.objects.filter(recipient=lawyer).exists()


def test_bad_input_says_why_and_creates_nothing(client_for, lawyer):
    tomorrow = (TODAY + datetime.timedelta(days=1)).isoformat()
    response = client_for(lawyer).post(
        "/legal/arrests/new/", arrest_data(full_name="", arrested_on=tomorrow, source_title="")
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "no puede ser en el futuro" in page and "Este campo es requerido" in page
    assert not Case.objects.exists() and not Detention.objects.exists()


def test_only_the_legal_team_opens_arrests_here(client_for, documentalist, analyst):
    for user in (documentalist, analyst):
        assert client_for(user).post("/legal/arrests/new/", arrest_data()).status_code == 403
    assert not Case.objects.exists()


def test_a_protected_person_stays_out_of_the_title_and_others_read_a_pseudonym(
    client_for, lawyer, reviewer
):
    client_for(lawyer).post(
        "/legal/arrests/new/", arrest_data(full_name="Nombre RESERVADO", identity_protected="on")
    )
    detention = Detention.objects.get()
    defender = detention.incident.defender
    assert defender.identity_protected
    assert "RESERVADO" not in detention.incident.case.title
    assert defender.pseudonym in detention.incident.case.title
    home = client_for(reviewer).get("/admin/").content.decode()
    assert "RESERVADO" not in home and defender.pseudonym in home


def test_only_arresting_bodies_are_offered(client_for, lawyer):
    PerpetratorFactory(name="Cuerpo Policial", kind="institution", category="security_force")
    PerpetratorFactory(name="Canal Estatal", kind="institution", category="state_media")
    page = client_for(lawyer).get("/legal/arrests/new/").content.decode()
    assert "Cuerpo Policial" in page and "Canal Estatal" not in page
