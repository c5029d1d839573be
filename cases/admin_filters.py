"""The admin lists' filters by month (the reports' period) and by whether reports count an
incident."""

import datetime

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from cases.models import Incident


class MonthFilter(admin.SimpleListFilter):
    """Incidents dated in a month (the report's period), through Incident.in_month(): any
    month, in a month picker, and links to the last RECENT months. Nothing is read to offer
    them (listing the months that have incidents would scan the table, or at best cost a
    query on every page)."""

    title = _("month of the incident")
    parameter_name = "month"
    incident_path = ""  # lookup from the filtered model to Incident ("" = Incident itself)
    template = "admin/month_filter.html"
    RECENT = 12

    def lookups(self, request, model_admin):
        months, today = [], timezone.localdate()
        year, month = today.year, today.month
        for _month in range(self.RECENT):
            months.append(datetime.date(year, month, 1))
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return [(f"{m:%Y-%m}", date_format(m, "YEAR_MONTH_FORMAT")) for m in months]

    def value(self):
        """The month asked for, written YYYY-MM (a typed "2021-7" too, as the picker and the
        links write it); as it came when it is not a month (queryset() says so)."""
        value = super().value()
        try:
            return f"{datetime.datetime.strptime(value, '%Y-%m'):%Y-%m}"  # noqa: DTZ007
        except (TypeError, ValueError):
            return value

    def choices(self, changelist):
        yield from super().choices(changelist)
        # The picker, with the list's other filters as hidden fields so that it adds to them.
        shown = {value for value, _label in self.lookup_choices}
        yield {
            "picker": True,
            "selected": bool(self.value()) and self.value() not in shown,
            "value": self.value() or "",
            "hidden": [
                (name, value)
                for name, values in changelist.filter_params.items()
                if name != self.parameter_name
                for value in values
            ],
        }

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            month = datetime.datetime.strptime(self.value(), "%Y-%m").date()  # noqa: DTZ007
        except ValueError:
            message = _("Unknown month %(value)s: use YYYY-MM.") % {"value": self.value()}
            messages.error(request, message)
            return queryset.none()
        if not self.incident_path:
            # Directly, not "id IN (…)": the list then reads the month newest first through
            # the date index and stops at the page.
            return queryset.in_month(month.year, month.month)
        incidents = Incident.objects.in_month(month.year, month.month)
        return queryset.filter(pk__in=incidents.values(self.incident_path))


class CountedFilter(admin.SimpleListFilter):
    """Whether reports count the incident (Incident.objects.counted())."""

    title = _("counted in the reports")
    parameter_name = "counted"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        counted = Incident.objects.counted().values("pk")
        if self.value() == "yes":
            return queryset.filter(pk__in=counted)
        if self.value() == "no":
            return queryset.exclude(pk__in=counted)
        return queryset


class CaseMonthFilter(MonthFilter):
    title = _("month of its incidents")
    incident_path = "case_id"
