"""The report's text, generated from the figures, in a given language: each count with its
own singular or plural, numbers and percentages in the language's format, and no clause
about a count of zero."""

import datetime

from django.utils import translation
from django.utils.formats import date_format, number_format
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy

from organizations.vocabularies import PerpetratorCategory

# Each type of attack counted in a sentence, singular and plural ("5 arbitrary detentions"):
# the plural chosen by "count", the figure shown as "shown" (in the language's format).
TYPE_PHRASES = {
    "stigmatization": ngettext_lazy(
        "%(shown)s act of stigmatization or defamation",
        "%(shown)s acts of stigmatization or defamation",
        "count",
    ),
    "intimidation": ngettext_lazy(
        "%(shown)s act of intimidation or harassment",
        "%(shown)s acts of intimidation or harassment",
        "count",
    ),
    "threat": ngettext_lazy("%(shown)s threat", "%(shown)s threats", "count"),
    "judicial_harassment": ngettext_lazy(
        "%(shown)s case of judicial harassment", "%(shown)s cases of judicial harassment", "count"
    ),
    "arbitrary_detention": ngettext_lazy(
        "%(shown)s arbitrary detention", "%(shown)s arbitrary detentions", "count"
    ),
    "raid": ngettext_lazy("%(shown)s raid", "%(shown)s raids", "count"),
    "digital_attack": ngettext_lazy(
        "%(shown)s digital attack", "%(shown)s digital attacks", "count"
    ),
    "other": ngettext_lazy("%(shown)s attack of another kind", "%(shown)s of other kinds", "count"),
    "enforced_disappearance": ngettext_lazy(
        "%(shown)s enforced disappearance", "%(shown)s enforced disappearances", "count"
    ),
    "physical_assault": ngettext_lazy(
        "%(shown)s physical assault", "%(shown)s physical assaults", "count"
    ),
    "torture": ngettext_lazy("%(shown)s case of torture", "%(shown)s cases of torture", "count"),
    "killing": ngettext_lazy("%(shown)s killing", "%(shown)s killings", "count"),
    "travel_restriction": ngettext_lazy(
        "%(shown)s travel restriction", "%(shown)s travel restrictions", "count"
    ),
    "administrative_closure": ngettext_lazy(
        "%(shown)s administrative closure", "%(shown)s administrative closures", "count"
    ),
}


def number(value: int | float, decimals: int = 0) -> str:
    """A figure in the active language's format (1.810 / 1,810; 12,5 / 12.5)."""
    return number_format(value, decimals, force_grouping=True)


def percent(part: int, whole: int) -> str:
    value = number(round(part * 100 / whole)) if whole else "0"
    return _("%(value)s%%") % {"value": value}


def _month(value: str, fmt: str) -> str:
    year, month = (int(x) for x in value.split("-"))
    return date_format(datetime.date(year, month, 1), fmt)


def narrative(figures: dict, language: str) -> str:
    with translation.override(language):
        total = figures["total"]
        month = _month(figures["period"], "YEAR_MONTH_FORMAT")
        parts = [_lead(figures, month)]
        if total:
            parts.append(_by_type(figures, total))
            parts.append(_by_target(figures["by_target"], total))
            if perpetrators := _perpetrators(figures):
                parts.append(perpetrators)
        ytd = figures["year_to_date"]
        if ytd["from"] != ytd["to"]:  # in January the year so far is the month
            parts.append(
                ngettext(
                    "From %(from)s to %(to)s, %(total)s attack was recorded (year to date).",
                    "From %(from)s to %(to)s, %(total)s attacks were recorded (year to date).",
                    ytd["total"],
                )
                % {
                    "from": _month(ytd["from"], "F"),
                    "to": _month(ytd["to"], "YEAR_MONTH_FORMAT"),
                    "total": number(ytd["total"]),
                }
            )
        if highlights := figures.get("highlights"):
            parts.append(_highlights(highlights))
        return " ".join(parts)


def _highlights(highlights: list[dict]) -> str:
    """The month's highlighted cases, each with the line a reviewer wrote for it."""
    listed = [
        _("“%(title)s” — %(summary)s")
        % {"title": case["title"], "summary": case["summary"].rstrip(" .")}
        for case in highlights
    ]
    return ngettext(
        "Highlighted case: %(cases)s.", "Highlighted cases: %(cases)s.", len(listed)
    ) % {"cases": "; ".join(listed)}


def annual_narrative(figures: dict, language: str) -> str:
    """The year's text: its total, then by type, target and perpetrator as a month's."""
    with translation.override(language):
        total = figures["total"]
        parts = [
            ngettext(
                "%(total)s attack counted in %(year)s.",
                "%(total)s attacks counted in %(year)s.",
                total,
            )
            % {"total": number(total), "year": figures["year"]}
        ]
        if total:
            parts.append(_by_type(figures, total))
            parts.append(_by_target(figures["by_target"], total))
            if perpetrators := _perpetrators(figures):
                parts.append(perpetrators)
        return " ".join(parts)


def _lead(figures: dict, month: str) -> str:
    total, previous = figures["total"], figures["previous_month"]
    values = {
        "month": month,
        "total": number(total),
        "previous": number(previous["total"]),
        "previous_month": _month(previous["period"], "F"),
    }
    if not total:
        return (
            _(
                "In %(month)s, no attack against human rights defenders and organizations was "
                "recorded, compared with %(previous)s in %(previous_month)s."
            )
            % values
        )
    return (
        ngettext(
            "In %(month)s, %(total)s attack against human rights defenders and organizations "
            "was recorded, compared with %(previous)s in %(previous_month)s.",
            "In %(month)s, %(total)s attacks against human rights defenders and organizations "
            "were recorded, compared with %(previous)s in %(previous_month)s.",
            total,
        )
        % values
    )


def _by_type(figures: dict, total: int) -> str:
    kinds = sorted(((n, code) for code, n in figures["by_type"].items() if n), reverse=True)
    listed = [
        _("%(phrase)s (%(percent)s)")
        % {
            "phrase": TYPE_PHRASES[code] % {"count": n, "shown": number(n)},
            "percent": percent(n, total),
        }
        for n, code in kinds
    ]
    return _("By type: %(list)s.") % {"list": get_text_list(listed, _("and"))}


def _by_target(target: dict, total: int) -> str:
    """Who was attacked, leaving out a side with none."""
    defenders, organizations = target["defender"], target["organization"]
    against_defenders = {"count": number(defenders), "percent": percent(defenders, total)}
    against_organizations = {
        "count": number(organizations),
        "percent": percent(organizations, total),
    }
    if defenders and organizations:
        return (
            ngettext(
                "%(count)s (%(percent)s) was against defenders",
                "%(count)s (%(percent)s) were against defenders",
                defenders,
            )
            % against_defenders
            + " "
            + _("and %(count)s (%(percent)s) against organizations.") % against_organizations
        )
    if defenders:
        return (
            ngettext(
                "It was against a defender.",
                "All were against defenders.",
                defenders,
            )
            % against_defenders
        )
    return (
        ngettext(
            "It was against an organization.",
            "All were against organizations.",
            organizations,
        )
        % against_organizations
    )


def _perpetrators(figures: dict) -> str:
    """The main perpetrators by name and count, within the three categories with most; each
    body counted with the units that are part of it, which are named (figures published
    before bodies were rolled up name each perpetrator on its own)."""
    categories = sorted(
        ((n, code) for code, n in figures["by_perpetrator_category"].items() if n), reverse=True
    )[:3]
    rolled_up = "top_bodies" in figures
    listed_bodies = figures["top_bodies"] if rolled_up else figures["top_perpetrators"]
    named = []
    for n, code in categories:
        bodies = [p for p in listed_bodies if p["category"] == code][:3]
        label = str(PerpetratorCategory(code).label)
        label = label[:1].lower() + label[1:]  # "medio del Estado": the rest as written
        if bodies:
            listed = get_text_list([_body(p) for p in bodies], _("and"))
            named.append(_("%(category)s: %(list)s") % {"category": label, "list": listed})
        else:
            named.append(_("%(category)s (%(count)s)") % {"category": label, "count": number(n)})
    if not named:
        return ""
    return _("The main perpetrators were, by category, %(list)s.") % {"list": "; ".join(named)}


def _body(body: dict) -> str:
    values = {"name": body["acronym"] or body["name"], "count": number(body["incidents"])}
    parts = [part["acronym"] or part["name"] for part in body.get("parts", [])]
    if not parts:
        return _("%(name)s (%(count)s)") % values
    return _("%(name)s (%(count)s, including %(parts)s)") % {
        **values,
        "parts": get_text_list(parts, _("and")),
    }
