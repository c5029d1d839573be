"""The public bulletin (/boletin/, PUBLIC_BULLETIN): the published months, for anyone, made
only from what was published — each month's latest snapshot, its frozen PDF — never from
the live records, which may hold what is not public yet."""

import datetime
import hashlib
import json

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.feedgenerator import Atom1Feed
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import condition

from reports.bulletin import (
    CHARTS,
    case_rows,
    chart_download,
    monthly_charts,
    perpetrators,
    state_rows,
)
from reports.models import MonthlySnapshot
from reports.narrative import narrative
from reports.selectors import (
    latest_snapshot,
    month_bounds,
    period,
    previous_month,
    still_public,
)


def published() -> list[MonthlySnapshot]:
    """The latest version of each published month, newest month first."""
    latest = {}
    for snapshot in MonthlySnapshot.objects.order_by("-period", "-version"):
        latest.setdefault(snapshot.period, snapshot)
    return list(latest.values())


def _latest(year: int, month: int) -> MonthlySnapshot | None:
    """The month's latest published version; None for a month not published (or none)."""
    if not 1 <= month <= 12 or not 1900 <= year <= 2999:
        return None
    return latest_snapshot(year, month)


def _snapshot(year: int, month: int) -> MonthlySnapshot:
    snapshot = _latest(year, month)
    if snapshot is None:
        raise Http404
    return snapshot


def _trend(year: int, month: int) -> list[dict]:
    """The twelve months to this one, as each was published (a month not published is left
    out: its live count is not public)."""
    periods = [(year, month)]
    for _n in range(11):
        periods.append(previous_month(*periods[-1]))
    firsts = [month_bounds(y, m)[0] for y, m in reversed(periods)]
    latest = {}
    versions = MonthlySnapshot.objects.filter(period__in=firsts).order_by("version")
    # Only each total: a snapshot's figures hold its cases too, and need not be read whole.
    for first, total in versions.values_list("period", "figures__total"):
        latest[first] = total
    return [
        {"period": period(first.year, first.month), "total": latest[first]}
        for first in firsts
        if first in latest
    ]


def _shown(request, year: int, month: int) -> tuple[MonthlySnapshot, dict] | None:
    """The month's latest snapshot and its figures as they may still be shown (what has
    stopped being public since is hidden: selectors.still_public), once per request."""
    cache = request.__dict__.setdefault("_bulletin_shown", {})
    if (year, month) not in cache:
        snapshot = _latest(year, month)
        cache[year, month] = (
            None if snapshot is None else (snapshot, still_public(snapshot.figures, year, month))
        )
    return cache[year, month]


def _etag(request, year: int, month: int, **_names) -> str | None:
    shown = _shown(request, year, month)
    if shown is None:
        return None
    snapshot, figures = shown
    # One tag per representation (a chart's SVG and its PNG are two), and a new one when
    # something is hidden since publication.
    variant = "-".join(str(value) for value in _names.values())
    hidden = hashlib.sha256(
        json.dumps([figures["published_cases"], figures["highlights"], _names_of(figures)]).encode()
    ).hexdigest()[:12]
    return f'"{snapshot.pk}-{snapshot.version}-{translation.get_language()}-{variant}-{hidden}"'


def _names_of(figures: dict) -> list:
    return [figures.get("top_perpetrators", []), figures.get("top_bodies", [])]


def _modified(request, year: int, month: int, **_names) -> datetime.datetime | None:
    shown = _shown(request, year, month)
    if shown is None or shown[1]["withdrawn"]:
        return None  # changed since publication, by hiding: only the ETag tells
    return shown[0].published_at


def _render(request, template: str, context: dict):
    return render(request, template, {"organization": settings.ORGANIZATION_NAME, **context})


def index(request):
    return _render(
        request,
        "reports/public/index.html",
        {"title": _("Monthly bulletins"), "months": published()},
    )


@condition(etag_func=_etag, last_modified_func=_modified)
def month(request, year: int, month: int):
    shown = _shown(request, year, month)
    if shown is None:
        raise Http404
    snapshot, figures = shown
    month_name = date_format(snapshot.period, "YEAR_MONTH_FORMAT")
    charts = monthly_charts(figures, _trend(year, month), month_name)
    context = {
        "title": _("Bulletin: %(month)s") % {"month": month_name},
        "snapshot": snapshot,
        "figures": figures,
        "narrative": narrative(figures, translation.get_language() or "es"),
        "charts": {name.replace("-", "_"): svg for name, svg in charts.items()},
        "chart_names": CHARTS,
        "cases": case_rows(figures),
        "states": state_rows(figures),
        **perpetrators(figures),
        "year": year,
        "month": month,
    }
    return _render(request, "reports/public/month.html", context)


def month_pdf(request, year: int, month: int):
    shown = _shown(request, year, month)
    # A frozen PDF that lists what is no longer public is not served until the month is
    # published again (the page says so).
    if shown is None or not shown[0].pdf or shown[1]["withdrawn"]:
        raise Http404
    snapshot = shown[0]
    return FileResponse(
        snapshot.pdf.open("rb"),
        as_attachment=True,
        filename=f"boletin-{snapshot.period:%Y-%m}.pdf",
        content_type="application/pdf",
    )


@condition(etag_func=_etag, last_modified_func=_modified)
def month_chart(request, year: int, month: int, name: str, fmt: str = "svg"):
    if name not in CHARTS:
        raise Http404
    snapshot = _snapshot(year, month)
    month_name = date_format(snapshot.period, "YEAR_MONTH_FORMAT")
    svg = monthly_charts(snapshot.figures, _trend(year, month), month_name)[name]
    return chart_download(svg, fmt, f"boletin-{snapshot.period:%Y-%m}-{name}")


class BulletinFeed(Feed):
    """New bulletins (each published version), as an Atom feed."""

    feed_type = Atom1Feed
    title = gettext_lazy("Monthly bulletins")
    subtitle = gettext_lazy("Attacks on human rights defenders, as published each month.")

    def link(self):
        return reverse("boletin:index")

    def items(self):
        return MonthlySnapshot.objects.order_by("-published_at")[:24]

    def item_title(self, item):
        return _("%(month)s (version %(version)s)") % {
            "month": date_format(item.period, "YEAR_MONTH_FORMAT"),
            "version": item.version,
        }

    def item_description(self, item):
        figures = still_public(item.figures, item.period.year, item.period.month)
        return narrative(figures, translation.get_language() or "es")

    def item_link(self, item):
        return reverse("boletin:month", args=[item.period.year, item.period.month])

    def item_guid(self, item):
        return f"{self.item_link(item)}#v{item.version}"

    def item_pubdate(self, item):
        return item.published_at

    def item_updateddate(self, item):
        return item.published_at
