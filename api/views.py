"""The allies' read-only API (and staff's, within what they may see): one flat row per
counted incident, cases with what they hold, who's who, and a streamed full export. Every
queryset starts from `visible_to(user)`; what a row may show is the export policy's
(cases.disclosure)."""

import functools
import uuid
from collections.abc import Iterator

from django.db.models import Prefetch, Q
from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import filters, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import JSONRenderer

from accounts.access import is_ally
from api.base import (
    CSVRenderer,
    Cursor,
    ExportThrottle,
    IsAllyOrStaffReader,
    LoggedMixin,
    api_request_log,
    wants_bom,
)
from api.filters import CaseIncidentFilterBackend, IncidentFilter
from api.rows import (
    INCIDENT_COLUMNS,
    counted_for,
    export_rows,
    incident_csv_row,
    shared_incidents,
    stream_csv,
    stream_json,
)
from api.serializers import (
    CaseSerializer,
    DefenderSerializer,
    IncidentRowSerializer,
    OrganizationSerializer,
    PerpetratorSerializer,
)
from cases.disclosure import ExportPolicy
from cases.models import Case, Incident, Involvement
from core.routers import replica_reads
from organizations.models import Defender, Organization, Perpetrator


class StreamRenderer(JSONRenderer):
    """Lets content negotiation accept ?format=csv|json on the export; the stream is built by
    the view. Errors (401, 400…) are still rendered, as JSON."""


class CSVStreamRenderer(StreamRenderer):
    media_type = "text/csv"
    format = "csv"


class ApiViewSet(LoggedMixin, viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsAllyOrStaffReader]
    pagination_class = Cursor
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    # Any text reaches the view, which answers 404 in JSON (not Django's HTML page); control
    # characters never do (core.middleware.ControlCharacterMiddleware: 400).
    lookup_value_regex = r"[^/\x00-\x1f\x7f]+"
    renderer_classes = [JSONRenderer, CSVRenderer]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        bom = request.query_params.getlist("bom")
        if bom and bom not in (["0"], ["1"]):
            raise ValidationError(
                {
                    "bom": [
                        _("Give 0 (a CSV without a byte-order mark) or 1 (with one, the default).")
                    ]
                }
            )

    @property
    def csv_columns(self) -> list[str]:
        return list(self.get_serializer_class()().fields)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "policy": ExportPolicy(self.request.user)}

    # Reads may go to the replica (core/routers.py); who is asking was settled before,
    # on the primary, so a revoked key is refused at once whatever the replica's lag.
    def list(self, request, *args, **kwargs):
        with replica_reads():
            return super().list(request, *args, **kwargs)

    def retrieve(self, request, *args, **kwargs):
        with replica_reads():
            response = super().retrieve(request, *args, **kwargs)
        self.rows_served = 1
        return response


EXPORT_PARAMETER = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="json (default) or csv"
)
BOM_PARAMETER = OpenApiParameter(
    "bom",
    int,
    enum=[0, 1],
    description="CSV only: 1 (default) starts the file with a UTF-8 byte-order mark, which "
    "Excel needs to read accents; 0 leaves it out (or read it with encoding='utf-8-sig').",
)


@extend_schema_view(list=extend_schema(parameters=[BOM_PARAMETER]))
class IncidentViewSet(ApiViewSet):
    """Counted incidents, one row each: cases verified or published, duplicates excluded."""

    serializer_class = IncidentRowSerializer
    filterset_class = IncidentFilter
    filter_backends = [
        DjangoFilterBackend,
        filters.OrderingFilter,
    ]
    # Cursor pages need a (nearly) unique order: dates tie by the thousand (month- and
    # year-precision dates are all the 1st), so date order is the export's, not the pages'.
    ordering_fields = ["created_at", "updated_at"]
    csv_columns = INCIDENT_COLUMNS
    csv_row = staticmethod(incident_csv_row)
    log_name = "incidents"

    def get_queryset(self):
        return shared_incidents(ExportPolicy(self.request.user))

    @extend_schema(
        parameters=[EXPORT_PARAMETER, BOM_PARAMETER],
        responses={
            (200, "application/json"): IncidentRowSerializer(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
        },
        description="Every counted incident matching the filters, streamed in one response "
        "(constant memory on both sides; no pages).",
    )
    @action(
        detail=False,
        pagination_class=None,
        filter_backends=[DjangoFilterBackend],
        renderer_classes=[StreamRenderer, CSVStreamRenderer],
    )
    def export(self, request):
        policy = ExportPolicy(request.user)
        queryset = self.filter_queryset(counted_for(policy)).order_by("occurred_on", "pk")
        self.log_when_streamed = True
        if request.accepted_renderer.format == "csv":
            render = functools.partial(stream_csv, bom=wants_bom(request))
            content_type, filename = "text/csv", "incidentes.csv"
        else:
            render, content_type, filename = stream_json, "application/json", "incidentes.json"
        response = StreamingHttpResponse(
            self._logged(render, queryset, policy, request), content_type=content_type
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def _logged(self, render, queryset, policy: ExportPolicy, request) -> Iterator:
        served = 0

        def rows():
            nonlocal served
            with replica_reads():
                for row in export_rows(queryset, policy):
                    yield row
                    served += 1

        try:
            yield from render(rows())
        finally:
            # When the stream ends, or the client hangs up: how many rows actually left.
            api_request_log(request, view=self, status=200, rows=served)

    def get_throttles(self):
        throttles = super().get_throttles()
        return [*throttles, ExportThrottle()] if self.action == "export" else throttles


@extend_schema_view(list=extend_schema(parameters=[BOM_PARAMETER]))
class CaseViewSet(ApiViewSet):
    """Cases with their counted incidents and the sources the caller may see."""

    serializer_class = CaseSerializer
    log_name = "cases"
    filter_backends = [CaseIncidentFilterBackend]

    def filter_incidents(self):
        """The incidents the case filters look at: those shared with the caller."""
        return shared_incidents(ExportPolicy(self.request.user))

    def get_queryset(self):
        policy = ExportPolicy(self.request.user)
        return (
            policy.cases()
            .filter(status__in=Case.COUNTED_STATUSES)
            .prefetch_related(
                Prefetch(
                    "incidents",
                    queryset=shared_incidents(policy).order_by("occurred_on", "pk"),
                    to_attr="counted_incidents",
                ),
                Prefetch(
                    "sources",
                    queryset=policy.sources().order_by("date", "pk"),
                    to_attr="visible_sources",
                ),
            )
        )


class PerpetratorViewSet(ApiViewSet):
    """Perpetrators; allies see those named in incidents shared with them."""

    serializer_class = PerpetratorSerializer
    log_name = "perpetrators"

    def _shown(self):
        involved = Involvement.objects.filter(
            incident__in=Incident.objects.visible_to(self.request.user).counted()
        )
        return involved.values("perpetrator_id")

    def get_queryset(self):
        queryset = Perpetrator.objects.select_related("parent")
        if is_ally(self.request.user):
            queryset = queryset.filter(pk__in=self._shown())
        return queryset

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if is_ally(self.request.user):
            context["shown_perpetrators"] = set(
                self._shown().values_list("perpetrator_id", flat=True)
            )
        return context


class OrganizationViewSet(ApiViewSet):
    """Organizations; allies see those attacked in incidents shared with them."""

    serializer_class = OrganizationSerializer
    log_name = "organizations"

    def get_queryset(self):
        user = self.request.user
        if is_ally(user):
            shared = Incident.objects.visible_to(user).counted()
            return Organization.objects.filter(pk__in=shared.values("organization_id"))
        return Organization.objects.all()


class DefenderViewSet(ApiViewSet):
    """Defenders; allies see those attacked in incidents shared with them."""

    serializer_class = DefenderSerializer
    log_name = "defenders"

    def get_queryset(self):
        user = self.request.user
        if is_ally(user):
            shared = Incident.objects.visible_to(user).counted()
            queryset = Defender.objects.filter(pk__in=shared.values("defender_id"))
        else:
            queryset = Defender.objects.visible_to(user)
        return queryset.prefetch_related(Prefetch("profiles"))

    def get_object(self):
        """By the id the caller was shown: the public id with the name, the pseudonym's own
        without it (never the other, which would tie them)."""
        try:
            shown = uuid.UUID(str(self.kwargs["id"]))
        except ValueError:
            raise NotFound() from None
        policy = ExportPolicy(self.request.user)
        candidates = self.get_queryset().filter(Q(public_id=shown) | Q(pseudonym_key=shown))
        for defender in candidates:
            if policy.id_of(defender) == str(shown):
                self.check_object_permissions(self.request, defender)
                return defender
        raise NotFound()
