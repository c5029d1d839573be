"""Filters of the incident export (django-filter): what allies ask for most. The case list
takes the same ones, as "cases with a shared incident that matches"."""

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from django_filters import utils
from django_filters.rest_framework import DjangoFilterBackend

from cases.models import Incident, Involvement
from organizations.vocabularies import PerpetratorCategory, State


class TargetKind:
    DEFENDER = "defender"
    ORGANIZATION = "organization"
    CHOICES = [(DEFENDER, _("Defender")), (ORGANIZATION, _("Organization"))]


class StrictFilterSet(django_filters.FilterSet):
    """django-filter ignores an empty value and keeps the last of repeated ones; an export
    client that sent `date_from=` or two dates should be told, not get every row."""

    def is_valid(self):
        valid = super().is_valid()
        for name, filter_ in self.filters.items():
            if name not in self.data:
                continue
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data[name]]
            if "" in values:
                self.form.add_error(name, _("This filter needs a value."))
                valid = False
            elif len(values) > 1 and not isinstance(filter_, django_filters.MultipleChoiceFilter):
                self.form.add_error(name, _("Give this filter one value only."))
                valid = False
        return valid


class IncidentFilter(StrictFilterSet):
    date_from = django_filters.DateFilter(
        field_name="occurred_on", lookup_expr="gte", label=_("From date (inclusive)")
    )
    date_to = django_filters.DateFilter(
        field_name="occurred_on", lookup_expr="lte", label=_("Until date (inclusive)")
    )
    type = django_filters.MultipleChoiceFilter(choices=Incident.Type.choices, label=_("Type"))
    target_kind = django_filters.ChoiceFilter(
        choices=TargetKind.CHOICES, method="filter_target_kind", label=_("Target kind")
    )
    perpetrator = django_filters.UUIDFilter(
        method="filter_perpetrator", label=_("Perpetrator (public id)")
    )
    perpetrator_category = django_filters.MultipleChoiceFilter(
        choices=PerpetratorCategory.choices,
        method="filter_perpetrator_category",
        label=_("Perpetrator category"),
    )
    state = django_filters.MultipleChoiceFilter(choices=State.choices, label=_("State"))
    updated_since = django_filters.IsoDateTimeFilter(
        method="filter_updated_since",
        label=_("Changed since (the incident or its case); use changes/ for an exact sync"),
    )

    class Meta:
        model = Incident
        fields = ["date_from", "date_to", "type", "state"]

    def filter_target_kind(self, queryset, name, value):
        if value == TargetKind.DEFENDER:
            return queryset.filter(defender__isnull=False)
        return queryset.filter(organization__isnull=False)

    def _involving(self, queryset, condition: Q):
        # EXISTS, not a join: an incident with two matching perpetrators stays one row.
        involved = Involvement.objects.filter(condition, incident=OuterRef("pk"))
        return queryset.filter(Exists(involved))

    def filter_perpetrator(self, queryset, name, value):
        return self._involving(queryset, Q(perpetrator__public_id=value))

    def filter_perpetrator_category(self, queryset, name, value):
        if not value:
            return queryset
        return self._involving(queryset, Q(perpetrator__category__in=value))

    def filter_updated_since(self, queryset, name, value):
        return queryset.filter(Q(updated_at__gte=value) | Q(case__updated_at__gte=value))


class CaseIncidentFilterBackend(DjangoFilterBackend):
    """The incident filters on the case list: a case is listed when at least one incident
    of it shared with the caller matches them all. A value that cannot be read is a 400 that
    says why, as on the incident list."""

    def get_filterset_class(self, view, queryset=None):
        return IncidentFilter

    def filter_queryset(self, request, queryset, view):
        incidents = view.filter_incidents()
        filterset = IncidentFilter(request.query_params, queryset=incidents, request=request)
        if not filterset.is_valid():
            raise utils.translate_validation(filterset.errors)
        if not any(name in request.query_params for name in filterset.filters):
            return queryset
        return queryset.filter(pk__in=filterset.qs.values("case_id"))
