"""Highlighted cases (destacados) in the bulletin's narrative, and what stops being public
after a month is published: hidden from the public bulletin and the allies, its frozen PDF
withheld until the month is published again."""

import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from pypdf import PdfReader

from cases import services as case_services
from cases.models import Case
from organizations.models import Defender
from reports import selectors, services
from reports.narrative import narrative
from tests.factories import (
    SHARED,
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    InvolvementFactory,
    PerpetratorFactory,
)

pytestmark = pytest.mark.django_db
JULY = datetime.date(2021, 7, 5)


@pytest.fixture(autouse=True)
def mounted(settings):
    settings.ROOT_URLCONF = "tests.reports.urls_public"  # as PUBLIC_BULLETIN=1 mounts it


def shared_case(title: str, **kwargs) -> Case:
    case = CaseFactory(title=title, **SHARED)
    IncidentFactory(case=case, occurred_on=JULY, **kwargs)
    return case


def pdf_text(response) -> str:
    reader = PdfReader(io.BytesIO(b"".join(response.streaming_content)))
    return "\n".join(page.extract_text() for page in reader.pages)


# Who may highlight what


def test_a_reviewer_highlights_a_published_public_case_with_one_line(reviewer):
    case = shared_case("Detención de Javier Tarazona")
    case_services.case_highlight(case=case, user=reviewer, summary="  Detenido por el\nSEBIN. ")
    case.refresh_from_db()
    assert case.highlight == "Detenido por el SEBIN."  # one line
    assert case.highlighted_at is not None
    record = case.history.first()
    assert record.history_change_reason == "Destacado en el boletín"
    assert record.history_user == reviewer
    case_services.case_highlight(case=case, user=reviewer, summary="")
    case.refresh_from_db()
    assert (case.highlight, case.highlighted_at) == ("", None)
    assert case.history.first().history_change_reason == "Ya no está destacado"


@pytest.mark.parametrize(
    ("status", "confidentiality"),
    [("verified", "public"), ("published", "internal"), ("published", "restricted")],
)
def test_only_a_published_public_case_may_be_highlighted(reviewer, status, confidentiality):
    case = CaseFactory(status=status, confidentiality=confidentiality)
    with pytest.raises(ValidationError) as refused:
        case_services.case_highlight(case=case, user=reviewer, summary="Importante")
    assert refused.value.code == "forbidden"
    case.refresh_from_db()
    assert case.highlight == ""


def test_a_documentalist_may_not_highlight(documentalist):
    case = shared_case("Caso")
    with pytest.raises(ValidationError):
        case_services.case_highlight(case=case, user=documentalist, summary="Importante")


def test_retracting_a_case_ends_its_highlight(reviewer):
    case = shared_case("Caso")
    case_services.case_highlight(case=case, user=reviewer, summary="Importante")
    case_services.case_retract(case=case, user=reviewer, reason="Fuente desmentida")
    case.refresh_from_db()
    assert (case.status, case.highlight, case.highlighted_at) == ("retracted", "", None)


def test_the_admin_button_and_page_are_the_reviewers_only(client_for, reviewer, documentalist):
    case = shared_case("Caso del botón")
    url = f"/admin/cases/case/{case.pk}/highlight/"
    page = client_for(reviewer).get(f"/admin/cases/case/{case.pk}/change/")
    assert url in page.content.decode() and "Destacar en el boletín" in page.content.decode()
    response = client_for(reviewer).post(url, {"summary": "Un destacado"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.highlight == "Un destacado"
    page = client_for(reviewer).get(f"/admin/cases/case/{case.pk}/change/")
    assert "Un destacado" in page.content.decode()
    client = client_for(documentalist)
    assert url not in client.get(f"/admin/cases/case/{case.pk}/change/").content.decode()
    assert client.post(url, {"summary": "Otro"}).status_code == 403
    case.refresh_from_db()
    assert case.highlight == "Un destacado"


def test_a_restricted_case_outside_the_team_is_refused_without_its_title(client_for, reviewer):
    case = CaseFactory(
        title="CENTINELA restringido", status="published", confidentiality="restricted"
    )
    response = client_for(reviewer).post(
        f"/admin/cases/case/{case.pk}/highlight/", {"summary": "Filtrado"}
    )
    assert response.status_code in (403, 404)
    assert "CENTINELA" not in response.content.decode()
    case.refresh_from_db()
    assert case.highlight == ""


def test_a_summary_too_long_is_refused_with_a_message(client_for, reviewer):
    case = shared_case("Caso")
    response = client_for(reviewer).post(
        f"/admin/cases/case/{case.pk}/highlight/", {"summary": "x" * 201}
    )
    assert response.status_code == 200
    assert "menos de 200 caracteres (tiene 201)" in response.content.decode()
    case.refresh_from_db()
    assert case.highlight == ""


# The narrative


def test_up_to_three_highlights_the_most_recent_first(reviewer):
    cases = [shared_case(f"Caso {n}") for n in range(4)]
    for n, case in enumerate(cases):
        case_services.case_highlight(case=case, user=reviewer, summary=f"Línea {n}.")
    CaseFactory(title="No publicado", status="verified", confidentiality="public")
    highlights = selectors.month_highlights(2021, 7)
    assert [h["title"] for h in highlights] == ["Caso 3", "Caso 2", "Caso 1"]
    assert selectors.month_highlights(2021, 8) == []  # no attack of theirs in August


def test_the_narrative_names_one_or_several_highlights_in_both_languages():
    figures = selectors.monthly_figures(2021, 7)
    one = [
        {"id": "1", "title": "Detención de Javier Tarazona", "summary": "Detenido por el SEBIN."}
    ]
    two = [*one, {"id": "2", "title": "Allanamiento", "summary": "Sin orden judicial"}]
    assert narrative({**figures, "highlights": one}, "es").endswith(
        "Caso destacado: «Detención de Javier Tarazona» — Detenido por el SEBIN."
    )
    assert narrative({**figures, "highlights": two}, "en").endswith(
        "Highlighted cases: “Detención de Javier Tarazona” — Detenido por el SEBIN; "
        "“Allanamiento” — Sin orden judicial."
    )
    assert "destacado" not in narrative({**figures, "highlights": []}, "es")


def test_publishing_freezes_the_highlights_into_the_public_page_and_pdf(client, reviewer):
    case = shared_case("Detención de Javier Tarazona")
    case_services.case_highlight(case=case, user=reviewer, summary="Detenido por el SEBIN")
    snapshot = services.month_publish(year=2021, month=7, user=reviewer)
    assert snapshot.figures["highlights"][0]["summary"] == "Detenido por el SEBIN"
    page = client.get("/boletin/2021/7/").content.decode()
    assert "Caso destacado: «Detención de Javier Tarazona» — Detenido por el SEBIN." in page
    text = pdf_text(client.get("/boletin/2021/7/boletin.pdf"))
    assert "Caso destacado" in text and "Casos publicados del mes" in text
    # A highlight written after publication waits for the next version.
    case_services.case_highlight(case=case, user=reviewer, summary="Otra línea")
    assert "Otra línea" not in client.get("/boletin/2021/7/").content.decode()


def test_the_publish_confirmation_shows_the_highlights(client_for, reviewer):
    case = shared_case("Detención de Javier Tarazona")
    case_services.case_highlight(case=case, user=reviewer, summary="Detenido por el SEBIN")
    page = client_for(reviewer).get("/reports/monthly/2021/7/publish/").content.decode()
    assert "Casos destacados" in page and "Detenido por el SEBIN" in page


# What stops being public after publication


def test_a_case_retracted_after_publication_is_hidden_everywhere(
    client, client_for, reviewer, ally_client
):
    kept = shared_case("Caso que sigue")
    gone = shared_case("Caso RETIRADO")
    case_services.case_highlight(case=gone, user=reviewer, summary="Línea RETIRADA")
    services.month_publish(year=2021, month=7, user=reviewer)
    before = client.get("/boletin/2021/7/")
    assert "Caso RETIRADO" in before.content.decode()
    pdf = client.get("/boletin/2021/7/boletin.pdf")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    case_services.case_retract(case=gone, user=reviewer, reason="Fuente desmentida")

    after = client.get("/boletin/2021/7/", HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200  # not a stale 304
    assert not after.has_header("Last-Modified")
    page = after.content.decode()
    assert "RETIRAD" not in page and "Caso que sigue" in page
    assert "ya no se muestra" in page and "boletin.pdf" not in page
    assert client.get("/boletin/2021/7/boletin.pdf").status_code == 404
    assert "RETIRAD" not in client.get("/boletin/atom.xml").content.decode()
    stats = ally_client.get("/api/v1/stats/monthly/", {"month": "2021-07"}).content.decode()
    assert "RETIRAD" not in stats and "Caso que sigue" in stats
    # Staff are told, and publishing again brings the PDF back.
    staff = client_for(reviewer).get("/reports/monthly/2021/7/").content.decode()
    assert "Ya no es público desde la publicación" in staff
    services.month_publish(year=2021, month=7, user=reviewer)
    pdf = client.get("/boletin/2021/7/boletin.pdf")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert kept.title in client.get("/boletin/2021/7/").content.decode()


def test_a_case_naming_a_defender_protected_since_is_withdrawn_whole(client, reviewer, ally_client):
    """Its frozen title and highlight may name the person: the case leaves the bulletin,
    with its highlight, rather than show a pseudonym beside the name."""
    person = DefenderFactory(full_name="Juan REVELADO")
    case = CaseFactory(title="Detención de Juan REVELADO", **SHARED)
    IncidentFactory(case=case, occurred_on=JULY, defender=person)
    case_services.case_highlight(case=case, user=reviewer, summary="Juan REVELADO, preso")
    shared_case("Otro caso")
    services.month_publish(year=2021, month=7, user=reviewer)
    assert "REVELADO" in client.get("/boletin/2021/7/").content.decode()
    person.identity_protected = True
    person.save()
    page = client.get("/boletin/2021/7/").content.decode()
    assert "REVELADO" not in page and "Otro caso" in page
    assert Defender.pseudonym_of(person.pseudonym_key) not in page  # nothing to tie them
    assert str(person.public_id) not in page
    stats = ally_client.get("/api/v1/stats/monthly/", {"month": "2021-07"}).content.decode()
    assert "REVELADO" not in stats
    assert "REVELADO" not in client.get("/boletin/atom.xml").content.decode()
    assert client.get("/boletin/2021/7/boletin.pdf").status_code == 404


def test_a_title_or_highlight_changed_since_is_withdrawn(client, reviewer):
    case = shared_case("Título con NOMBRE")
    case_services.case_highlight(case=case, user=reviewer, summary="Línea con NOMBRE")
    services.month_publish(year=2021, month=7, user=reviewer)
    case_services.case_highlight(case=case, user=reviewer, summary="Línea sin él")
    page = client.get("/boletin/2021/7/").content.decode()
    assert "Línea con NOMBRE" not in page and "Título con NOMBRE" in page
    case.title = "Título sin él"
    case.save()
    assert "NOMBRE" not in client.get("/boletin/2021/7/").content.decode()


def test_a_month_published_before_cases_were_frozen_keeps_its_names_and_pdf(client, reviewer):
    from reports.models import MonthlySnapshot

    case = shared_case("Caso")
    InvolvementFactory(
        incident=case.incidents.get(), perpetrator=PerpetratorFactory(name="Cuerpo NOMBRADO")
    )
    snapshot = services.month_publish(year=2021, month=7, user=reviewer)
    old = {k: v for k, v in snapshot.figures.items() if k not in ("published_cases", "highlights")}
    older = MonthlySnapshot(  # as an older release published it: no cases frozen
        period=snapshot.period, version=2, figures=old, published_by=reviewer, pdf=snapshot.pdf.name
    )
    older.save()
    page = client.get("/boletin/2021/7/").content.decode()
    assert "NOMBRADO" in page and "boletin.pdf" in page


def test_a_perpetrator_no_shared_case_names_any_more_is_hidden(client, reviewer):
    case = shared_case("Caso")
    InvolvementFactory(
        incident=case.incidents.get(), perpetrator=PerpetratorFactory(name="Funcionario NOMBRADO")
    )
    services.month_publish(year=2021, month=7, user=reviewer)
    assert "NOMBRADO" in client.get("/boletin/2021/7/").content.decode()
    case.confidentiality = Case.Confidentiality.RESTRICTED
    case.save()
    page = client.get("/boletin/2021/7/").content.decode()
    assert "NOMBRADO" not in page and "Casos publicados del mes" not in page
    assert client.get("/boletin/2021/7/boletin.pdf").status_code == 404
