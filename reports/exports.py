"""The monthly and annual figures as CSV and XLSX: one row per (breakdown, category)."""

import csv
import io

from openpyxl import Workbook

from cases.models import Incident
from organizations.vocabularies import PerpetratorCategory, State


def rows(figures: dict) -> list[tuple[str, str, str, int]]:
    """(breakdown, code, label, count) for every figure of the report."""
    out = [("total", "total", "", figures["total"])]
    out += [("by_type", c, str(Incident.Type(c).label), n) for c, n in figures["by_type"].items()]
    out += [("by_target", c, c, n) for c, n in figures["by_target"].items()]
    out += [
        ("by_perpetrator_category", c, str(PerpetratorCategory(c).label), n)
        for c, n in figures["by_perpetrator_category"].items()
    ]
    states = dict(State.choices)
    out += [("by_state", c, str(states.get(c, c)), n) for c, n in figures["by_state"].items()]
    if "months" in figures:  # a year: its months, then the year-only incidents
        out += [("by_month", p, "", n) for p, n in figures["month_totals"].items()]
        out += [("year_only", "", "", sum(figures["year_only"].values()))]
        return out
    out += [
        ("distinct_victims", "", "", figures["distinct_victims"]),
        ("cases", "", "", figures["cases"]),
        (
            "previous_month",
            figures["previous_month"]["period"],
            "",
            figures["previous_month"]["total"],
        ),
        (
            "year_to_date",
            f"{figures['year_to_date']['from']}/{figures['year_to_date']['to']}",
            "",
            figures["year_to_date"]["total"],
        ),
    ]
    return out


HEADER = ("period", "breakdown", "code", "label", "count")


def as_csv(figures: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for row in rows(figures):
        writer.writerow((figures["period"], *row))
    return buffer.getvalue()


def as_xlsx(figures: dict) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = figures["period"]
    sheet.append(HEADER)
    for row in rows(figures):
        sheet.append((figures["period"], *row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
