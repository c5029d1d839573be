import datetime

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django_otp.decorators import otp_required

from accounts.models import SecurityEvent
from accounts.services import security_event_record
from cases.models import Incident
from core.routers import reads_from_replica
from organizations.vocabularies import PerpetratorCategory
from reports import exports, selectors
from reports.bulletin import (
    CHARTS,
    annual_charts,
    annual_pdf,
    bulletin_pdf,
    chart_download,
    labelled,
    monthly_charts,
    perpetrators,
    state_rows,
)
from reports.models import MonthlySnapshot
from reports.narrative import annual_narrative, narrative, number
from reports.services import month_publish

FIGURE_FORMATS = ("csv", "xlsx", "json")


def reports_view(view):
    """Staff who passed the second factor and may see reports; others go to the login."""
    return otp_required(permission_required("reports.view_reports", raise_exception=True)(view))


def _month_or_404(year: int, month: int) -> None:
    if not 1 <= month <= 12 or not 1900 <= year <= 2999:
        raise Http404


@reports_view
def index(request):
    """The report of the latest month with counted incidents (or of this month)."""
    latest = (
        Incident.objects.counted()
        .filter(date_precision__in=selectors.DATED)
        .order_by("-occurred_on")
        .values_list("occurred_on", flat=True)
        .first()
    ) or timezone.localdate()
    return redirect("reports:monthly", year=latest.year, month=latest.month)


@reports_view
@reads_from_replica
def monthly(request, year: int, month: int):
    _month_or_404(year, month)
    figures = selectors.monthly_report(year, month)
    month_name = date_format(datetime.date(year, month, 1), "YEAR_MONTH_FORMAT")
    types = labelled(figures, "by_type", dict(Incident.Type.choices))
    trend = selectors.trend(year, month)
    first, _last = selectors.month_bounds(year, month)
    cases = selectors.published_cases(year, month)
    told = {**figures, "highlights": selectors.month_highlights(year, month)}
    context = {
        "title": _("Monthly report: %(month)s") % {"month": month_name},
        "year": year,
        "month": month,
        "month_name": month_name,
        "figures": figures,
        "types": types,
        **_breakdown_tables(figures),
        "charts": {
            name.replace("-", "_"): svg
            for name, svg in monthly_charts(figures, trend, month_name).items()
        },
        "zero_types": [row["label"] for row in types if not row["count"]],
        "narratives": [("es", narrative(told, "es")), ("en", narrative(told, "en"))],
        "change": _signed_percent(figures["previous_month"]["change_percent"]),
        "revision_types": [
            (dict(Incident.Type.choices)[code], delta)
            for code, delta in (
                (figures["snapshot"] or {}).get("revision", {}).get("by_type", {})
            ).items()
        ],
        "cases": cases,
        "withdrawn": figures["snapshot"]
        and selectors.still_public(figures["snapshot"]["figures"], year, month)["withdrawn"],
        "can_publish": request.user.has_perm("reports.publish_month"),
        "published": MonthlySnapshot.objects.filter(period=first)
        .exclude(pdf="")
        .order_by("version"),
        "prev": selectors.previous_month(year, month),
        "next": (year + 1, 1) if month == 12 else (year, month + 1),
    }
    return render(request, "reports/monthly.html", {**context, "has_permission": True})


@reports_view
@reads_from_replica
def monthly_chart(request, year: int, month: int, name: str, fmt: str = "svg"):
    """One of the month's charts, to download as an SVG or PNG file."""
    _month_or_404(year, month)
    if name not in CHARTS:
        raise Http404
    figures = selectors.monthly_report(year, month)
    month_name = date_format(datetime.date(year, month, 1), "YEAR_MONTH_FORMAT")
    svg = monthly_charts(figures, selectors.trend(year, month), month_name)[name]
    return chart_download(svg, fmt, f"defensores-{figures['period']}-{name}")


@reports_view
@reads_from_replica
def monthly_pdf(request, year: int, month: int):
    """The bulletin of the current figures, as a PDF (what publishing would freeze)."""
    _month_or_404(year, month)
    figures = selectors.bulletin_figures(year, month)
    pdf = bulletin_pdf(figures=figures, trend=selectors.trend(year, month), year=year, month=month)
    _export_logged(request, f"monthly {figures['period']}", "pdf")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="boletin-{figures["period"]}.pdf"'
    return response


@reports_view
def monthly_pdf_version(request, year: int, month: int, version: int):
    """A published version's bulletin, as it was frozen."""
    _month_or_404(year, month)
    first, _last = selectors.month_bounds(year, month)
    snapshot = get_object_or_404(MonthlySnapshot, period=first, version=version)
    if not snapshot.pdf:
        raise Http404
    _export_logged(request, f"monthly {first:%Y-%m} v{version}", "pdf")
    return FileResponse(
        snapshot.pdf.open("rb"),
        as_attachment=True,
        filename=f"boletin-{first:%Y-%m}-v{version}.pdf",
        content_type="application/pdf",
    )


def _breakdown_tables(figures: dict) -> dict:
    """The tables beside the charts by target, perpetrator and federal entity."""
    return {
        "targets": labelled(
            figures,
            "by_target",
            {"defender": _("Against defenders"), "organization": _("Against organizations")},
        ),
        "categories": labelled(
            figures, "by_perpetrator_category", dict(PerpetratorCategory.choices)
        ),
        "states": state_rows(figures),
        **perpetrators(figures),
    }


def _export_logged(request, report: str, fmt: str) -> None:
    """Every download of figures goes into the security log."""
    security_event_record(
        kind=SecurityEvent.Kind.EXPORT,
        request=request,
        user=request.user,
        report=report,
        format=fmt,
    )


def _signed_percent(value: float | None) -> str:
    """+300,0 % (or +300.0%): a change in the page's language, its sign always shown."""
    if value is None:
        return ""
    sign = "+" if value > 0 else ""
    return sign + _("%(value)s%%") % {"value": number(value, 1)}


@reports_view
@reads_from_replica
def monthly_download(request, year: int, month: int, fmt: str):
    _month_or_404(year, month)
    if fmt not in FIGURE_FORMATS:  # the bulletin (PDF) has its own address
        raise Http404
    figures = selectors.monthly_report(year, month)
    _export_logged(request, f"monthly {figures['period']}", fmt)
    return _figures_file(figures, fmt, f"defensores-{figures['period']}")


@reports_view
@permission_required("reports.publish_month", raise_exception=True)
def monthly_publish(request, year: int, month: int):
    """What publishing would freeze, to confirm; publishing itself (POST)."""
    _month_or_404(year, month)
    if request.method != "POST":
        figures = selectors.bulletin_figures(year, month)
        labels = dict(Incident.Type.choices)
        month_name = date_format(datetime.date(year, month, 1), "YEAR_MONTH_FORMAT")
        context = {
            "title": _("Publish the figures of %(month)s") % {"month": month_name},
            "year": year,
            "month": month,
            "month_name": month_name,
            "figures": figures,
            "types": [(labels[code], n) for code, n in figures["by_type"].items() if n],
            "latest": selectors.latest_snapshot(year, month),
            "has_permission": True,
        }
        return render(request, "reports/publish.html", context)
    try:
        snapshot = month_publish(year=year, month=month, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("reports:monthly", year=year, month=month)
    messages.success(
        request,
        _("%(month)s published (version %(version)d): these figures are now frozen.")
        % {
            "month": date_format(snapshot.period, "YEAR_MONTH_FORMAT"),
            "version": snapshot.version,
        },
    )
    return redirect("reports:monthly", year=year, month=month)


def _year_or_404(year: int) -> dict:
    _month_or_404(year, 1)
    return selectors.annual_figures(year)


@reports_view
@reads_from_replica
def annual(request, year: int):
    figures = _year_or_404(year)
    labels = dict(Incident.Type.choices)
    periods = list(figures["months"])
    # Types as rows and months as columns: 14 columns of types did not fit 1366 px; twelve
    # months do. A type with no attack all year is named in a note, not given a row.
    rows = [
        {
            "label": labels[code],
            "counts": [figures["months"][period][code] for period in periods],
            "year_only": figures["year_only"][code],
            "total": figures["by_type"][code],
        }
        for code in Incident.Type.values
        if figures["by_type"][code]
    ]
    months = [
        {
            "number": int(period[5:]),
            "name": date_format(datetime.date(year, int(period[5:]), 1), "b"),
        }
        for period in periods
    ]
    context = {
        "title": _("Annual report: %(year)d") % {"year": year},
        "year": year,
        "figures": figures,
        "narratives": [
            ("es", annual_narrative(figures, "es")),
            ("en", annual_narrative(figures, "en")),
        ],
        "months": months,
        "rows": sorted(rows, key=lambda row: -row["total"]),
        "zero_types": [
            labels[code] for code in Incident.Type.values if not figures["by_type"][code]
        ],
        "month_totals": [figures["month_totals"][period] for period in periods],
        "year_only_total": sum(figures["year_only"].values()),
        "charts": {name.replace("-", "_"): svg for name, svg in annual_charts(figures).items()},
        **_breakdown_tables(figures),
    }
    return render(request, "reports/annual.html", {**context, "has_permission": True})


@reports_view
@reads_from_replica
def annual_chart(request, year: int, name: str, fmt: str = "svg"):
    """One of the year's charts, to download as an SVG or PNG file."""
    figures = _year_or_404(year)
    if name not in CHARTS:
        raise Http404
    return chart_download(annual_charts(figures)[name], fmt, f"defensores-{year}-{name}")


@reports_view
@reads_from_replica
def annual_download(request, year: int, fmt: str):
    """The year's figures as CSV, XLSX, JSON or its PDF report."""
    figures = _year_or_404(year)
    if fmt not in (*FIGURE_FORMATS, "pdf"):
        raise Http404
    _export_logged(request, f"annual {year}", fmt)
    return _figures_file(figures, fmt, f"defensores-{year}")


def _figures_file(figures: dict, fmt: str, name: str) -> HttpResponse:
    if fmt == "json":
        response = JsonResponse(figures, json_dumps_params={"ensure_ascii": False, "indent": 2})
    elif fmt == "csv":
        response = HttpResponse(exports.as_csv(figures), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = HttpResponse(
            exports.as_xlsx(figures),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    elif fmt == "pdf":
        response = HttpResponse(annual_pdf(figures), content_type="application/pdf")
    else:
        raise Http404
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
