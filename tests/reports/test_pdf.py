"""The bulletin as a PDF: July 2021 from the demo has CDJ's figures in its text, and
publishing a month freezes its PDF beside the figures, every version kept."""

import hashlib
import io

import pytest
from pypdf import PdfReader

from reports import services
from reports.bulletin import bulletin_pdf
from reports.models import MonthlySnapshot
from reports.selectors import monthly_figures, trend

pytestmark = pytest.mark.django_db


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


class TestTheJuly2021Bulletin:
    @pytest.fixture(autouse=True)
    def _demo(self, demo):
        pass

    def test_its_pdf_has_the_figures_the_narrative_and_page_numbers(self, settings):
        settings.ORGANIZATION_NAME = "Centro para los Defensores y la Justicia"
        pdf = bulletin_pdf(
            figures=monthly_figures(2021, 7), trend=trend(2021, 7), year=2021, month=7
        )
        assert pdf.startswith(b"%PDF")
        text = text_of(pdf)
        for figure in ("140", "112", "72", "68"):
            assert figure in text
        assert "se registraron 140 ataques" in " ".join(text.split())
        assert "Centro para los Defensores y la Justicia" in text
        assert "Página 1 /" in text and "julio de 2021" in text

    def test_the_page_offers_it_and_its_download_is_logged(self, client_for, analyst):
        from accounts.models import SecurityEvent

        client = client_for(analyst)
        assert (
            "/reports/monthly/2021/7/boletin.pdf"
            in client.get("/reports/monthly/2021/7/").content.decode()
        )
        response = client.get("/reports/monthly/2021/7/boletin.pdf")
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        text = " ".join(text_of(response.content).split())
        assert "140" in text
        # As publishing would freeze it: the month's destacado and its published cases.
        assert "Caso destacado: «Detención de Javier Tarazona" in text
        assert "Casos publicados del mes" in text and "Omar de Dios García" in text
        assert SecurityEvent.objects.filter(kind="export", user=analyst).exists()

    def test_publishing_freezes_the_pdf_and_each_version_stays(self, client_for, reviewer):
        first = services.month_publish(year=2021, month=7, user=reviewer)
        with first.pdf.open("rb") as stored:
            frozen = stored.read()
        assert hashlib.sha256(frozen).hexdigest() == first.pdf_sha256
        assert "versión 1" in " ".join(text_of(frozen).split())
        second = services.month_publish(year=2021, month=7, user=reviewer)
        assert second.pdf.name != first.pdf.name
        client = client_for(reviewer)
        for snapshot in (first, second):
            url = f"/reports/monthly/2021/7/boletin-v{snapshot.version}.pdf"
            assert url in client.get("/reports/monthly/2021/7/").content.decode()
            got = client.get(url)
            assert got.status_code == 200
            body = b"".join(got.streaming_content)
            assert hashlib.sha256(body).hexdigest() == snapshot.pdf_sha256
        assert client.get("/reports/monthly/2021/7/boletin-v9.pdf").status_code == 404
        assert MonthlySnapshot.objects.count() == 2
