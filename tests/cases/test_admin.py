import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases import services
from cases.models import Case, Incident, Source
from organizations.models import Defender
from tests.factories import (
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    OrganizationFactory,
    PerpetratorFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/cases/case/add/"


def management(prefix, total, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


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
        for record in [case.history.get(), *[i.history.get() for i in case.incidents.all()]]:
            assert record.history_user == documentalist

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
        client.force_login(coordinator)
        data = case_form(
            incidents=[
                {"defender": str(incident.defender_id), "id": str(incident.pk), "type": "raid"}
            ],
            confidentiality="restricted",
        )
        data.update(management("incidents", 1, initial=1))
        data["incidents-0-case"] = str(case.pk)
        response = client.post(reverse("admin:cases_case_change", args=[case.pk]), data)
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
    def test_deleting_a_defender_with_incidents_is_refused_and_says_why(
        self, client_for, coordinator
    ):
        incident = IncidentFactory()
        url = reverse("admin:organizations_defender_delete", args=[incident.defender_id])
        client = client_for(coordinator)
        page = client.get(url).content.decode()
        assert "objetos relacionados protegidos" in page
        client.post(url, {"post": "yes"})
        assert Defender.objects.filter(pk=incident.defender_id).exists()

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
        for query in ["status=verified", "incidents__type=raid", "state=", "month=2021-07"]:
            response = client.get(f"{url}?{query}")
            assert response.status_code == 200
        shown = client.get(f"{url}?month=2021-07").context["cl"].result_list
        assert list(shown) == [july.case]
        incidents = client.get(
            reverse("admin:cases_incident_changelist") + "?type=raid&state=VE-I&month=2021-07"
        )
        assert list(incidents.context["cl"].result_list) == [july]

    def test_a_malformed_month_filter_shows_an_error_not_a_crash(self, client_for, analyst):
        url = reverse("admin:cases_incident_changelist") + "?month=julio"
        response = client_for(analyst).get(url, follow=True)
        assert response.status_code == 200

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
