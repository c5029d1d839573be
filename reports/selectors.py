"""The figures of the monthly and annual reports (DESIGN.md §1), computed in SQL.

A handful of aggregate queries, whatever the number of incidents: one for the totals (month,
previous month, year to date, victims, cases), one GROUP BY per breakdown. Every breakdown
lists every category, zeros included, so that its parts sum to the total; perpetrator
breakdowns count incidents per category and may add up to more than the total.
"""

import calendar
import datetime

from django.db.models import Count, Q

from cases.models import Case, Incident, Involvement
from organizations.vocabularies import PerpetratorCategory, State
from reports.models import MonthlySnapshot

UNKNOWN_STATE = "unknown"
TOP_PERPETRATORS = 10
DATED = (Incident.DatePrecision.DAY, Incident.DatePrecision.MONTH)


def month_bounds(year: int, month: int) -> tuple[datetime.date, datetime.date]:
    first = datetime.date(year, month, 1)
    return first, first.replace(day=calendar.monthrange(year, month)[1])


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def period(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def parse_period(value: str) -> tuple[int, int]:
    """'2021-07' → (2021, 7); ValueError with a clear message otherwise."""
    try:
        year, month = (int(part) for part in value.split("-"))
        datetime.date(year, month, 1)
        if not 1900 <= year <= 2999:
            raise ValueError
    except (ValueError, TypeError):
        raise ValueError(f"{value!r} is not a month: use YYYY-MM, e.g. 2021-07") from None
    return year, month


def _all_codes(choices, counts: dict) -> dict:
    return {code: counts.get(code, 0) for code in choices.values}


def monthly_figures(year: int, month: int) -> dict:
    """The month's figures in the published JSON shape (without "snapshot")."""
    first, last = month_bounds(year, month)
    prev_year, prev_month = previous_month(year, month)
    prev_first, prev_last = month_bounds(prev_year, prev_month)
    counted = Incident.objects.counted()
    in_month = Q(occurred_on__range=(first, last), date_precision__in=DATED)

    # Query 1: totals. One pass over the counted incidents from the earliest date needed.
    totals = counted.filter(
        Q(occurred_on__range=(min(prev_first, first.replace(month=1)), last))
    ).aggregate(
        total=Count("id", filter=in_month),
        against_defenders=Count("id", filter=in_month & Q(defender__isnull=False)),
        against_organizations=Count("id", filter=in_month & Q(organization__isnull=False)),
        distinct_defenders=Count("defender", filter=in_month, distinct=True),
        distinct_organizations=Count("organization", filter=in_month, distinct=True),
        distinct_cases=Count("case", filter=in_month, distinct=True),
        previous=Count(
            "id",
            filter=Q(occurred_on__range=(prev_first, prev_last), date_precision__in=DATED),
        ),
        year_to_date=Count(
            "id",
            filter=Q(occurred_on__range=(first.replace(month=1), last), date_precision__in=DATED),
        ),
        year_only=Count(
            "id",
            filter=Q(occurred_on__year=year, date_precision=Incident.DatePrecision.YEAR),
        ),
    )
    month_incidents = counted.filter(in_month)
    # Queries 2–5: the breakdowns.
    by_type = dict(month_incidents.values_list("type").annotate(n=Count("id")).order_by())
    by_state = dict(month_incidents.values_list("state").annotate(n=Count("id")).order_by())
    involvements = Involvement.objects.filter(incident__in=month_incidents.values("pk"))
    by_category = dict(
        involvements.values_list("perpetrator__category")
        .annotate(n=Count("incident", distinct=True))
        .order_by()
    )
    top = (
        involvements.values("perpetrator__name", "perpetrator__acronym", "perpetrator__category")
        .annotate(incidents=Count("incident", distinct=True))
        .order_by("-incidents", "perpetrator__name")[:TOP_PERPETRATORS]
    )
    states = _all_codes(State, by_state)
    states[UNKNOWN_STATE] = by_state.get("", 0)
    previous = totals["previous"]
    return {
        "period": period(year, month),
        "unit": "incident",
        "total": totals["total"],
        "by_type": _all_codes(Incident.Type, by_type),
        "by_target": {
            "defender": totals["against_defenders"],
            "organization": totals["against_organizations"],
        },
        "by_perpetrator_category": _all_codes(PerpetratorCategory, by_category),
        "top_perpetrators": [
            {
                "name": row["perpetrator__name"],
                "acronym": row["perpetrator__acronym"],
                "category": row["perpetrator__category"],
                "incidents": row["incidents"],
            }
            for row in top
        ],
        "by_state": states,
        "distinct_victims": totals["distinct_defenders"] + totals["distinct_organizations"],
        "cases": totals["distinct_cases"],
        "previous_month": {
            "period": period(prev_year, prev_month),
            "total": previous,
            "change_percent": (
                round((totals["total"] - previous) * 100 / previous, 1) if previous else None
            ),
        },
        "year_to_date": {
            "from": period(year, 1),
            "to": period(year, month),
            "total": totals["year_to_date"],
        },
        "year_only_incidents": totals["year_only"],
    }


def latest_snapshot(year: int, month: int) -> MonthlySnapshot | None:
    first, _ = month_bounds(year, month)
    return MonthlySnapshot.objects.filter(period=first).select_related("published_by").first()


def revision(published: dict, current: dict) -> dict:
    """What changed since publication: total and per-type differences (non-zero only)."""
    by_type = {
        code: current["by_type"].get(code, 0) - published["by_type"].get(code, 0)
        for code in current["by_type"]
    }
    return {
        "total": current["total"] - published["total"],
        "by_type": {code: delta for code, delta in by_type.items() if delta},
    }


def monthly_report(year: int, month: int) -> dict:
    """Figures plus the published snapshot, if any, and the revision since then."""
    figures = monthly_figures(year, month)
    snapshot = latest_snapshot(year, month)
    figures["snapshot"] = None
    if snapshot is not None:
        figures["snapshot"] = {
            "version": snapshot.version,
            "published_at": snapshot.published_at.isoformat(),
            "published_by": snapshot.published_by.get_username(),
            "figures": snapshot.figures,
            "revision": revision(snapshot.figures, figures),
        }
    return figures


def annual_figures(year: int) -> dict:
    """Month × type counts of a year, and the year's total including year-only dates."""
    counted = Incident.objects.counted().filter(occurred_on__year=year)
    rows = (
        counted.filter(date_precision__in=DATED)
        .values_list("occurred_on__month", "type")
        .annotate(n=Count("id"))
        .order_by()
    )
    months = {m: _all_codes(Incident.Type, {}) for m in range(1, 13)}
    for month, code, n in rows:
        months[month][code] = n
    year_only = counted.filter(date_precision=Incident.DatePrecision.YEAR)
    year_only_by_type = dict(year_only.values_list("type").annotate(n=Count("id")).order_by())
    by_type = {
        code: sum(months[m][code] for m in months) + year_only_by_type.get(code, 0)
        for code in Incident.Type.values
    }
    return {
        "year": year,
        "unit": "incident",
        "months": {period(year, m): months[m] for m in months},
        "month_totals": {period(year, m): sum(months[m].values()) for m in months},
        "year_only": _all_codes(Incident.Type, year_only_by_type),
        "by_type": by_type,
        "total": sum(by_type.values()),
    }


def trend(year: int, month: int, months: int = 12) -> list[dict]:
    """Counted incidents per month, for the `months` months ending with this one."""
    periods = [(year, month)]
    for _ in range(months - 1):
        periods.append(previous_month(*periods[-1]))
    periods.reverse()
    first, _ = month_bounds(*periods[0])
    _, last = month_bounds(year, month)
    rows = (
        Incident.objects.counted()
        .filter(occurred_on__range=(first, last), date_precision__in=DATED)
        .values_list("occurred_on__year", "occurred_on__month")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {(y, m): n for y, m, n in rows}
    return [{"period": period(y, m), "total": counts.get((y, m), 0)} for y, m in periods]


def published_cases(year: int, month: int):
    """Published, public cases with counted incidents in the month (for the report's list)."""
    first, last = month_bounds(year, month)
    return (
        Case.objects.shared_with_allies()
        .filter(
            incidents__in=Incident.objects.counted().filter(
                occurred_on__range=(first, last), date_precision__in=DATED
            ),
        )
        .distinct()
        .order_by("title")
    )
