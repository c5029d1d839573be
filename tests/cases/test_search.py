"""The one search box: it finds an incident by a word only inside an archived page's text,
without accents, and by what a source's file says; and it never shows what the reader may
not see (restricted cases, confidential sources, protected names)."""

import io

import pytest
from django.db import connection
from django.urls import reverse

from cases import extraction, search
from cases import services as case_services
from cases.models import SourceText
from organizations.models import Defender
from tests.cases.test_archiving import PAGE, Site
from tests.factories import CaseFactory, DefenderFactory, IncidentFactory, SourceFactory

pytestmark = pytest.mark.django_db
SENTINEL = "Zyxwquorbel"


@pytest.fixture
def site(settings):
    site = Site()
    settings.ARCHIVE_TRUSTED_HOSTS = [site.host]
    yield site
    site.server.shutdown()
    site.server.server_close()


def hits(user, text, kind=None):
    groups = search.search(user, text)
    return [hit for group in groups if kind in (None, group.kind) for hit in group.hits]


def with_source_file(user, capture, name: str, data: bytes):
    """An incident whose case's one source is this file, read once the save commits."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    incident = IncidentFactory(case__status="draft", description="Sin detalles.")
    with capture(execute=True):
        return case_services.source_create(
            user=user,
            case=incident.case,
            kind="official_document",
            title="Acta",
            file=SimpleUploadedFile(name, data),
        )


def labels(user, text, kind=None):
    return [hit.label for hit in hits(user, text, kind)]


def test_an_incident_is_found_by_a_word_only_in_its_archived_page(
    site, documentalist, client_for, django_capture_on_commit_callbacks
):
    # PAGE: «Detención en Coro … El SEBIN detuvo a tres activistas.»
    site.routes["/nota"] = [(200, {"Content-Type": "text/html; charset=utf-8"}, PAGE)]
    incident = IncidentFactory(
        case__status="draft", case__confidentiality="internal", description="Sin detalles."
    )
    with django_capture_on_commit_callbacks(execute=True):
        case_services.source_create(
            user=documentalist,
            case=incident.case,
            kind="press",
            title="Nota de prensa",
            url=site.url("/nota"),
        )
    found = hits(documentalist, "detencion coro", "incident")
    assert [hit.url for hit in found] == [
        reverse("admin:cases_incident_change", args=[incident.pk])
    ]
    assert "archivada" in found[0].where
    assert "<mark>Detención</mark>" in found[0].snippet
    # Capitals and accents do not matter; nor does the start of a word.
    assert hits(documentalist, "DETENCIÓN", "incident")
    assert hits(documentalist, "activis", "incident")
    assert not hits(documentalist, "detencion caracas", "incident")  # every word must match
    # The script of the page is not its text.
    assert not hits(documentalist, "centinela")
    # The page shows it, under its heading.
    response = client_for(documentalist).get(reverse("search"), {"q": "detencion"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Incidentes" in page and "<mark>Detención</mark>" in page


def test_every_kind_is_found(documentalist):
    case = CaseFactory(title="Allanamiento a la sede de Provea", status="draft")
    IncidentFactory(case=case, description="Funcionarios del SEBIN allanaron la oficina.")
    DefenderFactory(full_name="Javier Tarazona")
    SourceFactory(case=case, title="Comunicado de Provea", publisher="Efecto Cocuyo")
    assert labels(documentalist, "allanamiento", "case") == [case.title]
    assert len(hits(documentalist, "allanaron", "incident")) == 1
    assert labels(documentalist, "tarazona", "defender") == ["Javier Tarazona"]
    assert labels(documentalist, "Taraz", "defender") == ["Javier Tarazona"]
    assert any("Comunicado de Provea" in label for label in labels(documentalist, "cocuyo"))
    assert labels(documentalist, "   ") == [] and search.search(documentalist, "¿?") == []


def test_a_restricted_case_is_never_shown_outside_its_team(
    site, documentalist, reviewer, coordinator, django_capture_on_commit_callbacks, client_for
):
    """Sentinel: one word in everything a restricted case holds."""
    site.routes["/r"] = [(200, {"Content-Type": "text/plain"}, f"Texto {SENTINEL}".encode())]
    case = CaseFactory(
        title=f"Caso {SENTINEL}",
        summary=SENTINEL,
        status="draft",
        confidentiality="restricted",
    )
    case.team.add(documentalist)
    IncidentFactory(case=case, description=f"Descripción {SENTINEL}")
    with django_capture_on_commit_callbacks(execute=True):
        case_services.source_create(
            user=documentalist, case=case, kind="press", title=SENTINEL, url=site.url("/r")
        )
    assert hits(reviewer, SENTINEL) == []
    response = client_for(reviewer).get(reverse("search"), {"q": SENTINEL.lower()})
    page = response.content.decode()
    assert f"Caso {SENTINEL}" not in page and "<mark>" not in page
    assert "Nada de lo que puede ver" in page
    # Its team and coordinators find all of it.
    for user in (documentalist, coordinator):
        kinds = {group.kind for group in search.search(user, SENTINEL) if group.hits}
        assert kinds == {"case", "incident", "source"}, user


def test_a_confidential_sources_file_is_never_read_nor_found(
    documentalist, coordinator, django_capture_on_commit_callbacks
):
    """Its words would sit in clear in the database and its index."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = CaseFactory(status="draft", confidentiality="internal")
    case.team.add(documentalist)
    IncidentFactory(case=case, description="Nada aquí.")
    with django_capture_on_commit_callbacks(execute=True):
        source = case_services.source_create(
            user=documentalist,
            case=case,
            kind="testimony",
            title="Testimonio",
            confidential=True,
            file=SimpleUploadedFile("t.txt", f"El testigo {SENTINEL} vio todo.".encode()),
        )
    assert not SourceText.objects.exists()
    assert hits(documentalist, SENTINEL) == [] and hits(coordinator, SENTINEL) == []
    # Made confidential later: what was read is dropped.
    source.confidential = False
    with django_capture_on_commit_callbacks(execute=True):
        case_services.source_save(source=source, user=documentalist)
    assert hits(documentalist, SENTINEL, "incident")
    source.confidential = True
    case_services.source_save(source=source, user=documentalist)
    assert not SourceText.objects.exists() and hits(coordinator, SENTINEL) == []


def test_the_words_of_a_replaced_or_removed_file_are_not_found(
    documentalist, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    source = with_source_file(
        documentalist, django_capture_on_commit_callbacks, "a.txt", b"Primera version Tucupita"
    )
    assert hits(documentalist, "tucupita", "incident")
    source.file = SimpleUploadedFile("b.txt", b"Segunda version Carupano")
    with django_capture_on_commit_callbacks(execute=False):  # the worker has not read it yet
        case_services.source_save(source=source, user=documentalist)
    assert not hits(documentalist, "tucupita")
    source.file = None
    case_services.source_save(source=source, user=documentalist)
    assert not SourceText.objects.exists()


def test_a_protected_defender_is_found_by_name_only_by_the_case_team(
    documentalist, reviewer, coordinator
):
    defender = DefenderFactory(full_name="Marisol Quintero Bastidas", identity_protected=True)
    case = CaseFactory(status="draft", confidentiality="internal")
    case.team.add(documentalist)
    IncidentFactory(case=case, defender=defender, description="Amenazas por teléfono.")
    assert labels(reviewer, "quintero", "defender") == []
    assert labels(documentalist, "quintero", "defender") == ["Marisol Quintero Bastidas"]
    assert labels(coordinator, "quintero", "defender") == ["Marisol Quintero Bastidas"]
    # Outside the team, the incident names the pseudonym only.
    (label,) = labels(reviewer, "amenazas telefono", "incident")
    assert "Quintero" not in label and Defender.objects.get().pseudonym in label
    (label,) = labels(documentalist, "amenazas", "incident")
    assert "Marisol Quintero Bastidas" in label


def test_snippets_are_escaped(documentalist, client_for):
    IncidentFactory(
        case__status="draft",
        description='<img src=x onerror="alert(1)"> La detención fue en Coro.',
    )
    (hit,) = hits(documentalist, "detencion", "incident")
    assert "&lt;img" in hit.snippet and "<img" not in hit.snippet
    assert "<mark>detención</mark>" in hit.snippet
    page = client_for(documentalist).get(reverse("search"), {"q": "detencion"}).content
    assert b'<img src=x onerror="alert(1)">' not in page


def test_the_search_box_is_on_every_staff_page(documentalist, client_for):
    page = client_for(documentalist).get(reverse("admin:index")).content.decode()
    assert f'action="{reverse("search")}"' in page and 'role="search"' in page


def test_the_search_needs_a_signed_in_staff_member(client, outsider):
    response = client.get(reverse("search"), {"q": "x"})
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_text_of_a_sources_pdf_is_searched(documentalist, django_capture_on_commit_callbacks):
    from weasyprint import HTML

    pdf = HTML(string="<p>Acta de la audiencia en Barquisimeto, diferida.</p>").write_pdf()
    source = with_source_file(documentalist, django_capture_on_commit_callbacks, "acta.pdf", pdf)
    read = SourceText.objects.get(source=source)
    assert read.method == "pdf" and "Barquisimeto" in read.text
    assert read.sha256 == source.sha256
    found = hits(documentalist, "barquisimeto", "incident")
    assert len(found) == 1 and "archivo" in found[0].where


def test_without_tesseract_an_image_is_not_read_and_says_so(monkeypatch):
    monkeypatch.setattr(extraction, "tesseract", lambda: None)
    read = extraction.read_text(b"\x89PNG\r\n", name="captura.png")
    assert read.text == "" and "Tesseract" in read.note


@pytest.mark.skipif(extraction.tesseract() is None, reason="Tesseract with Spanish not here")
def test_ocr_reads_an_image_in_spanish():
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1400, 160), "white")
    font = ImageFont.truetype("DejaVuSans.ttf", 56)
    ImageDraw.Draw(image).text((20, 40), "Detención en Guasdualito", fill="black", font=font)
    png = io.BytesIO()
    image.save(png, format="PNG")
    read = extraction.read_text(png.getvalue(), name="captura.png")
    assert read.method == "ocr" and "Guasdualito" in read.text


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's indexes")
def test_each_kind_is_searched_through_its_index(documentalist):
    from django.contrib.postgres.search import SearchVectorField  # noqa: F401

    from core import textsearch

    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
    try:
        for key, model in search.models_by_kind().items():
            queryset = model._default_manager.annotate(
                search_vector=textsearch.vector(*search.KINDS[key].fields)
            ).filter(search_vector=textsearch.query("detencion"))
            plan = queryset.explain()
            assert f"{model._meta.model_name[:16]}_search" in plan, (key, plan)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET enable_seqscan = on")


@pytest.mark.skipif(extraction.tesseract() is None, reason="Tesseract with Spanish not here")
def test_a_scanned_pdf_is_read_by_ocr_and_found(documentalist, django_capture_on_commit_callbacks):
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("RGB", (1700, 400), "white")
    font = ImageFont.truetype("DejaVuSans.ttf", 64)
    ImageDraw.Draw(page).text((40, 150), "Allanamiento en Guasdualito", fill="black", font=font)
    scan = io.BytesIO()
    page.save(scan, format="PDF", resolution=150)
    source = with_source_file(
        documentalist, django_capture_on_commit_callbacks, "escaneo.pdf", scan.getvalue()
    )
    assert SourceText.objects.get(source=source).method == "ocr"
    assert len(hits(documentalist, "guasdualito", "incident")) == 1


def test_the_search_page_says_when_scans_are_not_read(documentalist, client_for, monkeypatch):
    monkeypatch.setattr(extraction, "tesseract", lambda: None)
    page = client_for(documentalist).get(reverse("search")).content.decode()
    assert "no se leen imágenes ni documentos escaneados" in page


def test_a_word_that_folds_to_nothing_neither_hangs_nor_matches_everything(documentalist):
    """Half-width katakana sound marks are letters to the regex and vanish when folded."""
    IncidentFactory(case__status="draft", description="Prueba ﾞ de algo")
    assert search.snippet("Prueba ﾞ de algo", "ﾞ") == "Prueba ﾞ de algo"
    assert search.search(documentalist, "ﾞ") == []
    assert search.snippet("Prueba de algo", "prueba ﾞ") == "<mark>Prueba</mark> de algo"


def test_hidden_matches_neither_crowd_out_nor_announce_themselves(
    documentalist, reviewer, monkeypatch
):
    """Many matches in a restricted case: the one the reader may see is found, and "more"
    is said of what they may see only."""
    monkeypatch.setattr(search, "CANDIDATES", 3)
    hidden = CaseFactory(status="draft", confidentiality="restricted")
    for _n in range(5):
        IncidentFactory(case=hidden, description=f"{SENTINEL} oculto")
    IncidentFactory(case__status="draft", description=f"{SENTINEL} visible")
    (group,) = [g for g in search.search(reviewer, SENTINEL, per_kind=1) if g.kind == "incident"]
    assert [hit.snippet for hit in group.hits] == [f"<mark>{SENTINEL}</mark> visible"]
    assert group.more is False
