"""What a hostile staff member tries on the write paths: each test
reproduces the attack and says what must happen instead."""

import datetime

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from accounts.models import SecurityEvent
from cases import services
from cases.models import Case, Incident
from legal import services as legal_services
from legal.models import Detention, Hearing, LegalAction, Proceeding
from organizations.models import Defender
from tests.factories import (
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    OrganizationFactory,
    PerpetratorFactory,
    SourceFactory,
)
from tests.forms import case_form, loaded, management, page_data
from tests.hidden import shows_hidden

pytestmark = pytest.mark.django_db

ADD_CASE = "/admin/cases/case/add/"
ADD_INCIDENT = "/admin/cases/incident/add/"


def incident_form(**fields) -> dict:
    data = {
        "case": "",
        "type": "threat",
        "occurred_on": "01/06/2021",
        "date_precision": "day",
        "defender": "",
        "organization": "",
        "state": "",
        "municipality": "",
        "description": "",
        "duplicate_of": "",
        **management("involvements", 0),
        **fields,
    }
    return data


class TestProtectedNamesCannotBeReachedByReference:
    """Naming a hidden protected defender in a new case put the attacker on the
    team of a case that names them, and so showed the real name and phone."""

    def test_a_reviewer_cannot_name_a_hidden_protected_defender_in_a_new_case(
        self, client_for, reviewer, hidden
    ):
        client = client_for(reviewer)
        defender_page = reverse("admin:organizations_defender_change", args=[hidden.defender.pk])
        assert client.get(defender_page).status_code == 302
        data = case_form(
            incidents=[
                {"type": "threat", "occurred_on": "01/06/2021", "defender": hidden.defender.pk}
            ],
            title="Caso para averiguar un nombre",
        )
        response = client.post(ADD_CASE, data)
        assert response.status_code == 200
        assert not Case.objects.filter(title="Caso para averiguar un nombre").exists()
        assert shows_hidden(response.content.decode(), hidden) == []
        assert client.get(defender_page).status_code == 302
        api = client.get("/api/v1/defenders/").content.decode()
        assert "Defensora OCULTO Real" not in api

    def test_an_initial_value_does_not_reveal_which_ids_are_protected(
        self, client_for, documentalist, hidden
    ):
        page = client_for(documentalist).get(f"{ADD_INCIDENT}?defender={hidden.defender.pk}")
        assert page.status_code == 200
        assert shows_hidden(page.content.decode(), hidden) == []


class TestRestrictedCasesCannotBeReachedByReference:
    @pytest.mark.parametrize(
        ("url", "param"),
        [
            (ADD_INCIDENT, "case"),
            (ADD_INCIDENT, "duplicate_of"),
            ("/admin/legal/proceeding/add/", "incidents"),
            ("/admin/legal/detention/add/", "incident"),
        ],
    )
    def test_an_initial_value_shows_no_restricted_label(
        self, client_for, reviewer, lawyer, hidden, url, param
    ):
        value = {
            "case": hidden.case.pk,
            "duplicate_of": hidden.incident.pk,
            "incidents": hidden.detention_incident.pk,
            "incident": hidden.detention_incident.pk,
        }[param]
        user = lawyer if "incident/" not in url else reviewer
        page = client_for(user).get(f"{url}?{param}={value}")
        assert page.status_code == 200
        assert shows_hidden(page.content.decode(), hidden) == []

    def test_an_incident_cannot_be_written_into_a_restricted_case(
        self, client_for, documentalist, hidden
    ):
        data = incident_form(case=hidden.case.pk, defender=DefenderFactory().pk)
        response = client_for(documentalist).post(ADD_INCIDENT, data)
        assert response.status_code == 200
        assert hidden.case.incidents.count() == 2
        assert shows_hidden(response.content.decode(), hidden) == []

    def test_a_court_case_cannot_link_a_restricted_incident(self, client_for, lawyer, hidden):
        data = {
            "court": "Tribunal de prueba",
            "stage": "investigation",
            "defendants": [DefenderFactory().pk],
            "incidents": [hidden.detention_incident.pk],
            **management("hearings", 0),
            **management("legal_actions", 0),
        }
        response = client_for(lawyer).post("/admin/legal/proceeding/add/", data)
        assert response.status_code == 200
        assert not Proceeding.objects.filter(court="Tribunal de prueba").exists()
        assert shows_hidden(response.content.decode(), hidden) == []


class TestTeams:
    """The team checkboxes let anyone who could edit a case join its team."""

    def test_nobody_adds_themselves_to_a_team(self, client_for, documentalist, reviewer):
        case = CaseFactory(status="draft", confidentiality="internal")
        case.team.add(reviewer)
        source = SourceFactory(case=case, confidential=True, title="Testimonio reservado")
        data = loaded(case_form(incidents=[], title=case.title), case)
        data["team"] = [documentalist.pk, reviewer.pk]
        url = reverse("admin:cases_case_change", args=[case.pk])
        client_for(documentalist).post(url, data)
        assert list(case.team.all()) == [reviewer]
        page = client_for(documentalist).get(url).content.decode()
        assert source.title not in page

    def test_a_coordinator_grants_it_and_the_security_log_says_so(
        self, client_for, coordinator, documentalist, reviewer
    ):
        case = CaseFactory(status="draft", confidentiality="internal")
        case.team.add(reviewer)
        data = loaded(case_form(incidents=[], title=case.title), case)
        data["team"] = [documentalist.pk]
        url = reverse("admin:cases_case_change", args=[case.pk])
        response = client_for(coordinator).post(url, data)
        assert response.status_code == 302, response.context["errors"]
        assert list(case.team.all()) == [documentalist]
        event = SecurityEvent.objects.get(kind="team_change")
        assert event.user == coordinator
        assert event.details["case"] == str(case.public_id)
        assert event.details["added"] == ["documentalista"]
        assert event.details["removed"] == ["revisora"]

    def test_whoever_records_a_case_joins_its_team_and_the_log_says_so(
        self, client_for, documentalist
    ):
        data = case_form(incidents=[{"defender": DefenderFactory().pk}], title="Nuevo caso")
        response = client_for(documentalist).post(ADD_CASE, data)
        assert response.status_code == 302, response.context["errors"]
        case = Case.objects.get(title="Nuevo caso")
        assert list(case.team.all()) == [documentalist]
        assert SecurityEvent.objects.get(kind="team_change").details["added"] == ["documentalista"]


class TestSensitiveFieldsFollowTheTeam:
    """Team-only fields: witness, contact, a defender's phone, health notes."""

    @pytest.fixture
    def case(self, documentalist):
        case = CaseFactory(status="draft", confidentiality="internal")
        case.team.add(documentalist)
        SourceFactory(
            case=case,
            title="Nota pública",
            witness="Testigo Secreto Ejemplar",
            contact="+58 414 1112233",
        )
        return case

    @pytest.mark.parametrize("role", ["analyst", "lawyer", "reviewer"])
    def test_outside_the_team_the_witness_and_contact_are_not_shown(
        self, request, client_for, case, role
    ):
        client = client_for(request.getfixturevalue(role))
        for url in [
            reverse("admin:cases_case_change", args=[case.pk]),
            reverse("admin:cases_case_history", args=[case.pk]),
        ]:
            page = client.get(url).content.decode()
            assert "Nota pública" in page, url
            assert "Testigo Secreto Ejemplar" not in page, url
            assert "1112233" not in page, url

    @pytest.mark.parametrize("role", ["documentalist", "coordinator"])
    def test_the_team_and_coordinators_see_them(self, request, client_for, case, role):
        page = client_for(request.getfixturevalue(role)).get(
            reverse("admin:cases_case_change", args=[case.pk])
        )
        assert "Testigo Secreto Ejemplar" in page.content.decode()

    def test_a_reviewer_outside_the_team_cannot_overwrite_them(self, client_for, reviewer, case):
        source = case.sources.get()
        data = loaded(case_form(incidents=[], title=case.title), case)
        data.update(management("sources", 1, initial=1))
        data.update(
            {
                "sources-0-id": source.pk,
                "sources-0-case": case.pk,
                "sources-0-kind": "press",
                "sources-0-reliability": "unknown",
                "sources-0-title": "Nota pública",
                "sources-0-witness": "Otro nombre",
                "sources-0-contact": "",
            }
        )
        client_for(reviewer).post(reverse("admin:cases_case_change", args=[case.pk]), data)
        source.refresh_from_db()
        assert source.witness == "Testigo Secreto Ejemplar"
        assert source.contact == "+58 414 1112233"

    def test_a_defenders_phone_is_for_the_teams_of_their_cases(
        self, client_for, documentalist, analyst, coordinator, case
    ):
        defender = DefenderFactory(full_name="Persona Visible", phone="+58 412 9998877")
        IncidentFactory(case=case, defender=defender)
        url = reverse("admin:organizations_defender_change", args=[defender.pk])
        history = reverse("admin:organizations_defender_history", args=[defender.pk])
        for user, sees in [(documentalist, True), (coordinator, True), (analyst, False)]:
            client = client_for(user)
            page = client.get(url).content.decode()
            assert "Persona Visible" in page
            assert ("9998877" in page) is sees, user
            if not sees:
                assert "9998877" not in client.get(history).content.decode(), user

    def test_health_notes_are_for_the_team_not_for_every_lawyer(
        self, client_for, lawyer, coordinator
    ):
        case = CaseFactory(status="verified", confidentiality="internal")
        incident = IncidentFactory(case=case, type="arbitrary_detention")
        detention = Detention.objects.create(
            incident=incident, arrested_on=datetime.date(2021, 7, 2), health_notes="Diabetes XYZ"
        )
        url = reverse("admin:legal_detention_change", args=[detention.pk])
        assert "Diabetes XYZ" in client_for(coordinator).get(url).content.decode()
        assert "Diabetes XYZ" not in client_for(lawyer).get(url).content.decode()
        case.team.add(lawyer)
        assert "Diabetes XYZ" in client_for(lawyer).get(url).content.decode()


class TestStaleSaves:
    """Two people editing one record; the older copy must not win."""

    def test_a_stale_save_does_not_undo_identity_protection(
        self, client_for, documentalist, reviewer
    ):
        defender = DefenderFactory(full_name="Rosa Ejemplar")
        case = CaseFactory(status="draft")
        case.team.add(documentalist, reviewer)  # both work on her case
        IncidentFactory(case=case, defender=defender)
        url = reverse("admin:organizations_defender_change", args=[defender.pk])
        first = client_for(documentalist)
        stale = page_data(first.get(url))
        second = client_for(reviewer)
        fresh = page_data(second.get(url))
        fresh.update(identity_protected="on", phone="+58 412 5550000")
        assert second.post(url, fresh).status_code == 302
        first = client_for(documentalist)
        stale["known_as"] = "Rosita"
        response = first.post(url, stale)
        assert response.status_code == 200
        assert "Otra persona guardó" in response.content.decode()
        defender.refresh_from_db()
        assert defender.identity_protected
        assert defender.phone == "+58 412 5550000"
        assert defender.known_as == ""

    @pytest.mark.parametrize(
        "make",
        [
            lambda: OrganizationFactory(),
            lambda: PerpetratorFactory(),
            lambda: Detention.objects.create(
                incident=IncidentFactory(type="arbitrary_detention"),
                arrested_on=datetime.date(2021, 7, 2),
            ),
            lambda: Proceeding.objects.create(court="Tribunal Tercero"),
        ],
        ids=["organization", "perpetrator", "detention", "proceeding"],
    )
    def test_every_editable_record_refuses_a_stale_copy(self, client_for, coordinator, make):
        obj = make()
        if isinstance(obj, Proceeding):
            obj.defendants.add(DefenderFactory())
        meta = obj._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
        client = client_for(coordinator)
        stale = page_data(client.get(url))
        assert client.post(url, stale).status_code == 302  # someone saves it meanwhile
        response = client.post(url, stale)
        assert response.status_code == 200
        assert "Otra persona guardó" in response.content.decode()

    def test_a_stale_hearing_or_legal_action_is_refused(self, client_for, coordinator):
        proceeding = Proceeding.objects.create(court="Tribunal Tercero")
        proceeding.defendants.add(DefenderFactory())
        Hearing.objects.create(proceeding=proceeding, scheduled_on=datetime.date(2021, 9, 1))
        LegalAction.objects.create(
            proceeding=proceeding,
            kind="habeas_corpus",
            filed_on=datetime.date(2021, 7, 5),
            body="TSJ",
        )
        url = reverse("admin:legal_proceeding_change", args=[proceeding.pk])
        client = client_for(coordinator)
        stale = page_data(client.get(url))
        changed = {**stale, "hearings-0-outcome": "Diferida", "legal_actions-0-outcome": "Nada"}
        assert client.post(url, changed).status_code == 302
        stale["hearings-0-outcome"] = "Otra cosa"
        response = client.post(url, stale)
        assert response.status_code == 200
        assert "Otra persona guardó" in response.content.decode()
        assert Hearing.objects.get().outcome == "Diferida"

    def test_two_saves_at_the_same_instant_get_the_message_not_a_500(
        self, client_for, documentalist, monkeypatch
    ):
        case = services.case_create(user=documentalist, title="Caso", confidentiality="internal")
        url = reverse("admin:cases_case_change", args=[case.pk])
        data = loaded(case_form(incidents=[], title="Cambiado"), case)
        real = services.case_save

        def a_colleague_saves_first(*, case, user, reason=""):
            # Between the form's check and this save, another request saved the case.
            other = Case.objects.get(pk=case.pk)
            real(case=other, user=user, reason="otra pestaña")
            return real(case=case, user=user, reason=reason)

        monkeypatch.setattr(services, "case_save", a_colleague_saves_first)
        response = client_for(documentalist).post(url, data)
        assert response.status_code == 200
        assert "Otra persona guardó" in response.content.decode()
        case.refresh_from_db()
        assert case.title == "Caso"

    def test_the_message_names_who_and_which_fields_never_the_values(
        self, client_for, documentalist, reviewer
    ):
        # The loaded version comes from the form: a reviewer who may not read the witness
        # asks for the whole history by posting version 1.
        case = CaseFactory(status="draft", confidentiality="internal")
        case.team.add(documentalist)
        source = SourceFactory(case=case, title="Nota", witness="", contact="")
        source.witness, source.contact = "María Testigo", "+58 414 7654321"
        services.source_save(source=source, user=documentalist)
        source.refresh_from_db()
        source.title = "Nota revisada"
        services.source_save(source=source, user=documentalist)
        client = client_for(reviewer)
        url = reverse("admin:cases_case_change", args=[case.pk])
        data = page_data(client.get(url))
        data["sources-0-loaded_version"] = "1"
        page = client.post(url, data).content.decode()
        assert "Otra persona guardó" in page
        assert "7654321" not in page and "María Testigo" not in page
        assert "Nota revisada" not in page.split("Otra persona guardó")[1].split("</ul>")[0]
        assert "documentalista" in page and "otros campos" in page

    def test_a_tampered_version_shows_no_health_notes(self, client_for, lawyer, coordinator):
        detention = Detention.objects.create(
            incident=IncidentFactory(
                type="arbitrary_detention",
                case=CaseFactory(status="draft", confidentiality="internal"),
            ),
            arrested_on=datetime.date(2021, 7, 2),
        )
        detention.health_notes = "Diabetes, sin insulina"
        legal_services.detention_save(detention=detention, user=coordinator)
        client = client_for(lawyer)
        url = reverse("admin:legal_detention_change", args=[detention.pk])
        data = page_data(client.get(url))
        data["loaded_version"] = "1"
        page = client.post(url, data).content.decode()
        assert "Otra persona guardó" in page
        assert "Diabetes" not in page


class TestLeftOverLabels:
    """Import batches and hearings of records the user may not see."""

    def test_the_import_filter_shows_no_one_elses_batches(self, client_for, analyst, hidden):
        page = client_for(analyst).get("/admin/cases/incident/").content.decode()
        assert "Planilla OCULTO" not in page and "OCULTO.csv" not in page

    def test_the_calendar_leaves_out_hearings_of_cases_the_lawyer_cannot_see(
        self, client, lawyer, hidden
    ):

        hidden.proceeding.lawyer = lawyer
        hidden.proceeding.save()
        Hearing.objects.create(
            proceeding=hidden.proceeding,
            scheduled_on=datetime.date(2021, 9, 1),
            kind="preliminary",
        )
        token = legal_services.calendar_token_create(user=lawyer)
        feed = client.get(reverse("legal:calendar", args=[token])).content.decode()
        assert "OCULTO" not in feed
        assert "VEVENT" not in feed


def test_nobody_but_coordinators_is_offered_the_team_field(client_for, documentalist):
    page = client_for(documentalist).get(ADD_CASE)
    assert "team" not in page.context["adminform"].form.fields


def test_fixture_sanity(hidden, documentalist):
    # The hidden world is hidden from a documentalist outside its teams.
    assert not Case.objects.visible_to(documentalist).filter(pk=hidden.case.pk).exists()
    assert not Defender.objects.visible_to(documentalist).filter(pk=hidden.defender.pk).exists()
    assert not Incident.objects.visible_to(documentalist).filter(pk=hidden.incident.pk).exists()
    assert User.objects.filter(groups__in=Group.objects.all()).exists()


class TestInlineRowKeys:
    """Found by the reference walk: nested inlines read the rows they edit by the keys
    posted, from the whole table, so a posted key of a restricted incident moved it into the
    attacker's own case, where they could read it."""

    @pytest.mark.parametrize("row", ["incidents-0-id", "sources-0-id"])
    def test_a_posted_row_key_cannot_pull_a_hidden_record_into_ones_case(
        self, client_for, documentalist, hidden, row
    ):
        case = CaseFactory(title="Caso propio", status="draft", confidentiality="internal")
        case.team.add(documentalist)
        IncidentFactory(case=case, defender=DefenderFactory())
        SourceFactory(case=case)
        client = client_for(documentalist)
        url = reverse("admin:cases_case_change", args=[case.pk])
        data = page_data(client.get(url))
        target = hidden.incident if row.startswith("incidents") else hidden.source
        data[row] = str(target.pk)
        response = client.post(url, data)
        target.refresh_from_db()
        assert target.case_id == hidden.case.pk and target.version == 1
        assert shows_hidden(response.content.decode(), hidden) == []
