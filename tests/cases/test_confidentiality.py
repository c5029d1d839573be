import re

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from tests.factories import CaseFactory, DefenderFactory, IncidentFactory, SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(db):
    """A documentalist who is not on the case team."""
    user = User.objects.create_user("otra", password="contraseña-de-prueba", is_staff=True)
    user.groups.add(Group.objects.get(name="Documentalista"))
    return user


@pytest.fixture
def restricted(documentalist):
    case = CaseFactory(title="Testigo en Barinas", confidentiality="restricted", status="draft")
    case.team.add(documentalist)
    IncidentFactory(case=case, description="declaración")
    return case


def titles(response):
    return [str(obj) for obj in response.context["cl"].result_list]


class TestRestrictedCases:
    def test_only_the_team_and_coordinators_list_it(
        self, client_for, restricted, documentalist, colleague, coordinator
    ):
        url = reverse("admin:cases_case_changelist")
        assert "Testigo en Barinas" in titles(client_for(documentalist).get(url))
        assert "Testigo en Barinas" in titles(client_for(coordinator).get(url))
        assert "Testigo en Barinas" not in titles(client_for(colleague).get(url))
        assert titles(client_for(colleague).get(url + "?q=Barinas")) == []

    def test_outsiders_cannot_open_it_or_its_history(self, client_for, restricted, colleague):
        client = client_for(colleague)
        record = restricted.history.first()
        for url in [
            reverse("admin:cases_case_change", args=[restricted.pk]),
            reverse("admin:cases_case_history", args=[restricted.pk]),
            reverse("admin:cases_case_simple_history", args=[restricted.pk, record.history_id]),
        ]:
            response = client.get(url)
            assert response.status_code in (302, 404), url
            assert "Testigo en Barinas" not in response.content.decode()

    def test_its_incidents_are_hidden_everywhere(self, client_for, restricted, colleague):
        client = client_for(colleague)
        incident = restricted.incidents.get()
        assert titles(client.get(reverse("admin:cases_incident_changelist"))) == []
        page = client.get(reverse("admin:cases_incident_change", args=[incident.pk]))
        assert page.status_code == 302
        history = client.get(reverse("admin:cases_incident_history", args=[incident.pk]))
        assert history.status_code == 404

    @pytest.mark.parametrize("field", ["case", "duplicate_of"])
    def test_autocomplete_does_not_offer_it(self, client_for, restricted, colleague, field):
        term = "Barinas" if field == "case" else ""
        response = client_for(colleague).get(
            reverse("admin:autocomplete"),
            {"app_label": "cases", "model_name": "incident", "field_name": field, "term": term},
        )
        assert response.status_code == 200
        ids = {int(result["id"]) for result in response.json()["results"]}
        hidden = {restricted.pk} if field == "case" else {restricted.incidents.get().pk}
        assert not ids & hidden

    def test_whoever_records_a_case_is_on_its_team(self, documentalist):
        from cases import services

        case = services.case_create(user=documentalist, title="Nuevo", confidentiality="restricted")
        assert list(case.team.all()) == [documentalist]


class TestConfidentialSources:
    def test_only_the_case_team_sees_a_confidential_source(
        self, client_for, documentalist, colleague, coordinator
    ):
        case = CaseFactory(confidentiality="internal", status="draft")
        case.team.add(documentalist)
        SourceFactory(case=case, title="Nota pública")
        SourceFactory(case=case, title="Testimonio de la vecina", confidential=True)
        url = reverse("admin:cases_case_change", args=[case.pk])
        history = reverse("admin:cases_case_history", args=[case.pk])
        for user, sees in [(documentalist, True), (coordinator, True), (colleague, False)]:
            client = client_for(user)
            page = client.get(url).content.decode()
            assert "Nota pública" in page
            assert ("Testimonio de la vecina" in page) is sees, user
            assert ("Testimonio de la vecina" in client.get(history).content.decode()) is sees


class TestIdentityProtection:
    def test_the_pseudonym_is_stable_and_reveals_nothing(self):
        defender = DefenderFactory(full_name="Rosa Ejemplar", identity_protected=True)
        pseudonym = defender.pseudonym
        assert re.fullmatch(r"Defensor/a protegido/a #[0-9A-F]{6}", pseudonym)
        defender.refresh_from_db()
        assert defender.pseudonym == pseudonym
        assert DefenderFactory(identity_protected=True).pseudonym != pseudonym

    def test_outside_the_team_the_name_becomes_the_pseudonym(
        self, client_for, documentalist, colleague, coordinator
    ):
        defender = DefenderFactory(full_name="Rosa Ejemplar", identity_protected=True)
        case = CaseFactory(confidentiality="internal")
        case.team.add(documentalist)
        IncidentFactory(case=case, defender=defender)
        incidents = reverse("admin:cases_incident_changelist")
        defenders = reverse("admin:organizations_defender_changelist")
        for user, sees in [(documentalist, True), (coordinator, True), (colleague, False)]:
            client = client_for(user)
            page = client.get(incidents).content.decode()
            assert ("Rosa Ejemplar" in page) is sees, user
            assert (defender.pseudonym in page) is not sees, user
            listed = client.get(defenders).context["cl"].result_list
            assert (defender in listed) is sees
        assert defender.name_for(colleague) == defender.pseudonym
        assert defender.name_for(documentalist) == "Rosa Ejemplar"


class TestLeaksClosed:
    def test_a_protected_name_never_prints_by_default(self, client_for, colleague):
        defender = DefenderFactory(full_name="Rosa Ejemplar", identity_protected=True)
        incident = IncidentFactory(defender=defender, case=CaseFactory(confidentiality="internal"))
        assert str(defender) == defender.pseudonym and "Rosa" not in str(incident)
        client = client_for(colleague)
        page = client.get(reverse("admin:cases_incident_change", args=[incident.pk]))
        assert "Rosa Ejemplar" not in page.content.decode()
        search = client.get(reverse("admin:cases_incident_changelist") + "?q=Rosa")
        assert list(search.context["cl"].result_list) == []

    def test_file_numbers_and_health_notes_stay_out_of_history_pages(
        self, client_for, documentalist, lawyer
    ):
        import datetime

        from legal.models import Detention, Proceeding

        proceeding = Proceeding.objects.create(court="Tribunal", case_file_number="EXP-1")
        proceeding.case_file_number = "EXP-SECRETO"
        proceeding.save()
        incident = IncidentFactory(type="arbitrary_detention")
        detention = Detention.objects.create(
            incident=incident, arrested_on=datetime.date(2021, 7, 2), health_notes="diabetes"
        )
        detention.health_notes = "diabetes, sin insulina"
        detention.save()
        pages = [
            reverse("admin:legal_proceeding_history", args=[proceeding.pk]),
            reverse("admin:legal_detention_history", args=[detention.pk]),
            reverse("admin:legal_detention_change", args=[detention.pk]),
            reverse("admin:cases_incident_change", args=[incident.pk]),
        ]
        for url in pages:
            page = client_for(documentalist).get(url).content.decode()
            assert "EXP-SECRETO" not in page and "insulina" not in page, url
        # Health notes follow the case team, not the lawyer's role.
        assert "insulina" not in client_for(lawyer).get(pages[1]).content.decode()
        incident.case.team.add(lawyer)
        assert "insulina" in client_for(lawyer).get(pages[1]).content.decode()


class TestSourceFiles:
    def test_a_source_file_is_served_only_to_those_who_see_the_source(
        self, client, client_for, documentalist, colleague
    ):
        from django.core.files.uploadedfile import SimpleUploadedFile

        from accounts.models import SecurityEvent
        from cases import services

        case = CaseFactory(confidentiality="internal", status="draft")
        case.team.add(documentalist)
        source = services.source_create(
            user=documentalist,
            case=case,
            kind="testimony",
            title="Testimonio",
            confidential=True,
            file=SimpleUploadedFile("acta.pdf", b"%PDF testimonio"),
        )
        url = source.file.url
        assert url.startswith("/sources/files/sources/")  # never a public /media/ address
        response = client_for(documentalist).get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"%PDF testimonio"
        assert SecurityEvent.objects.filter(kind="export", user=documentalist).exists()
        assert client_for(colleague).get(url).status_code == 404  # confidential: team only
        client.logout()
        assert client.get(url).status_code == 302
