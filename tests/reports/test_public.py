"""The public bulletin: anyone reads the published months, made only from what was
published. Sentinels planted in every case status × confidentiality, and in a month not
published, reach no public page, the feed, a chart or the PDF."""

import datetime
import io

import pytest
from pypdf import PdfReader

from cases.models import Case
from reports import services
from tests.factories import (
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    InvolvementFactory,
    PerpetratorFactory,
)

pytestmark = pytest.mark.django_db
SENTINEL = "CENTINELA"
CHARTS = ("by-type", "by-target", "by-perpetrator-category", "map", "trend")


@pytest.fixture(autouse=True)
def mounted(settings):
    settings.ROOT_URLCONF = "tests.reports.urls_public"  # as PUBLIC_BULLETIN=1 mounts it


@pytest.fixture
def july(reviewer):
    public = CaseFactory(status="published", confidentiality="public", title="Caso público")
    raid = IncidentFactory(case=public, type="raid", occurred_on=datetime.date(2021, 7, 5))
    ministry = PerpetratorFactory(
        name="Ministerio Público", acronym="", category="public_institution"
    )
    InvolvementFactory(incident=raid, perpetrator=PerpetratorFactory(name="Cuerpo Nombrado"))
    # A published public case is listed, its protected defender under a pseudonym only.
    hidden = DefenderFactory(full_name=f"{SENTINEL} protegida", identity_protected=True)
    IncidentFactory(case=public, defender=hidden, occurred_on=datetime.date(2021, 7, 6))
    for status in Case.Status.values:
        for confidentiality in Case.Confidentiality.values:
            if (status, confidentiality) == ("published", "public"):
                continue  # the one case above: what it names is public
            tag = f"{SENTINEL}-{status}-{confidentiality}"
            case = CaseFactory(
                title=f"{tag} caso", status=status, confidentiality=confidentiality, summary=tag
            )
            person = DefenderFactory(
                full_name=f"{tag} persona", identity_protected=confidentiality == "restricted"
            )
            incident = IncidentFactory(
                case=case, defender=person, description=tag, occurred_on=datetime.date(2021, 7, 9)
            )
            # An official (part of a body) named only in this case: a counted one would top
            # the month's perpetrators, and the body they are part of with them.
            official = PerpetratorFactory(
                name=f"{tag} funcionario", kind="individual", parent=ministry,
                category="public_official",
            )  # fmt: skip
            InvolvementFactory(incident=incident, perpetrator=official)
    # August is counted but not published: nothing of it is public.
    august = IncidentFactory(occurred_on=datetime.date(2021, 8, 3))
    InvolvementFactory(incident=august, perpetrator=PerpetratorFactory(name=f"{SENTINEL} agosto"))
    return services.month_publish(year=2021, month=7, user=reviewer)


def public_texts(client) -> dict[str, str]:
    texts = {}
    for url in ("/boletin/", "/boletin/2021/7/", "/boletin/atom.xml"):
        for language in ("es", "en"):
            response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
            assert response.status_code == 200, url
            texts[f"{url} {language}"] = response.content.decode()
    for name in CHARTS:
        response = client.get(f"/boletin/2021/7/grafico-{name}.svg")
        assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
        texts[name] = response.content.decode()
    pdf = client.get("/boletin/2021/7/boletin.pdf")
    assert pdf.status_code == 200
    reader = PdfReader(io.BytesIO(b"".join(pdf.streaming_content)))
    texts["pdf"] = "\n".join(page.extract_text() for page in reader.pages)
    return texts


def test_anyone_reads_the_published_month_and_no_sentinel_reaches_them(client, july):
    texts = public_texts(client)  # no login
    leaked = {where: SENTINEL for where, text in texts.items() if SENTINEL in text}
    assert leaked == {}
    month = texts["/boletin/2021/7/ es"]
    # Counted: the public case's two and the verified and published sentinel cases (5).
    assert f"se registraron {july.figures['total']} ataques" in month
    assert july.figures["total"] == 7
    # The published public case is listed; its protected defender by pseudonym.
    assert "Caso público" in month and "Allanamiento" in month
    assert "Defensor/a protegido/a #" in month
    assert "In July 2021, 7 attacks" in texts["/boletin/2021/7/ en"]
    assert "revisora" not in "".join(texts.values())  # who published is staff's business
    assert "Julio de 2021" in texts["/boletin/ es"] and "2021" in texts["/boletin/atom.xml es"]
    # Named: the body of the published public case. Not named: the officials of the others,
    # nor the ministry they are part of (no public case names it), though counted.
    assert "Cuerpo Nombrado" in month and "Cuerpo Nombrado" in texts["pdf"]
    assert "Ministerio Público" not in "".join(texts.values())
    assert july.figures["by_perpetrator_category"]["public_official"] == 5  # counted, unnamed


def test_a_month_not_published_is_not_there(client, july):
    assert client.get("/boletin/2021/8/").status_code == 404
    assert client.get("/boletin/2021/8/boletin.pdf").status_code == 404
    assert client.get("/boletin/2021/8/grafico-trend.svg").status_code == 404
    assert "agosto" not in client.get("/boletin/").content.decode()


def test_pages_say_when_they_changed_and_answer_304(client, july):
    page = client.get("/boletin/2021/7/")
    assert page["ETag"] and page["Last-Modified"]
    again = client.get("/boletin/2021/7/", HTTP_IF_NONE_MATCH=page["ETag"])
    assert again.status_code == 304
    svg = client.get("/boletin/2021/7/grafico-trend.svg")
    png = client.get("/boletin/2021/7/grafico-trend.png", HTTP_IF_NONE_MATCH=svg["ETag"])
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")  # not the SVG's 304


def test_the_feed_is_atom_with_each_version(client, july, reviewer):
    services.month_publish(year=2021, month=7, user=reviewer)
    feed = client.get("/boletin/atom.xml").content.decode()
    assert 'xmlns="http://www.w3.org/2005/Atom"' in feed
    assert feed.count("<entry>") == 2 and "versión 2" in feed


def test_it_is_off_in_production_unless_asked_for(settings):
    from django.urls import Resolver404, resolve

    settings.ROOT_URLCONF = "config.urls"  # as tests run it: DEBUG off, PUBLIC_BULLETIN unset
    with pytest.raises(Resolver404):
        resolve("/boletin/")
