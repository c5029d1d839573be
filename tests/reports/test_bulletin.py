import io
import json
import re

import openpyxl
import pytest
from django.core.management import call_command

from cases.models import Incident
from organizations.vocabularies import State
from reports import charts
from reports.selectors import monthly_figures, monthly_report

pytestmark = pytest.mark.django_db


class TestTheSeedBulletin:
    @pytest.fixture(autouse=True)
    def _demo(self, demo):
        pass

    def test_the_command_gives_the_july_2021_bulletin(self):
        out = io.StringIO()
        call_command("monthly_report", "2021-07", "--format", "json", stdout=out)
        figures = json.loads(out.getvalue())
        assert figures["period"] == "2021-07" and figures["unit"] == "incident"
        assert figures["total"] == 140
        by_type = figures["by_type"]
        assert (by_type["stigmatization"], by_type["intimidation"]) == (112, 14)
        assert (by_type["arbitrary_detention"], by_type["judicial_harassment"]) == (5, 4)
        assert by_type["raid"] == 2 and by_type["other"] == 3
        assert set(by_type) == set(Incident.Type.values)  # every code, zeros included
        assert sum(by_type.values()) == 140
        assert figures["by_target"] == {"defender": 72, "organization": 68}
        assert figures["previous_month"]["period"] == "2021-06"
        assert figures["previous_month"]["total"] == 35
        assert figures["year_to_date"] == {"from": "2021-01", "to": "2021-07", "total": 514}
        assert sum(figures["by_state"].values()) == 140
        assert figures["snapshot"] is None
        top = sorted(figures["by_perpetrator_category"].items(), key=lambda kv: -kv[1])
        assert [code for code, _ in top[:3]] == ["state_media", "public_official", "security_force"]

    def test_january_to_june_sums_to_374(self):
        assert sum(monthly_figures(2021, m)["total"] for m in range(1, 7)) == 374

    def test_the_text_is_a_press_release_in_spanish_and_english(self):
        out = io.StringIO()
        call_command("monthly_report", "2021-07", "--format", "text", stdout=out)
        text = out.getvalue()
        assert text.startswith(
            "En julio de 2021 se registraron 140 ataques contra personas defensoras y "
            "organizaciones de derechos humanos, frente a 35 en junio."
        )
        assert "514" in text
        out = io.StringIO()
        call_command(
            "monthly_report", "2021-07", "--format", "text", "--language", "en", stdout=out
        )
        assert out.getvalue().startswith("In July 2021, 140 attacks against human rights")

    def test_the_csv_lists_every_figure(self):
        out = io.StringIO()
        call_command("monthly_report", "2021-07", "--format", "csv", stdout=out)
        lines = out.getvalue().splitlines()
        assert lines[0] == "period,breakdown,code,label,count"
        assert "2021-07,total,total,,140" in lines
        assert any(
            line.startswith("2021-07,by_type,threat,") and line.endswith(",0") for line in lines
        )

    def test_a_bad_month_is_a_clear_error(self):
        from django.core.management import CommandError

        with pytest.raises(CommandError, match="YYYY-MM"):
            call_command("monthly_report", "julio")

    def test_the_page_shows_figures_charts_narrative_and_downloads(self, client_for, analyst):
        client = client_for(analyst)
        response = client.get("/reports/monthly/2021/7/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "En julio de 2021 se registraron 140 ataques" in page
        assert "In July 2021, 140 attacks" in page
        assert "(+300,0\xa0%)" in page  # 140 against 35, in Spanish; "%" never starts a line
        # By type, target, perpetrator category, federal entity (the map); the trend.
        assert page.count('class="chart"') == 5
        assert '<title id="by-type-title">' in page
        assert "Estigmatización y difamación" in page and ">112<" in page
        assert "un incidente puede tener varios perpetradores" in page.lower()
        assert "Detención de Javier Tarazona" in page  # published cases of the month
        from cases.models import Case

        tarazona = Case.objects.get(title__startswith="Detención de Javier Tarazona")
        assert f'href="/admin/cases/case/{tarazona.pk}/change/">Detención de Javier' in page
        for fmt, kind in [
            ("csv", "text/csv"),
            ("json", "application/json"),
            ("xlsx", "application/vnd.openxmlformats"),
        ]:
            download = client.get(f"/reports/monthly/2021/7/report.{fmt}")
            assert download.status_code == 200 and download["Content-Type"].startswith(kind)
        book = openpyxl.load_workbook(io.BytesIO(download.content))
        rows = list(book.active.values)
        assert ("2021-07", "total", "total", None, 140) in rows or (
            "2021-07",
            "total",
            "total",
            "",
            140,
        ) in rows
        from accounts.models import SecurityEvent

        assert SecurityEvent.objects.filter(kind="export", user=analyst).count() == 3

    def test_the_charts_draw_what_is_there_and_download(self, client_for, analyst):
        client = client_for(analyst)
        page = client.get("/reports/monthly/2021/7/").content.decode()
        chart = page[page.index('<svg xmlns="http://www.w3.org/2000/svg" role="img"') :]
        chart = chart[: chart.index("</svg>")]
        assert "Allanamiento" in chart and "Tortura" not in chart  # a type with none: not drawn
        assert "Sin ataques de estos tipos este mes" in page and "Tortura" in page
        trend = client.get("/reports/monthly/2021/7/chart-trend.svg")
        assert trend.status_code == 200 and trend["Content-Type"] == "image/svg+xml"
        assert "attachment" in trend["Content-Disposition"]
        drawn = trend.content.decode()
        # The demo starts in January 2021: the trend does not open on empty months of 2020.
        assert "Ene 21" in drawn and "Ago 20" not in drawn
        assert client.get("/reports/monthly/2021/7/chart-nothing.svg").status_code == 404
        png = client.get("/reports/monthly/2021/7/chart-by-type.png")
        assert png.status_code == 200 and png["Content-Type"] == "image/png"
        assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
        width = int.from_bytes(png.content[16:20], "big")  # the IHDR chunk
        assert width == 960  # twice its drawn size, for print and social networks

    def test_the_map_shades_each_federal_entity_by_its_count(self, client_for, analyst):
        from reports.selectors import monthly_figures

        by_state = monthly_figures(2021, 7)["by_state"]
        page = client_for(analyst).get("/reports/monthly/2021/7/").content.decode()
        drawn = page[page.index('aria-labelledby="map-title map-desc"') :]
        drawn = drawn[: drawn.index("</svg>")]
        assert drawn.count("<path ") == 25  # 23 states, Distrito Capital, Dependencias Federales
        labels = dict(State.choices)
        for code, n in by_state.items():
            if code in labels:
                fill = re.search(
                    r'fill="(#[0-9a-f]{6})"[^>]*><title>' + re.escape(f"{labels[code]}: {n}<"),
                    drawn,
                )
                assert fill, code
                assert (fill.group(1) == charts.NONE) == (n == 0), code
        assert "Natural Earth" in drawn  # the boundaries' source, credited on the chart
        table = page[page.index("<caption>Ataques por entidad federal</caption>") :]
        table = table[: table.index("</table>")]
        busiest = max((code for code in labels), key=lambda code: by_state[code])
        assert f'<td>{labels[busiest]}</td><td class="num">{by_state[busiest]}</td>' in table
        png = client_for(analyst).get("/reports/monthly/2021/7/chart-map.png")
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")

    def test_the_api_gives_the_same_json(self, client_for, analyst):
        client = client_for(analyst)
        api = client.get("/api/v1/stats/monthly/?month=2021-07").json()
        assert api == monthly_report(2021, 7)
        assert client.get("/api/v1/stats/monthly/?month=julio").status_code == 400

    def test_reports_are_one_click_from_the_admin(self, client_for, analyst):
        client = client_for(analyst)
        assert 'href="/reports/"' in client.get("/admin/").content.decode()
        assert client.get("/reports/")["Location"] == "/reports/monthly/2021/7/"

    def test_the_annual_page_has_the_month_by_type_table(self, client_for, analyst):
        page = client_for(analyst).get("/reports/annual/2021/").content.decode()
        # By type, by month, by target, by perpetrator category, the map.
        assert page.count('class="chart"') == 5
        assert "ataques contabilizados en 2021." in page
        # Types as rows, months as columns (linked), a type with none named in a note.
        assert '<th scope="row">Estigmatización y difamación</th>' in page
        assert 'href="/reports/monthly/2021/7/">Jul</a>' in page
        assert "Sin ataques de estos tipos este año" in page

    def test_the_year_has_a_months_breakdowns_downloads_and_pdf(self, client_for, analyst):
        from reports.selectors import annual_figures
        from tests.reports.test_pdf import text_of

        figures = annual_figures(2021)
        total = figures["total"]
        assert sum(figures["by_target"].values()) == total
        assert sum(figures["by_state"].values()) == total
        assert figures["top_bodies"] and figures["by_perpetrator_category"]["state_media"]
        assert figures["month_totals"]["2021-07"] == 140
        client = client_for(analyst)
        page = client.get("/reports/annual/2021/").content.decode()
        assert "Ataques por entidad federal" in page and "Principales perpetradores" in page
        assert 'href="/reports/annual/2021/report.pdf"' in page  # the toolbar, at the top
        assert page.index("report.pdf") < page.index("<table")
        csv = client.get("/reports/annual/2021/report.csv").content.decode()
        assert f"2021,total,total,,{total}" in csv and "2021,by_month,2021-07,,140" in csv
        data = client.get("/reports/annual/2021/report.json").json()
        assert data["total"] == total and data["by_state"] == figures["by_state"]
        assert client.get("/reports/annual/2021/report.xlsx").status_code == 200
        assert client.get("/reports/annual/2021/report.exe").status_code == 404
        svg = client.get("/reports/annual/2021/chart-map.svg")
        assert svg.status_code == 200 and b"Natural Earth" in svg.content
        assert client.get("/reports/annual/2021/chart-map.png").content.startswith(b"\x89PNG")
        pdf = client.get("/reports/annual/2021/report.pdf")
        assert pdf["Content-Type"] == "application/pdf"
        text = " ".join(text_of(pdf.content).split())
        assert f"{total} ataques contabilizados en 2021" in text.replace("\xa0", "")
        assert "Ataques por entidad federal, 2021" in text
        from accounts.models import SecurityEvent

        assert SecurityEvent.objects.filter(kind="export", user=analyst).count() == 4
