import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import ProtectedError
from django.urls import reverse

from cases import services
from cases.models import Case, Incident, Involvement, Source
from organizations.models import Defender, Profile
from tests.factories import (
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    InvolvementFactory,
    OrganizationFactory,
    PerpetratorFactory,
    SourceFactory,
)
from tests.forms import case_form, loaded, management

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/cases/case/add/"


class TestIntake:
    def test_a_documentalist_records_a_case_with_incidents_perpetrators_and_sources(
        self, client_for, documentalist
    ):
        defender, organization = DefenderFactory(), OrganizationFactory()
        sebin = PerpetratorFactory(name="SEBIN")
        upload = SimpleUploadedFile("acta.pdf", b"%PDF acta", content_type="application/pdf")
        data = case_form(
            incidents=[
                {"defender": str(defender.pk), "perpetrators": [(sebin, "perpetrated")]},
                {
                    "type": "raid",
                    "organization": str(organization.pk),
                    "perpetrators": [(sebin, "perpetrated")],
                },
            ],
            sources=[{"title": "Nota de prensa", "url": "example.org/nota", "file": upload}],
        )
        response = client_for(documentalist).post(ADD_URL, data)
        assert response.status_code == 302, response.context["errors"]
        case = Case.objects.get()
        assert case.status == Case.Status.DRAFT
        assert case.created_by == documentalist
        assert sorted(case.incidents.values_list("type", flat=True)) == [
            "arbitrary_detention",
            "raid",
        ]
        assert set(Incident.objects.values_list("involvements__perpetrator", flat=True)) == {
            sebin.pk
        }
        source = case.sources.get()
        assert source.url == "https://example.org/nota"
        assert len(source.sha256) == 64
        records = [*case.history.all(), *[i.history.get() for i in case.incidents.all()]]
        assert all(record.history_user == documentalist for record in records)
        assert list(case.team.all()) == [documentalist]

    @pytest.mark.parametrize(
        ("target", "message"),
        [({}, "Indique a quién se atacó"), ("both", "una sola víctima")],
    )
    def test_the_form_refuses_an_incident_without_exactly_one_target(
        self, client_for, documentalist, target, message
    ):
        if target == "both":
            target = {
                "defender": str(DefenderFactory().pk),
                "organization": str(OrganizationFactory().pk),
            }
        response = client_for(documentalist).post(ADD_URL, case_form(incidents=[target]))
        assert response.status_code == 200
        assert message in response.content.decode()
        assert not Case.objects.exists()

    def test_the_form_refuses_a_future_date(self, client_for, documentalist):
        tomorrow = datetime.date.today() + datetime.timedelta(days=2)  # noqa: DTZ011
        data = case_form(
            incidents=[
                {"defender": str(DefenderFactory().pk), "occurred_on": f"{tomorrow:%d/%m/%Y}"}
            ]
        )
        response = client_for(documentalist).post(ADD_URL, data)
        assert "La fecha es futura" in response.content.decode()
        assert not Incident.objects.exists()

    def test_the_add_page_is_in_spanish_with_every_section(self, client_for, documentalist):
        html = client_for(documentalist).get(ADD_URL).content.decode()
        for text in ["Añadir caso", "A quién se atacó", "Perpetradores y roles", "Fuentes"]:
            assert text in html


class TestHistory:
    def test_an_admin_change_is_recorded_with_the_user_and_a_readable_diff(
        self, client_for, documentalist, coordinator
    ):
        client = client_for(documentalist)
        client.post(ADD_URL, case_form(incidents=[{"defender": str(DefenderFactory().pk)}]))
        case = Case.objects.get()
        incident = case.incidents.get()
        client = client_for(coordinator)
        data = case_form(
            incidents=[
                {"defender": str(incident.defender_id), "id": str(incident.pk), "type": "raid"}
            ],
            confidentiality="restricted",
        )
        data.update(management("incidents", 1, initial=1))
        response = client.post(
            reverse("admin:cases_case_change", args=[case.pk]), loaded(data, case)
        )
        assert response.status_code == 302, response.context["errors"]
        latest = case.history.latest()
        assert latest.history_user == coordinator
        assert latest.history_type == "~"
        html = client.get(reverse("admin:cases_case_history", args=[case.pk])).content.decode()
        assert "Confidencialidad:" in html
        assert "Interno" in html and "Restringido" in html
        assert "documentalista" in html and "coordinadora" in html
        related = html[html.index('id="related-history"') :]
        assert "Tipo:" in related and "Detención arbitraria" in related
        assert "Allanamiento" in related
        assert incident.history.latest().history_user == coordinator


class TestProtection:
    def test_nobody_deletes_people_organizations_or_perpetrators_in_the_admin(
        self, client_for, coordinator
    ):
        incident = IncidentFactory()
        perpetrator = InvolvementFactory(incident=incident).perpetrator
        client = client_for(coordinator)
        for name, obj in [
            ("organizations_defender", incident.defender),
            ("organizations_organization", OrganizationFactory()),
            ("organizations_perpetrator", perpetrator),
        ]:
            url = reverse(f"admin:{name}_delete", args=[obj.pk])
            assert client.post(url, {"post": "yes"}).status_code == 403, name
            assert type(obj).objects.filter(pk=obj.pk).exists()

    def test_the_database_protects_what_incidents_point_to(self):
        incident = IncidentFactory()
        perpetrator = InvolvementFactory(incident=incident).perpetrator
        for obj in [incident.defender, perpetrator, incident.case]:
            with pytest.raises(ProtectedError) as error:
                obj.delete()
            assert incident in error.value.protected_objects or any(
                isinstance(o, Incident | Involvement) for o in error.value.protected_objects
            )

    def test_a_documentalist_cannot_delete_at_all(self, client_for, documentalist):
        defender = DefenderFactory()
        url = reverse("admin:organizations_defender_delete", args=[defender.pk])
        assert client_for(documentalist).post(url, {"post": "yes"}).status_code == 403
        assert Defender.objects.filter(pk=defender.pk).exists()


class TestChangelists:
    def test_filters_by_status_type_state_and_month(self, client_for, analyst):
        july = IncidentFactory(
            type="raid", state="VE-I", organization=OrganizationFactory(), defender=None
        )
        IncidentFactory(occurred_on=datetime.date(2021, 6, 3), case=CaseFactory(status="draft"))
        client = client_for(analyst)
        url = reverse("admin:cases_case_changelist")
        draft = Case.objects.get(status="draft")
        for query, expected in [
            ("status=verified", [july.case]),
            ("status=draft", [draft]),
            ("incidents__type=raid", [july.case]),
            ("month=2021-07", [july.case]),
            ("month=2021-06", [draft]),
        ]:
            shown = client.get(f"{url}?{query}").context["cl"].result_list
            assert list(shown) == expected, query
        incidents = client.get(
            reverse("admin:cases_incident_changelist") + "?type=raid&state=VE-I&month=2021-07"
        )
        assert list(incidents.context["cl"].result_list) == [july]

    def test_a_malformed_month_filter_shows_an_error_not_a_crash(self, client_for, analyst):
        IncidentFactory()
        url = reverse("admin:cases_incident_changelist") + "?month=julio"
        response = client_for(analyst).get(url)
        assert response.status_code == 200
        assert "Mes desconocido julio" in response.content.decode()
        assert list(response.context["cl"].result_list) == []

    def test_search_finds_a_case_by_title(self, client_for, analyst):
        CaseFactory(title="Allanamiento en Maracaibo")
        CaseFactory(title="Otro caso")
        response = client_for(analyst).get(reverse("admin:cases_case_changelist") + "?q=Maracaibo")
        titles = [case.title for case in response.context["cl"].result_list]
        assert titles == ["Allanamiento en Maracaibo"]

    def test_the_case_list_costs_the_same_queries_for_many_cases(
        self, client_for, analyst, django_assert_max_num_queries
    ):
        for _ in range(30):
            IncidentFactory()
        client = client_for(analyst)
        with django_assert_max_num_queries(12):
            client.get(reverse("admin:cases_case_changelist"))
        with django_assert_max_num_queries(12):
            client.get(reverse("admin:cases_incident_changelist"))

    def test_autocomplete_finds_defenders_for_the_incident_form(self, client_for, documentalist):
        DefenderFactory(full_name="Javier Tarazona")
        DefenderFactory(full_name="Otra Persona")
        response = client_for(documentalist).get(
            reverse("admin:autocomplete"),
            {
                "app_label": "cases",
                "model_name": "incident",
                "field_name": "defender",
                "term": "tara",
            },
        )
        assert [r["text"] for r in response.json()["results"]] == ["Javier Tarazona"]


class TestWorkflowActions:
    def test_a_documentalist_sends_cases_to_review(self, client_for, documentalist):
        case = CaseFactory(status="draft")
        IncidentFactory(case=case)
        empty = CaseFactory(status="draft")
        response = client_for(documentalist).post(
            reverse("admin:cases_case_changelist"),
            {"action": "submit_for_review", "_selected_action": [case.pk, empty.pk]},
            follow=True,
        )
        case.refresh_from_db()
        empty.refresh_from_db()
        assert case.status == "in_review"
        assert empty.status == "draft"
        assert "al menos un incidente" in response.content.decode()

    def test_only_reviewers_are_offered_verify_and_publish(
        self, client_for, documentalist, reviewer
    ):
        url = reverse("admin:cases_case_changelist")
        documentalist_actions = client_for(documentalist).get(url).content.decode()
        assert 'value="verify"' not in documentalist_actions
        reviewer_actions = client_for(reviewer).get(url).content.decode()
        assert 'value="verify"' in reviewer_actions and 'value="publish"' in reviewer_actions

    def test_a_reviewer_verifies_a_case_with_sources(self, client_for, reviewer):
        case = CaseFactory(status="in_review")
        IncidentFactory(case=case)
        SourceFactory(case=case)
        client_for(reviewer).post(
            reverse("admin:cases_case_changelist"),
            {"action": "verify", "_selected_action": [case.pk]},
        )
        case.refresh_from_db()
        assert case.status == "verified"
        assert case.history.latest().history_user == reviewer


def test_status_cannot_be_set_through_the_form(client_for, documentalist):
    client_for(documentalist).post(
        ADD_URL, case_form(incidents=[{"defender": str(DefenderFactory().pk)}], status="published")
    )
    assert Case.objects.get().status == "draft"


def test_a_source_file_keeps_its_fingerprint_when_the_case_is_edited(documentalist):
    case = services.case_create(user=documentalist, title="Caso")
    upload = SimpleUploadedFile("a.txt", b"uno")
    source = services.source_create(
        user=documentalist, case=case, kind="testimony", title="T", file=upload
    )
    fingerprint = source.sha256
    source.title = "Testimonio"
    services.source_save(source=source, user=documentalist)
    assert Source.objects.get().sha256 == fingerprint


class TestHistoryIsReadOnly:
    def test_an_old_version_cannot_be_posted_back(self, client_for, analyst, reviewer):
        case = CaseFactory(status="draft")
        IncidentFactory(case=case)
        SourceFactory(case=case)
        services.case_submit_for_review(case=case, user=reviewer)
        first = case.history.earliest()
        url = reverse("admin:cases_case_simple_history", args=[case.pk, first.history_id])
        client = client_for(analyst)
        assert client.get(url).status_code == 200
        response = client.post(url, {"title": case.title, "confidentiality": "internal"})
        assert response.status_code == 403
        case.refresh_from_db()
        assert case.status == "in_review"

    @pytest.mark.parametrize(
        "url",
        [
            "/admin/cases/case/abc/history/",
            "/admin/cases/case/1/history/abc/",
            "/admin/cases/case/abc/history/1/",
            "/admin/cases/incident/abc/history/",
            "/admin/organizations/defender/abc/history/",
        ],
    )
    def test_a_malformed_history_address_is_not_found(self, client_for, coordinator, url):
        IncidentFactory()
        assert client_for(coordinator).get(url).status_code == 404

    def test_a_change_of_profiles_is_in_the_defender_history(self, client_for, documentalist):
        defender = DefenderFactory()
        url = reverse("admin:organizations_defender_change", args=[defender.pk])
        lawyer_profile = Profile.objects.get(code="lawyer")
        response = client_for(documentalist).post(
            url,
            {
                "full_name": defender.full_name,
                "known_as": "",
                "gender": "female",
                "profiles": [lawyer_profile.pk],
                "state": "VE-S",
                "loaded_version": defender.version,
                **management("memberships", 0),
            },
        )
        assert response.status_code == 302, response.context["errors"]
        latest = defender.history.latest()
        assert latest.history_user == documentalist
        assert [p.profile_id for p in latest.profiles.all()] == [lawyer_profile.pk]
        history_url = reverse("admin:organizations_defender_history", args=[defender.pk])
        html = client_for(documentalist).get(history_url).content.decode()
        assert "Perfiles:" in html and "Abogado/a" in html


class TestCountedCasesAreLocked:
    def test_a_documentalist_only_reads_a_verified_case(self, client_for, documentalist):
        case = CaseFactory(status="verified")
        incident = IncidentFactory(case=case)
        client = client_for(documentalist)
        url = reverse("admin:cases_case_change", args=[case.pk])
        page = client.get(url)
        assert page.status_code == 200
        assert page.context["has_change_permission"] is False
        data = case_form(
            incidents=[{"defender": str(incident.defender_id), "id": str(incident.pk)}],
            title="Título cambiado",
        )
        data.update(management("incidents", 1, initial=1))
        assert client.post(url, data).status_code == 403
        case.refresh_from_db()
        assert case.title != "Título cambiado"

    def test_a_documentalist_cannot_add_an_incident_to_a_published_case(
        self, client_for, documentalist
    ):
        case = CaseFactory(status="published")
        response = client_for(documentalist).post(
            reverse("admin:cases_incident_add"),
            {
                "case": str(case.pk),
                "type": "raid",
                "occurred_on": "02/07/2021",
                "date_precision": "day",
                "organization": str(OrganizationFactory().pk),
                **management("involvements", 0),
            },
        )
        assert response.status_code == 200  # the form again, with an error on "case"
        assert "case" in response.context["adminform"].form.errors
        assert not case.incidents.exists()

    def test_an_incident_cannot_move_to_another_case(self, client_for, reviewer):
        incident = IncidentFactory(case=CaseFactory(status="draft"))
        published = CaseFactory(status="published")
        url = reverse("admin:cases_incident_change", args=[incident.pk])
        client_for(reviewer).post(
            url,
            {
                "case": str(published.pk),
                "type": incident.type,
                "occurred_on": "15/07/2021",
                "date_precision": "day",
                "defender": str(incident.defender_id),
                **management("involvements", 0),
            },
        )
        incident.refresh_from_db()
        assert incident.case.status == "draft"

    def test_a_reviewer_may_correct_a_verified_case_saying_why(self, client_for, reviewer):
        case = CaseFactory(status="verified")
        incident = IncidentFactory(case=case)
        data = case_form(
            incidents=[
                {
                    "defender": str(incident.defender_id),
                    "id": str(incident.pk),
                    "description": "Detalle corregido",
                }
            ],
            title="Título corregido",
        )
        data.update(management("incidents", 1, initial=1))
        client = client_for(reviewer)
        url = reverse("admin:cases_case_change", args=[case.pk])
        refused = client.post(url, loaded(dict(data), case))
        assert refused.status_code == 200
        assert "ya se cuenta: diga por qué cambia" in refused.content.decode()
        case.refresh_from_db()
        assert case.title != "Título corregido"
        data["change_reason"] = "Errata en el título"
        response = client.post(url, loaded(data, case))
        assert response.status_code == 302, response.context["errors"]
        case.refresh_from_db()
        assert case.title == "Título corregido" and case.status == "verified"
        assert case.history.first().history_change_reason.startswith("Errata en el título (")
        incident.refresh_from_db()
        assert incident.history.first().history_change_reason.startswith("Errata en el título")

    def test_nobody_changes_a_retracted_case(self, client_for, coordinator):
        case = CaseFactory(status="retracted")
        page = client_for(coordinator).get(reverse("admin:cases_case_change", args=[case.pk]))
        assert page.context["has_change_permission"] is False

    @pytest.mark.parametrize("model", ["case", "incident"])
    def test_not_even_a_coordinator_deletes_cases_or_incidents(
        self, client_for, coordinator, model
    ):
        incident = IncidentFactory(case=CaseFactory(status="draft"))
        obj = incident.case if model == "case" else incident
        url = reverse(f"admin:cases_{model}_delete", args=[obj.pk])
        assert client_for(coordinator).post(url, {"post": "yes"}).status_code == 403
        assert type(obj).objects.filter(pk=obj.pk).exists()


class TestAccess:
    def test_a_stranger_is_sent_to_the_login_page(self, client_for, outsider):
        response = client_for(outsider).get(reverse("admin:cases_case_changelist"))
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")

    def test_an_anonymous_visitor_sees_nothing(self, client):
        IncidentFactory()
        for name in ["cases_case_changelist", "cases_incident_changelist"]:
            response = client.get(reverse(f"admin:{name}"))
            assert response.status_code == 302 and "/admin/login/" in response["Location"]

    def test_staff_without_a_role_is_refused(self, client_for, db):
        from django.contrib.auth.models import User

        client = client_for(User.objects.create_user("sin-rol", is_staff=True))
        assert client.get(reverse("admin:cases_case_changelist")).status_code == 403


def test_the_incident_count_is_right_when_filtered_by_type(client_for, analyst):
    case = CaseFactory()
    for _ in range(3):
        IncidentFactory(case=case, type="judicial_harassment")
    IncidentFactory(case=case, type="raid")
    url = reverse("admin:cases_case_changelist") + "?incidents__type=judicial_harassment"
    [shown] = client_for(analyst).get(url).context["cl"].result_list
    assert shown._incident_count == 4


class TestNoLostUpdates:
    def test_the_second_of_two_editors_is_refused_and_told_what_changed(
        self, client, coordinator, reviewer
    ):
        from django.test import Client

        from tests.conftest import verified_login

        case = CaseFactory(status="draft", title="Título original")
        incident = IncidentFactory(case=case)
        url = reverse("admin:cases_case_change", args=[case.pk])
        first, second = verified_login(Client(), coordinator), verified_login(Client(), reviewer)
        # Both open the page: the form carries the version they saw.
        for browser in (first, second):
            form = browser.get(url).context["adminform"].form
            assert form["loaded_version"].value() == case.version

        def save(browser, title):
            data = case_form(
                incidents=[{"defender": str(incident.defender_id), "id": str(incident.pk)}],
                title=title,
            )
            data.update(management("incidents", 1, initial=1))
            return browser.post(url, loaded(data, case))

        assert save(first, "Título de la coordinadora").status_code == 302
        response = save(second, "Título de la revisora")
        assert response.status_code == 200
        page = response.content.decode()
        assert "guardó este registro (caso) mientras usted lo editaba" in page
        # Who changed which field, never the values (the form's version could be forged).
        changes = page.split("Cambios entretanto:")[1].split("</li>")[0]
        assert "coordinadora (" in changes and "título" in changes
        assert "Título original →" not in page
        case.refresh_from_db()
        assert case.title == "Título de la coordinadora"

    def test_an_incident_edited_elsewhere_is_not_overwritten_from_the_case_page(
        self, client_for, reviewer
    ):
        case = CaseFactory(status="draft")
        incident = IncidentFactory(case=case, description="")
        data = loaded(
            case_form(
                incidents=[
                    {
                        "defender": str(incident.defender_id),
                        "id": str(incident.pk),
                        "description": "desde el caso",
                    }
                ]
            ),
            case,
        )
        data.update(management("incidents", 1, initial=1))
        # Meanwhile someone saves the incident on its own page.
        services.incident_save(incident=incident, user=reviewer, reason="otra pestaña")
        response = client_for(reviewer).post(
            reverse("admin:cases_case_change", args=[case.pk]), data
        )
        assert response.status_code == 200
        incident.refresh_from_db()
        assert incident.description == ""

    def test_a_form_without_the_loaded_version_is_refused(self, client_for, reviewer):
        case = CaseFactory(status="draft")
        data = case_form(incidents=[], title="Sin versión")
        response = client_for(reviewer).post(
            reverse("admin:cases_case_change", args=[case.pk]), data
        )
        assert response.status_code == 200
        case.refresh_from_db()
        assert case.title != "Sin versión"


class TestRetraction:
    def test_a_reviewer_retracts_cases_saying_why(self, client_for, reviewer):
        case = CaseFactory(status="published", title="Caso equivocado")
        IncidentFactory(case=case)
        client = client_for(reviewer)
        url = reverse("admin:cases_case_changelist")
        chosen = {"action": "retract", "_selected_action": [str(case.pk)]}
        asked = client.post(url, chosen)
        assert asked.status_code == 200
        assert "Caso equivocado" in asked.content.decode()
        assert "¿Por qué se retractan estos casos?" in asked.content.decode()
        case.refresh_from_db()
        assert case.status == "published"  # nothing happens before the reason
        done = client.post(url, {**chosen, "reason": "Duplicado de otro caso"}, follow=True)
        assert "1 caso actualizado" in done.content.decode()
        case.refresh_from_db()
        assert case.status == "retracted"
        assert case.history.first().history_change_reason == "Duplicado de otro caso"

    def test_only_those_who_may_retract_are_offered_it(self, client_for, documentalist):
        CaseFactory(status="draft")
        page = client_for(documentalist).get(reverse("admin:cases_case_changelist"))
        assert 'value="retract"' not in page.content.decode()


def test_the_case_list_shows_when_and_what(client_for, analyst):
    case = CaseFactory(title="Caso con dos tipos")
    IncidentFactory(case=case, type="raid", occurred_on=datetime.date(2021, 7, 9))
    IncidentFactory(case=case, type="threat", occurred_on=datetime.date(2021, 7, 2))
    page = client_for(analyst).get(reverse("admin:cases_case_changelist"))
    row = page.content.decode().split("Caso con dos tipos")[1].split("</tr>")[0]
    assert "02/07/2021" in row and "Allanamiento, Amenaza" in row
