"""The report's text, generated from the figures, in a given language."""

import datetime

from django.utils import translation
from django.utils.formats import date_format, number_format
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from cases.models import Incident
from organizations.vocabularies import PerpetratorCategory


def percent(part: int, whole: int) -> str:
    value = number_format(round(part * 100 / whole), 0) if whole else "0"
    return _("%(value)s%%") % {"value": value}


def _month(value: str, fmt: str) -> str:
    year, month = (int(x) for x in value.split("-"))
    return date_format(datetime.date(year, month, 1), fmt)


def narrative(figures: dict, language: str) -> str:
    with translation.override(language):
        total = figures["total"]
        previous = figures["previous_month"]
        parts = [
            _(
                "In %(month)s, %(total)d attacks against human rights defenders and "
                "organizations were recorded, compared with %(previous)d in %(previous_month)s."
            )
            % {
                "month": _month(figures["period"], "YEAR_MONTH_FORMAT"),
                "total": total,
                "previous": previous["total"],
                "previous_month": _month(previous["period"], "F"),
            }
        ]
        if total:
            kinds = sorted(((n, code) for code, n in figures["by_type"].items() if n), reverse=True)
            listed = [
                _("%(count)d %(label)s (%(percent)s)")
                % {
                    "count": n,
                    "label": str(Incident.Type(code).label).lower(),
                    "percent": percent(n, total),
                }
                for n, code in kinds
            ]
            parts.append(_("By type: %(list)s.") % {"list": get_text_list(listed, _("and"))})
            target = figures["by_target"]
            parts.append(
                _(
                    "%(defenders)d (%(defenders_percent)s) were against defenders and "
                    "%(organizations)d (%(organizations_percent)s) against organizations."
                )
                % {
                    "defenders": target["defender"],
                    "defenders_percent": percent(target["defender"], total),
                    "organizations": target["organization"],
                    "organizations_percent": percent(target["organization"], total),
                }
            )
            categories = sorted(
                ((n, code) for code, n in figures["by_perpetrator_category"].items() if n),
                reverse=True,
            )[:3]
            named = []
            for _n, code in categories:
                label = str(PerpetratorCategory(code).label).lower()
                acronyms = [
                    p["acronym"]
                    for p in figures["top_perpetrators"]
                    if p["category"] == code and p["acronym"]
                ][:3]
                named.append(f"{label} ({', '.join(acronyms)})" if acronyms else label)
            if named:
                parts.append(
                    _("The main perpetrators were %(list)s.")
                    % {"list": get_text_list(named, _("and"))}
                )
        ytd = figures["year_to_date"]
        parts.append(
            _("From %(from)s to %(to)s, %(total)d attacks were recorded (year to date).")
            % {
                "from": _month(ytd["from"], "F"),
                "to": _month(ytd["to"], "YEAR_MONTH_FORMAT"),
                "total": ytd["total"],
            }
        )
        return " ".join(parts)
