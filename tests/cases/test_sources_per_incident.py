"""A source supports the incidents of its case it is evidence for: each link audited, each
incident needing one before its case is counted, shown on the incident's page, written by
imports, and made for every source recorded before (migration 0007)."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse

from cases import services
from cases.models import Incident, Source, Support
from core.audit import first_broken_row
from tests.cases.intake.rows import row, run
from tests.factories import CaseFactory, IncidentFactory, SourceFactory
from tests.forms import page_data

pytestmark = pytest.mark.django_db


def two_incidents(**case_fields):
    case = CaseFactory(**{"status": "draft", **case_fields})
    first = IncidentFactory(case=case, description="Primero")
    second = IncidentFactory(case=case, description="Segundo", type="threat")
    return case, first, second


def test_a_new_source_supports_every_incident_of_its_case(documentalist):
    case, first, second = two_incidents()
    source = services.source_create(user=documentalist, case=case, kind="press", title="Nota")
    assert set(source.incidents.all()) == {first, second}
    link = Support.history.filter(source_id=source.pk).first()
    assert link.history_user == documentalist and link.history_type == "+"


def test_a_source_may_support_some_incidents_only_and_changes_are_audited(documentalist):
    case, first, second = two_incidents()
    source = services.source_create(
        user=documentalist, case=case, kind="press", title="Nota", incidents=[first.pk]
    )
    assert list(source.incidents.all()) == [first]
    services.source_save(
        source=source, user=documentalist, reason="Era del segundo", incidents=[second.pk]
    )
    assert list(Source.objects.get().incidents.all()) == [second]
    removed = Support.history.get(incident_id=first.pk, history_type="-")
    assert removed.history_user == documentalist
    assert removed.history_change_reason == "Era del segundo"
    assert first_broken_row(Support.history.model) is None


def test_a_source_supports_only_incidents_of_its_own_case(documentalist):
    case, first, _second = two_incidents()
    elsewhere = IncidentFactory(case__status="draft")
    source = services.source_create(
        user=documentalist, case=case, kind="press", title="Nota", incidents=[first.pk]
    )
    for wrong in ([elsewhere.pk], [], [first.pk, 10**9]):
        with pytest.raises(ValidationError):
            services.source_incidents_set(source=source, incident_ids=wrong, user=documentalist)
    assert list(source.incidents.all()) == [first]


def test_each_incident_needs_a_source_before_the_case_is_counted(documentalist, reviewer):
    case, first, second = two_incidents()
    source = services.source_create(
        user=documentalist, case=case, kind="press", title="Nota", incidents=[first.pk]
    )
    services.case_transition(case=case, user=documentalist, status="in_review")
    with pytest.raises(ValidationError) as refused:
        services.case_transition(case=case, user=reviewer, status="verified")
    assert "Amenazas" in str(refused.value) and "necesita una fuente" in str(refused.value)
    # A duplicate report needs none: it is not counted.
    services.source_incidents_set(
        source=source, incident_ids=[first.pk, second.pk], user=documentalist
    )
    services.case_transition(case=case, user=reviewer, status="verified")


def test_the_case_page_ticks_the_incidents_each_source_supports(documentalist, client_for):
    case, first, second = two_incidents(confidentiality="internal")
    source = SourceFactory(case=case, incidents=[second])
    client = client_for(documentalist)
    url = reverse("admin:cases_case_change", args=[case.pk])
    page = client.get(url)
    form = next(f for f in page.context["inline_admin_formsets"][1].formset.forms if f.instance.pk)
    assert form.initial["supported"] == [second.pk]
    assert {value for value, _label in form.fields["supported"].choices} == {first.pk, second.pk}
    # Ticking the other one moves the link; unticking all is refused.
    data = page_data(page)
    data["sources-0-supported"] = [str(first.pk)]
    assert client.post(url, data).status_code == 302
    assert list(source.incidents.all()) == [first]
    data = page_data(client.get(url))
    data.pop("sources-0-supported")
    response = client.post(url, data)
    assert response.status_code == 200 and "Marque al menos un incidente" in response.text
    assert list(source.incidents.all()) == [first]


def test_an_incident_of_a_case_one_may_not_see_is_refused_without_its_label(
    documentalist, client_for
):
    case, _first, _second = two_incidents(confidentiality="internal")
    SourceFactory(case=case)
    hidden = IncidentFactory(
        case__status="draft",
        case__confidentiality="restricted",
        description="Oculto",
        defender__full_name="Persona Oculta Secreta",
    )
    client = client_for(documentalist)
    url = reverse("admin:cases_case_change", args=[case.pk])
    data = page_data(client.get(url))
    data["sources-0-supported"] = [str(hidden.pk)]
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Persona Oculta Secreta" not in response.text and str(hidden) not in response.text
    assert not Support.objects.filter(incident=hidden).exists()


def test_the_incident_page_lists_the_sources_the_reader_may_see(
    documentalist, reviewer, client_for
):
    case, first, _second = two_incidents(confidentiality="internal")
    case.team.add(documentalist)
    SourceFactory(case=case, title="Nota de El Pitazo", incidents=[first])
    SourceFactory(case=case, title="Testimonio reservado", confidential=True, incidents=[first])
    url = reverse("admin:cases_incident_change", args=[first.pk])
    page = client_for(documentalist).get(url).content.decode()
    assert "Nota de El Pitazo" in page and "Testimonio reservado" in page
    page = client_for(reviewer).get(url).content.decode()
    assert "Nota de El Pitazo" in page and "Testimonio reservado" not in page


def test_an_import_links_each_row_to_its_own_source(documentalist):
    run(
        documentalist,
        [
            row(referencia="1", fuente_url="https://example.org/a", fuente_medio="A"),
            row(
                referencia="2",
                fuente_url="https://example.org/b",
                fuente_medio="B",
                fecha="03/07/2021",
            ),
            row(
                referencia="3",
                fuente_url="https://example.org/a",
                fuente_medio="A",
                fecha="04/07/2021",
                tipo="Amenazas",
            ),
        ],
        status="in_review",
    )
    by_ref = {i.import_ref: i for i in Incident.objects.all()}
    assert [s.url for s in by_ref["1"].sources.all()] == ["https://example.org/a"]
    assert [s.url for s in by_ref["2"].sources.all()] == ["https://example.org/b"]
    assert [s.url for s in by_ref["3"].sources.all()] == ["https://example.org/a"]
    assert Source.objects.count() == 2
    assert Support.history.filter(history_type="+").count() == 3
    # A later file adding an incident to the case links it to the source the case has.
    run(
        documentalist,
        [
            row(
                referencia="4",
                fuente_url="https://example.org/a",
                fuente_medio="A",
                fecha="05/07/2021",
                tipo="Hostigamiento",
            )
        ],
        status="in_review",
    )
    assert Source.objects.count() == 2
    assert Incident.objects.get(import_ref="4").sources.get().url == "https://example.org/a"
    assert first_broken_row(Support.history.model) is None


def test_the_migration_links_every_earlier_source_to_its_cases_incidents():
    case, first, second = two_incidents()
    source = Source.objects.create(case=case, kind="press", title="Antigua")  # no links
    lone = Source.objects.create(case=CaseFactory(status="draft"), kind="press", title="Sola")
    migration = importlib.import_module("cases.migrations.0007_sources_per_incident")
    migration.link_existing_sources(apps, None)  # its schema editor is not used
    assert set(source.incidents.all()) == {first, second}
    assert not lone.incidents.exists()
    rows = Support.history.filter(source_id=source.pk)
    assert rows.count() == 2 and {r.history_change_reason for r in rows} == {migration.REASON}
    assert first_broken_row(Support.history.model) is None


def test_saving_a_source_keeps_links_made_since_the_page_was_loaded(documentalist, client_for):
    """An import may link an existing source to a new incident while someone edits it."""
    case, first, _second = two_incidents(confidentiality="internal")
    source = SourceFactory(case=case, incidents=[first])
    client = client_for(documentalist)
    url = reverse("admin:cases_case_change", args=[case.pk])
    data = page_data(client.get(url))
    later = IncidentFactory(case=case, description="Llegó con una importación", type="raid")
    services.source_incidents_set(
        source=source, incident_ids=[first.pk, later.pk], user=documentalist
    )
    data["sources-0-title"] = "Otro título"
    assert client.post(url, data).status_code == 302
    source.refresh_from_db()
    assert source.title == "Otro título"
    assert set(source.incidents.all()) == {first, later}


def test_who_may_not_change_the_case_reads_what_each_source_supports(analyst, client_for):
    case, first, _second = two_incidents(status="verified", confidentiality="internal")
    SourceFactory(case=case, title="Nota", incidents=[first])
    page = client_for(analyst).get(reverse("admin:cases_case_change", args=[case.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    shown = html[html.index("field-supported") :]
    assert str(first) in shown[: shown.index("</fieldset>")]
