"""The figures of the monthly and annual reports (the counting model: docs/architecture.md),
computed in SQL.

A handful of aggregate queries, whatever the number of incidents: one for the totals (month,
previous month, year to date, victims, cases), one GROUP BY per breakdown (perpetrators twice:
each on its own, and rolled up to the bodies they are part of). Every breakdown
lists every category, zeros included, so that its parts sum to the total; perpetrator
breakdowns count incidents per category and may add up to more than the total.
"""

import calendar
import datetime
import functools

from django.db import connections, router
from django.db.models import Count, Prefetch, Q

from cases.models import Case, Incident
from organizations.models import Defender, Perpetrator
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


@functools.cache
def _counted(using: str) -> tuple[str, tuple]:
    """SQL and parameters of the counted incidents: the counting rule stays in
    Incident.objects.counted(), the ORM writes this part (once: it does not change)."""
    queryset = (
        Incident.objects.counted(per_row=True)
        .order_by()
        .values(
            "id",
            "case_id",
            "type",
            "state",
            "occurred_on",
            "date_precision",
            "defender_id",
            "organization_id",
        )
    )
    return queryset.query.get_compiler(using=using).as_sql()


# The month's aggregates over that set, written by hand: six statements whose cost grows
# with the month, not with the table, and almost nothing for Python to build each time
# (building them with the ORM cost about as much again as running them: make bench, B3).
# Built from constants only; every value is a parameter (hence the bandit B608 exemptions).
IN_MONTH = "i.date_precision IN ('day', 'month') AND i.occurred_on BETWEEN %s AND %s"
IN_YEAR = "i.occurred_on BETWEEN %s AND %s"  # a year's figures: every precision
TOTALS_SQL = (
    "\n"  # nosec B608 (one string with the next: constants only)
    f"""SELECT count(*) FILTER (WHERE {IN_MONTH}),
       count(*) FILTER (WHERE {IN_MONTH} AND i.defender_id IS NOT NULL),
       count(*) FILTER (WHERE {IN_MONTH} AND i.organization_id IS NOT NULL),
       count(DISTINCT i.defender_id) FILTER (WHERE {IN_MONTH}),
       count(DISTINCT i.organization_id) FILTER (WHERE {IN_MONTH}),
       count(DISTINCT i.case_id) FILTER (WHERE {IN_MONTH}),
       count(*) FILTER (WHERE {IN_MONTH}),
       count(*) FILTER (WHERE {IN_MONTH}),
       count(*) FILTER (WHERE i.date_precision = 'year' AND i.occurred_on BETWEEN %s AND %s)
FROM ({{counted}}) i WHERE i.occurred_on BETWEEN %s AND %s"""
)
BY_COLUMN_SQL = "SELECT i.{column}, count(*) FROM ({counted}) i WHERE " + IN_MONTH + " GROUP BY 1"  # nosec B608
MONTH_IDS = "SELECT i.id FROM ({counted}) i WHERE " + IN_MONTH  # nosec B608
BY_CATEGORY_SQL = (
    "\n"  # nosec B608 (one string with the next: constants only)
    f"""SELECT p.category, count(DISTINCT v.incident_id)
FROM cases_involvement v JOIN organizations_perpetrator p ON p.id = v.perpetrator_id
WHERE v.incident_id IN ({MONTH_IDS}) GROUP BY p.category"""
)
TOP_SQL = (
    "\n"  # nosec B608 (one string with the next: constants only)
    f"""SELECT p.name, p.acronym, p.category, count(DISTINCT v.incident_id) AS n
FROM cases_involvement v JOIN organizations_perpetrator p ON p.id = v.perpetrator_id
WHERE v.incident_id IN ({MONTH_IDS})
GROUP BY p.name, p.acronym, p.category ORDER BY n DESC, p.name LIMIT {TOP_PERPETRATORS}"""
)

# Perpetrators rolled up to the body they are part of (FAES to PNB, a programme to its
# channel, an official to a ministry): each body's incidents with any of its parts, once,
# and each part's own. The recursive part walks the perpetrators, not the incidents.
BODIES_SQL = (
    "\n"  # nosec B608 (one string with the next: constants only)
    f"""WITH RECURSIVE roots(id, root_id) AS (
  SELECT id, id FROM organizations_perpetrator WHERE parent_id IS NULL
  UNION ALL
  SELECT p.id, r.root_id FROM organizations_perpetrator p JOIN roots r ON p.parent_id = r.id
), named AS (
  SELECT r.root_id, v.perpetrator_id, v.incident_id
  FROM cases_involvement v JOIN roots r ON r.id = v.perpetrator_id
  WHERE v.incident_id IN ({MONTH_IDS})
)
SELECT n.root_id, NULL, b.name, b.acronym, b.category, count(DISTINCT n.incident_id)
FROM named n JOIN organizations_perpetrator b ON b.id = n.root_id
GROUP BY n.root_id, b.name, b.acronym, b.category
UNION ALL
SELECT n.root_id, n.perpetrator_id, b.name, b.acronym, b.category, count(DISTINCT n.incident_id)
FROM named n JOIN organizations_perpetrator b ON b.id = n.perpetrator_id
WHERE n.perpetrator_id <> n.root_id
GROUP BY n.root_id, n.perpetrator_id, b.name, b.acronym, b.category"""
)


def _bodies(rows: list[tuple]) -> list[dict]:
    """The TOP_PERPETRATORS bodies with most incidents, each with its parts named."""
    bodies, parts = {}, {}
    for root, part, name, acronym, category, n in rows:
        row = {"name": name, "acronym": acronym, "category": category, "incidents": n}
        if part is None:
            bodies[root] = row | {"parts": []}
        else:
            parts.setdefault(root, []).append(row)
    top = sorted(bodies.items(), key=lambda item: (-item[1]["incidents"], item[1]["name"]))
    for root, body in top[:TOP_PERPETRATORS]:
        body["parts"] = [
            {key: part[key] for key in ("name", "acronym", "incidents")}
            for part in sorted(parts.get(root, []), key=lambda p: (-p["incidents"], p["name"]))
        ]
    return [body for _root, body in top[:TOP_PERPETRATORS]]


def _rows(sql: str, params: list, using: str) -> list[tuple]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _breakdowns(first: datetime.date, last: datetime.date, using: str, *, year=False) -> dict:
    """By type, state and perpetrator (each, and rolled up) of the counted incidents dated
    from `first` to `last`: to the day or month, or, for a `year`, with any precision."""
    date = connections[using].ops.adapt_datefield_value
    counted, params = _counted(using)
    values = [*params, date(first), date(last)]

    def rows(template: str, **names) -> list[tuple]:
        sql = template.format(counted=counted, **names)
        return _rows(sql.replace(IN_MONTH, IN_YEAR) if year else sql, values, using)

    by_state = dict(rows(BY_COLUMN_SQL, column="state"))
    states = _all_codes(State, by_state)
    states[UNKNOWN_STATE] = by_state.get("", 0)
    return {
        "by_type": _all_codes(Incident.Type, dict(rows(BY_COLUMN_SQL, column="type"))),
        "by_state": states,
        "by_perpetrator_category": _all_codes(PerpetratorCategory, dict(rows(BY_CATEGORY_SQL))),
        "top_perpetrators": [
            {"name": name, "acronym": acronym, "category": category, "incidents": n}
            for name, acronym, category, n in rows(TOP_SQL)
        ],
        "top_bodies": _bodies(rows(BODIES_SQL)),
    }


def monthly_figures(year: int, month: int) -> dict:
    """The month's figures in the published JSON shape (without "snapshot")."""
    first, last = month_bounds(year, month)
    prev_year, prev_month = previous_month(year, month)
    prev_first, prev_last = month_bounds(prev_year, prev_month)
    jan, dec = first.replace(month=1), first.replace(month=12, day=31)
    using = router.db_for_read(Incident)
    date = connections[using].ops.adapt_datefield_value
    month_params = [date(first), date(last)]

    # Query 1: totals, in one pass over the counted incidents from the earliest date needed.
    counted, params = _counted(using)
    totals = _rows(
        TOTALS_SQL.format(counted=counted),
        [*month_params * 6, date(prev_first), date(prev_last), date(jan), date(last),
         date(jan), date(dec), *params, date(min(prev_first, jan)), date(last)],
        using,
    )[0]  # fmt: skip
    # Queries 2–6: the breakdowns, over the month only.
    breakdowns = _breakdowns(first, last, using)
    totals = dict(
        zip(
            ("total", "against_defenders", "against_organizations", "distinct_defenders",
             "distinct_organizations", "distinct_cases", "previous", "year_to_date", "year_only"),
            totals,
            strict=True,
        )
    )  # fmt: skip
    previous = totals["previous"]
    return {
        "period": period(year, month),
        "unit": "incident",
        "total": totals["total"],
        "by_type": breakdowns["by_type"],
        "by_target": {
            "defender": totals["against_defenders"],
            "organization": totals["against_organizations"],
        },
        "by_perpetrator_category": breakdowns["by_perpetrator_category"],
        "top_perpetrators": breakdowns["top_perpetrators"],
        "top_bodies": breakdowns["top_bodies"],
        "by_state": breakdowns["by_state"],
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


def shared_perpetrator_names(year: int, month: int) -> set[str]:
    """The names of the perpetrators that the month's counted incidents of cases shared with
    allies (published and public) name: the ones a published figure may name."""
    shared = (
        Incident.objects.counted()
        .in_month(year, month)
        .filter(case__in=Case.objects.shared_with_allies())
    )
    return _names_in(shared)


def _names_in(incidents) -> set[str]:
    """The names of the perpetrators these incidents name."""
    return set(
        Perpetrator.objects.filter(involvements__incident__in=incidents).values_list(
            "name", flat=True
        )
    )


def named_only_if_shared(figures: dict, names: set[str]) -> dict:
    """The figures with a perpetrator named only if `names` holds it: otherwise an
    individual's name could point to an internal or restricted case. A body stays when it
    or one of its parts is named (its count is a total, as every other figure)."""
    kept = dict(figures)
    kept["top_perpetrators"] = [
        row for row in figures.get("top_perpetrators", []) if row["name"] in names
    ]
    if "top_bodies" in figures:
        kept["top_bodies"] = []
        for body in figures["top_bodies"]:
            parts = [part for part in body["parts"] if part["name"] in names]
            if body["name"] in names or parts:
                kept["top_bodies"].append({**body, "parts": parts})
    return kept


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
    """Month × type counts of a year, the year's total including year-only dates, and the
    same breakdowns as a month's (by target, perpetrator and state, every precision)."""
    counted = Incident.objects.counted(per_row=True).filter(occurred_on__year=year)
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
    jan, dec = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    breakdowns = _breakdowns(jan, dec, router.db_for_read(Incident), year=True)
    targets = counted.aggregate(
        defender=Count("id", filter=Q(defender__isnull=False)),
        organization=Count("id", filter=Q(organization__isnull=False)),
    )
    return {
        "year": year,
        "period": str(year),
        "unit": "incident",
        "months": {period(year, m): months[m] for m in months},
        "month_totals": {period(year, m): sum(months[m].values()) for m in months},
        "year_only": _all_codes(Incident.Type, year_only_by_type),
        "by_type": by_type,
        "total": sum(by_type.values()),
        "by_target": targets,
        "by_perpetrator_category": breakdowns["by_perpetrator_category"],
        "top_perpetrators": breakdowns["top_perpetrators"],
        "top_bodies": breakdowns["top_bodies"],
        "by_state": breakdowns["by_state"],
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
        Incident.objects.counted(per_row=True)
        .filter(occurred_on__range=(first, last), date_precision__in=DATED)
        .values_list("occurred_on__year", "occurred_on__month")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {(y, m): n for y, m, n in rows}
    return [{"period": period(y, m), "total": counts.get((y, m), 0)} for y, m in periods]


def published_cases(year: int, month: int):
    """Published, public cases with counted incidents in the month (for the report's list),
    each with those incidents in `month_incidents`."""
    first, last = month_bounds(year, month)
    month_incidents = Incident.objects.counted(per_row=True).filter(
        occurred_on__range=(first, last), date_precision__in=DATED
    )
    return (
        Case.objects.shared_with_allies()
        .filter(incidents__in=month_incidents)
        .distinct()
        .order_by("title")
        .prefetch_related(
            Prefetch(
                "incidents",
                queryset=month_incidents.select_related("defender", "organization").order_by(
                    "occurred_on", "pk"
                ),
                to_attr="month_incidents",
            )
        )
    )


def public_case_list(year: int, month: int) -> list[dict]:
    """The month's published public cases as the public bulletin lists them: a protected
    defender only by the code of their pseudonym. Each keeps its public id (and a named
    defender theirs), so that what stops being public later can be hidden (still_public)."""
    listed = []
    for case in published_cases(year, month):
        incidents = []
        for incident in case.month_incidents:
            victim = {"organization": incident.organization.name} if incident.organization else {}
            if incident.defender and incident.defender.identity_protected:
                victim = {"protected": Defender.pseudonym_code(incident.defender.pseudonym_key)}
            elif incident.defender:
                victim = {
                    "defender": incident.defender.display_name,
                    "defender_id": str(incident.defender.public_id),
                }
            incidents.append(
                {"type": incident.type, "date": incident.occurred_on.isoformat()} | victim
            )
        listed.append(
            {
                "id": str(case.public_id),
                "title": case.title,
                "state": case.state,
                "incidents": incidents,
            }
        )
    return listed


def bulletin_figures(year: int, month: int) -> dict:
    """The month's figures as the bulletin shows them, and as publishing freezes them: a
    perpetrator named only where a published public case of the month names it, the
    published public cases it lists, and its highlighted cases."""
    figures = named_only_if_shared(
        monthly_figures(year, month), shared_perpetrator_names(year, month)
    )
    figures["published_cases"] = public_case_list(year, month)
    figures["highlights"] = month_highlights(year, month)
    return figures


HIGHLIGHTS_PER_MONTH = 3


def month_highlights(year: int, month: int) -> list[dict]:
    """The month's highlighted cases (destacados) for its narrative: published public cases
    with counted attacks in the month, the most recently highlighted first."""
    cases = (
        published_cases(year, month)
        .exclude(highlight="")
        .order_by("-highlighted_at", "title")[:HIGHLIGHTS_PER_MONTH]
    )
    return [
        {"id": str(case.public_id), "title": case.title, "summary": case.highlight}
        for case in cases
    ]


def still_public(figures: dict, year: int, month: int) -> dict:
    """Published figures as they may still be shown. A frozen case is left out, with its
    highlight, when it is no longer published and public, when its title changed since
    (perhaps to take a name out), or when a defender it names has asked for protection since
    (its title or highlight may name them too); a highlight changed or withdrawn since is left
    out; a perpetrator is named only while a listed case still shared names them. Live
    records only ever hide here, never add. `withdrawn` counts what was left out: the frozen
    PDF must not be served until the month is published again."""
    if "published_cases" not in figures:
        # Published before cases were frozen with the month: names as shared now.
        visible = named_only_if_shared(figures, shared_perpetrator_names(year, month))
        return visible | {"published_cases": [], "highlights": [], "withdrawn": 0}
    frozen = figures["published_cases"]
    ids = {case.get("id") for case in frozen} | {h.get("id") for h in figures.get("highlights", [])}
    shared = {
        str(public_id): (pk, title, highlight)
        for pk, public_id, title, highlight in Case.objects.shared_with_allies()
        .filter(public_id__in=[i for i in ids if i])
        .values_list("pk", "public_id", "title", "highlight")
    }
    named = [i["defender_id"] for c in frozen for i in c["incidents"] if "defender_id" in i]
    protected = set(
        str(public_id)
        for public_id in Defender.objects.filter(
            public_id__in=named, identity_protected=True
        ).values_list("public_id", flat=True)
    )
    kept = []
    for case in frozen:
        current = shared.get(case.get("id"))
        if (
            current is None
            or current[1] != case["title"]
            or any(i.get("defender_id") in protected for i in case["incidents"])
        ):
            continue
        kept.append(case)
    kept_ids = {case["id"] for case in kept}
    highlights = [
        h
        for h in figures.get("highlights", [])
        if h["id"] in kept_ids and shared[h["id"]][2] == h["summary"]
    ]
    withdrawn = (len(frozen) - len(kept)) + (len(figures.get("highlights", [])) - len(highlights))
    # Named: only who the month's incidents of the listed cases still shared name (found
    # through those cases, so the cost does not grow with the database).
    incidents = Incident.objects.counted().in_month(year, month)
    visible = named_only_if_shared(
        figures, _names_in(incidents.filter(case_id__in=[shared[i][0] for i in kept_ids]))
    )
    withdrawn += _names(figures) != _names(visible)
    visible["published_cases"] = kept
    visible["highlights"] = highlights
    visible["withdrawn"] = withdrawn
    return visible


def _names(figures: dict) -> list[str]:
    """Every perpetrator the figures name."""
    names = [row["name"] for row in figures.get("top_perpetrators", [])]
    for body in figures.get("top_bodies", []):
        names += [body["name"], *(part["name"] for part in body["parts"])]
    return names
