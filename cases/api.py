"""The read-only export for allies (and staff, within their own visibility): one flat row per
counted incident, cases with what they hold, who's who, a streamed full export and the
changes feed that keeps an ally's mirror exact.

Nothing here decides access: every queryset starts from `visible_to(user)`. What the rows
may show is decided once, in `Names` (protected identities) and the field lists below:
no encrypted value, confidential source, case file number or staff name is ever read."""

import csv
import datetime
import uuid
from collections.abc import Iterator

import orjson
from django.apps import apps
from django.conf import settings
from django.core import signing
from django.db import connections
from django.db.models import (
    CharField,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Cast, Coalesce, Greatest
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import filters, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from cases.filters import IncidentFilter
from cases.models import Case, Incident, Involvement, Source
from cases.models.core import sees_everything
from config.routers import replica_reads
from organizations.api import (
    BlankURLAsNull,
    CSVRenderer,
    Cursor,
    ExportThrottle,
    IsAllyOrStaffReader,
    LoggedMixin,
    csv_safe,
)
from organizations.batches import among
from organizations.models import Defender, Membership, Organization, Perpetrator, is_ally
from organizations.vocabularies import PerpetratorCategory, State

STATE_NAMES = dict(State.choices)


def utc_stamp() -> serializers.DateTimeField:
    return serializers.DateTimeField(read_only=True, default_timezone=datetime.UTC)


# --- Who may be named -------------------------------------------------------------------


class Names:
    """The name of a defender as `user` may see it: the pseudonym for a protected identity,
    unless the user sees everything or is on the team of a case that names them. Allies
    always get the pseudonym. One query per request, whatever the number of rows."""

    def __init__(self, user):
        self.everything = not is_ally(user) and sees_everything(user)
        self.known: set[int] = set()
        if not is_ally(user) and not self.everything:
            followed = Defender.objects.followed_by(user).filter(identity_protected=True)
            self.known = set(followed.values_list("pk", flat=True))

    def may_name(self, defender: Defender) -> bool:
        return self.may_name_id(defender.pk, defender.identity_protected)

    def may_name_id(self, pk: int, protected: bool) -> bool:
        return not protected or self.everything or pk in self.known

    def of(self, defender: Defender) -> str:
        return defender.display_name if self.may_name(defender) else str(defender.pseudonym)

    def id_of(self, defender: Defender) -> str:
        """The id shown with the name, or the pseudonym's own (they never link)."""
        return str(defender.shown_id(named=self.may_name(defender)))


# --- Querysets ------------------------------------------------------------------------------


def shared_incidents(user) -> QuerySet:
    """Counted incidents `user` may see, with everything a row reads, in a fixed number of
    queries: case, target and perpetrators joined or prefetched; sources counted in SQL."""
    return (
        counted_for(user)
        .select_related("case", "defender", "organization")
        .prefetch_related(
            Prefetch(
                "involvements",
                queryset=Involvement.objects.select_related("perpetrator").order_by("pk"),
            ),
            Prefetch(
                "defender__memberships",
                queryset=Membership.objects.filter(ended_on__isnull=True)
                .select_related("organization")
                .order_by("pk"),
                to_attr="current_memberships",
            ),
        )
    )


def counted_for(user) -> QuerySet:
    """Counted incidents `user` may see, with the number of sources they may see."""
    visible_sources = (
        Source.objects.visible_to(user)
        .filter(case_id=OuterRef("case_id"))
        .order_by()
        .values("case_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Incident.objects.visible_to(user)
        .counted()
        .annotate(sources_count=Coalesce(Subquery(visible_sources, output_field=IntegerField()), 0))
    )


# --- The flat incident row ------------------------------------------------------------------


def _stamp(value: datetime.datetime) -> str:
    # UTC throughout the API: local offsets of old dates are not ISO 8601 (LMT −04:27:44).
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def incident_row(incident: Incident, names: Names) -> dict:
    """One counted incident as allies receive it (ACLED-style: one row per event), from a
    model instance of `shared_incidents`."""
    defender, organization, case = incident.defender, incident.organization, incident.case
    values = (
        incident.pk,
        incident.public_id,
        case.public_id,
        incident.occurred_on,
        incident.date_precision,
        incident.type,
        incident.defender_id,
        getattr(defender, "public_id", None),
        getattr(defender, "pseudonym_key", None),
        getattr(defender, "full_name", None),
        getattr(defender, "known_as", None),
        getattr(defender, "identity_protected", None),
        getattr(organization, "public_id", None),
        getattr(organization, "name", None),
        incident.state,
        incident.municipality,
        max(incident.updated_at, case.updated_at),
        incident.sources_count,
    )
    perpetrators = [
        _perpetrator(i.perpetrator.public_id, i.perpetrator.name, i.perpetrator.category, i.role)
        for i in incident.involvements.all()
    ]
    members = [m.organization.name for m in defender.current_memberships] if defender else []
    return _row(values, perpetrators, members, names, str(incident.get_type_display()))


def _perpetrator(public_id, name: str, category: str, role: str) -> dict:
    return {"id": str(public_id), "name": name, "category": category, "role": role}


def _row(values: tuple, perpetrators: list, members: list, names: Names, type_label: str) -> dict:
    """The row, from the values of EXPORT_FIELDS (in that order): the one place that decides
    what a row shows, for the paginated list and for the streamed export alike."""
    (
        _pk,
        public_id,
        case_id,
        occurred_on,
        precision,
        kind,
        defender_id,
        defender_public_id,
        pseudonym_key,
        full_name,
        known_as,
        protected,
        organization_public_id,
        organization_name,
        state,
        municipality,
        updated_at,
        sources_count,
    ) = values
    if defender_id is not None:
        named = names.may_name_id(defender_id, protected)
        target = {
            "target_kind": "defender",
            # Without the name, the pseudonym's own id: nothing ties it to the name or to
            # the id shown before protection was asked for.
            "target_id": str(defender_public_id if named else pseudonym_key),
            "target_name": Defender.display_name_of(full_name, known_as)
            if named
            else str(Defender.pseudonym_of(_uuid(pseudonym_key))),
            "target_protected": not named,
            # A protected defender's organization could name them: never shown with the
            # pseudonym.
            "target_organization": "; ".join(members) if named else "",
        }
    else:
        target = {
            "target_kind": "organization",
            "target_id": str(organization_public_id),
            "target_name": organization_name,
            "target_protected": False,
            "target_organization": organization_name,
        }
    return {
        "id": str(public_id),
        "case_id": str(case_id),
        "occurred_on": occurred_on.isoformat(),
        "date_precision": precision,
        "type": kind,
        "type_label": type_label,
        **target,
        "perpetrators": perpetrators,
        "state": state,
        "state_name": STATE_NAMES.get(state, ""),
        "municipality": municipality,
        "sources_count": sources_count,
        "updated_at": _stamp(updated_at),
    }


# The streamed export builds the same rows from tuples: no model instances, and per chunk of
# rows one query for their perpetrators and one for their targets' organizations. About
# five times faster than `incident_row` over instances (make bench, B4), same output
# (tests/api/test_export.py compares them).
EXPORT_FIELDS = (
    "pk",
    "public_id",
    "case__public_id",
    "occurred_on",
    "date_precision",
    "type",
    "defender_id",
    "defender__public_id",
    "defender__pseudonym_key",
    "defender__full_name",
    "defender__known_as",
    "defender__identity_protected",
    "organization__public_id",
    "organization__name",
    "state",
    "municipality",
    Greatest("updated_at", "case__updated_at"),  # the row changed when either did
    "sources_count",
)
PUBLIC_IDS = {
    "public_id",
    "case__public_id",
    "defender__public_id",
    "defender__pseudonym_key",
    "organization__public_id",
}


def _public_id(field: str, vendor: str):
    """A public id as values_list() should read it. On PostgreSQL as text (what the row
    shows), not as a UUID object to be turned back into text (make bench, B4); SQLite stores
    them without hyphens, so there they stay UUIDs."""
    return Cast(field, CharField()) if vendor == "postgresql" else field


def export_values(vendor: str) -> list:
    """EXPORT_FIELDS as values_list() reads them."""
    return [_public_id(f, vendor) if f in PUBLIC_IDS else f for f in EXPORT_FIELDS]


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _chunks(rows: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def export_rows(queryset: QuerySet, names: Names) -> Iterator[dict]:
    """`incident_row` for every incident of `queryset` (from `counted_for`), streamed."""
    labels = {code: str(label) for code, label in Incident.Type.choices}
    vendor = connections[queryset.db].vendor
    tuples = queryset.values_list(*export_values(vendor)).iterator(chunk_size=EXPORT_CHUNK)
    perpetrator_id = _public_id("perpetrator__public_id", vendor)
    for chunk in _chunks(tuples, EXPORT_CHUNK):
        perpetrators: dict[int, list] = {}
        involved = (
            Involvement.objects.filter(among("incident_id", [row[0] for row in chunk], vendor))
            .order_by("pk")
            .values_list(
                "incident_id",
                perpetrator_id,
                "perpetrator__name",
                "perpetrator__category",
                "role",
            )
        )
        for incident_id, public_id, name, category, role in involved:
            perpetrators.setdefault(incident_id, []).append(
                _perpetrator(public_id, name, category, role)
            )
        members: dict[int, list] = {}
        defender_ids = {row[6] for row in chunk if row[6] is not None}
        memberships = (
            Membership.objects.filter(among("defender_id", list(defender_ids), vendor))
            .filter(ended_on__isnull=True)
            .order_by("pk")
            .values_list("defender_id", "organization__name")
        )
        for defender_id, organization in memberships:
            members.setdefault(defender_id, []).append(organization)
        for values in chunk:
            pk, defender_id, kind = values[0], values[6], values[5]
            yield _row(
                values, perpetrators.get(pk, []), members.get(defender_id, []), names, labels[kind]
            )


INCIDENT_COLUMNS = [
    "id",
    "case_id",
    "occurred_on",
    "date_precision",
    "type",
    "type_label",
    "target_kind",
    "target_id",
    "target_name",
    "target_protected",
    "target_organization",
    "perpetrators",
    "perpetrator_categories",
    "perpetrator_roles",
    "state",
    "state_name",
    "municipality",
    "sources_count",
    "updated_at",
]


def incident_csv_row(row: dict) -> list:
    """The flat row for spreadsheets: perpetrators as three parallel "; "-separated lists.
    Cells people typed are made formula-safe; codes, ids and dates cannot start a formula."""
    perpetrators = row["perpetrators"]
    return [
        row["id"],
        row["case_id"],
        row["occurred_on"],
        row["date_precision"],
        row["type"],
        row["type_label"],
        row["target_kind"],
        row["target_id"],
        csv_safe(row["target_name"]),
        "true" if row["target_protected"] else "false",
        csv_safe(row["target_organization"]),
        csv_safe("; ".join(p["name"] for p in perpetrators)),
        "; ".join(p["category"] for p in perpetrators),
        "; ".join(p["role"] for p in perpetrators),
        row["state"],
        row["state_name"],
        csv_safe(row["municipality"]),
        row["sources_count"],
        row["updated_at"],
    ]


class PerpetratorRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    category = serializers.ChoiceField(choices=PerpetratorCategory.choices)
    role = serializers.ChoiceField(choices=Involvement.Role.choices)


class IncidentRowSerializer(serializers.Serializer):
    """Declares the row for the schema; the row itself is built by `incident_row`."""

    id = serializers.UUIDField()
    case_id = serializers.UUIDField()
    occurred_on = serializers.DateField(
        help_text="Month- and year-precision dates are stored as the first day."
    )
    date_precision = serializers.ChoiceField(choices=Incident.DatePrecision.choices)
    type = serializers.ChoiceField(choices=Incident.Type.choices)
    type_label = serializers.CharField()
    target_kind = serializers.ChoiceField(choices=["defender", "organization"])
    target_id = serializers.UUIDField()
    target_name = serializers.CharField(help_text="A pseudonym when the identity is protected.")
    target_protected = serializers.BooleanField()
    target_organization = serializers.CharField(allow_blank=True)
    perpetrators = PerpetratorRefSerializer(many=True)
    state = serializers.ChoiceField(choices=State.choices, allow_blank=True)
    state_name = serializers.CharField(allow_blank=True)
    municipality = serializers.CharField(allow_blank=True)
    sources_count = serializers.IntegerField(min_value=0)
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance):
        return incident_row(instance, self.context["names"])


# --- Streaming ------------------------------------------------------------------------------


class _Line:
    """A file-like object that hands back what csv.writer writes (no buffer kept)."""

    def write(self, value: str) -> str:
        return value


# Rows per piece of the response: one write per row would cost more than the rows.
STREAM_BATCH = 500


def stream_csv(rows: Iterator[dict]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(INCIDENT_COLUMNS)
    for batch in _chunks(rows, STREAM_BATCH):
        yield "".join(writer.writerow(incident_csv_row(row)) for row in batch)


def stream_json(rows: Iterator[dict]) -> Iterator[bytes]:
    yield b"["
    separator = b""
    for batch in _chunks(rows, STREAM_BATCH):
        yield separator + b",\n".join(orjson.dumps(row) for row in batch)
        separator = b",\n"
    yield b"]\n"


EXPORT_CHUNK = 2000


class StreamRenderer(JSONRenderer):
    """Lets content negotiation accept ?format=csv|json on the export; the stream is built by
    the view. Errors (401, 400…) are still rendered, as JSON."""


class CSVStreamRenderer(StreamRenderer):
    media_type = "text/csv"
    format = "csv"


# --- Views ----------------------------------------------------------------------------------


class ApiViewSet(LoggedMixin, viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsAllyOrStaffReader]
    pagination_class = Cursor
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    # Any text reaches the view, which answers 404 in JSON (not Django's HTML page); control
    # characters never do (accounts.middleware.ControlCharacterMiddleware: 400).
    lookup_value_regex = r"[^/\x00-\x1f\x7f]+"
    renderer_classes = [JSONRenderer, CSVRenderer]

    @property
    def csv_columns(self) -> list[str]:
        return list(self.get_serializer_class()().fields)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "names": Names(self.request.user)}

    # Reads may go to the replica (config/routers.py); who is asking was settled before,
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
        return shared_incidents(self.request.user)

    @extend_schema(
        parameters=[EXPORT_PARAMETER],
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
        queryset = self.filter_queryset(counted_for(request.user)).order_by("occurred_on", "pk")
        names = Names(request.user)
        self.log_when_streamed = True
        if request.accepted_renderer.format == "csv":
            render, content_type, filename = stream_csv, "text/csv", "incidentes.csv"
        else:
            render, content_type, filename = stream_json, "application/json", "incidentes.json"
        response = StreamingHttpResponse(
            self._logged(render, queryset, names, request), content_type=content_type
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def _logged(self, render, queryset, names: Names, request) -> Iterator:
        from organizations.api import api_request_log

        served = 0

        def rows():
            nonlocal served
            with replica_reads():
                for row in export_rows(queryset, names):
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


class SourceSerializer(serializers.ModelSerializer):
    """Public facts of a source. Never: witness, contact, the file, who recorded it."""

    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Source
        fields = ("id", "kind", "title", "publisher", "url", "date", "reliability")
        read_only_fields = fields
        extra_kwargs = {"url": {"read_only": True}}

    url = BlankURLAsNull()


class CaseSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    state_name = serializers.SerializerMethodField()
    incidents = serializers.SerializerMethodField()
    sources = SourceSerializer(source="visible_sources", many=True, read_only=True)

    class Meta:
        model = Case
        fields = (
            "id",
            "title",
            "summary",
            "status",
            "state",
            "state_name",
            "place",
            "updated_at",
            "incidents",
            "sources",
        )
        read_only_fields = fields

    updated_at = utc_stamp()

    def get_state_name(self, case) -> str:
        return STATE_NAMES.get(case.state, "")

    @extend_schema_field(IncidentRowSerializer(many=True))
    def get_incidents(self, case) -> list:
        names = self.context["names"]
        return [incident_row(incident, names) for incident in case.counted_incidents]


class CaseViewSet(ApiViewSet):
    """Cases with their counted incidents and the sources the caller may see."""

    serializer_class = CaseSerializer
    log_name = "cases"

    def get_queryset(self):
        user = self.request.user
        return (
            Case.objects.visible_to(user)
            .filter(status__in=Case.COUNTED_STATUSES)
            .prefetch_related(
                Prefetch(
                    "incidents",
                    queryset=shared_incidents(user).order_by("occurred_on", "pk"),
                    to_attr="counted_incidents",
                ),
                Prefetch(
                    "sources",
                    queryset=Source.objects.visible_to(user).order_by("date", "pk"),
                    to_attr="visible_sources",
                ),
            )
        )


class PerpetratorSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    part_of = serializers.SerializerMethodField()

    class Meta:
        model = Perpetrator
        fields = ("id", "name", "acronym", "category", "kind", "part_of", "updated_at")
        read_only_fields = fields

    updated_at = utc_stamp()

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_part_of(self, perpetrator) -> str | None:
        # The parent body only if the caller may see it too (allies: named in a shared incident).
        shown = self.context.get("shown_perpetrators")
        parent = perpetrator.parent
        if parent is None or (shown is not None and parent.pk not in shown):
            return None
        return str(parent.public_id)


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


class OrganizationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Organization
        fields = ("id", "name", "acronym", "kind", "state", "website", "updated_at")
        read_only_fields = fields

    website = BlankURLAsNull()
    updated_at = utc_stamp()


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


class DefenderSerializer(serializers.Serializer):
    """Public facts of a defender. For a protected identity only the pseudonym: no state,
    no profile, nothing that could narrow down who it is. Contact data never."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    identity_protected = serializers.BooleanField()
    state = serializers.ChoiceField(choices=State.choices, allow_blank=True)
    profiles = serializers.ListField(child=serializers.CharField())
    updated_at = serializers.DateTimeField()

    def to_representation(self, defender):
        names = self.context["names"]
        named = names.may_name(defender)
        return {
            "id": names.id_of(defender),
            "name": names.of(defender),
            "identity_protected": defender.identity_protected,
            "state": defender.state if named else "",
            "profiles": [p.code for p in defender.profiles.all()] if named else [],
            "updated_at": _stamp(defender.updated_at),
        }


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
        names = Names(self.request.user)
        candidates = self.get_queryset().filter(Q(public_id=shown) | Q(pseudonym_key=shown))
        for defender in candidates:
            if names.id_of(defender) == str(shown):
                self.check_object_permissions(self.request, defender)
                return defender
        raise NotFound()


# --- Changes feed ---------------------------------------------------------------------------

CHANGES_PAGE = 500


def _changed_since(since: datetime.datetime, until: datetime.datetime) -> Q:
    """Incidents whose row may have changed in (since, until]: the incident, its case, its
    perpetrators and their involvement, its sources, its target and the target's
    memberships. Read from the history tables, which keep removals too."""

    def changed(model):
        return model.history.filter(history_date__gt=since, history_date__lte=until)

    renamed_perpetrators = Involvement.objects.filter(
        perpetrator_id__in=changed(Perpetrator).values("id")
    )
    return (
        Q(pk__in=changed(Incident).values("id"))
        | Q(pk__in=changed(Involvement).values("incident_id"))
        | Q(pk__in=renamed_perpetrators.values("incident_id"))
        | Q(case_id__in=changed(Case).values("id"))
        | Q(case_id__in=changed(Source).values("case_id"))
        | Q(defender_id__in=changed(Defender).values("id"))
        | Q(defender_id__in=changed(Membership).values("defender_id"))
        | Q(organization_id__in=changed(Organization).values("id"))
        # A renamed organization changes its members' rows too (target_organization).
        | Q(
            defender_id__in=Membership.objects.filter(
                organization_id__in=changed(Organization).values("id")
            ).values("defender_id")
        )
    )


def _exported_at(user, pks: list[int], moment: datetime.datetime) -> set[int]:
    """Which of these incidents the caller's export held at `moment`, read from the history:
    the incident existed and was no duplicate, and its case was counted and visible to the
    caller then (for allies: published and public)."""
    incident_then = Incident.history.filter(id=OuterRef("pk"), history_date__lte=moment).order_by(
        "-history_date", "-history_id"
    )
    case_then = Case.history.filter(id=OuterRef("case_id"), history_date__lte=moment).order_by(
        "-history_date", "-history_id"
    )
    rows = (
        Incident.objects.filter(pk__in=pks)
        .annotate(
            kind=Subquery(incident_then.values("history_type")[:1]),
            duplicate=Subquery(incident_then.values("duplicate_of_id")[:1]),
            status=Subquery(case_then.values("status")[:1]),
            confidentiality=Subquery(case_then.values("confidentiality")[:1]),
        )
        .values_list("pk", "case_id", "kind", "duplicate", "status", "confidentiality")
    )
    ally, everything = is_ally(user), not is_ally(user) and sees_everything(user)
    team_cases: set[int] = set()
    if not ally and not everything:
        # Restricted cases the user was ever on the team of (or is on now).
        team_history = apps.get_model("cases", "HistoricalCase_team")
        team_cases = set(
            team_history.objects.filter(user=user).values_list("case_id", flat=True)
        ) | set(Case.objects.of_team(user).values_list("pk", flat=True))
    held = set()
    for pk, case_id, kind, duplicate, status, confidentiality in rows:
        if kind not in ("+", "~") or duplicate is not None:
            continue
        if ally:
            shown = {
                "status": status,
                "confidentiality": confidentiality,
            } == Case.SHARED_WITH_ALLIES
        else:
            shown = status in Case.COUNTED_STATUSES and (
                everything
                or confidentiality != Case.Confidentiality.RESTRICTED
                or case_id in team_cases
            )
        if shown:
            held.add(pk)
    return held


def _ever_shared(user) -> Q:
    """A cheap first cut: incidents whose case the caller could ever have received."""
    cases = Case.history.filter(status__in=Case.COUNTED_STATUSES)
    if is_ally(user):
        cases = cases.filter(**Case.SHARED_WITH_ALLIES)
    elif not sees_everything(user):
        cases = cases.exclude(confidentiality=Case.Confidentiality.RESTRICTED)
        return Q(case_id__in=cases.values("id")) | Q(case__in=Case.objects.visible_to(user))
    return Q(case_id__in=cases.values("id"))


def _withdrawn_defender_ids(user, names: Names, since, until) -> list[str]:
    """Ids of defenders the caller was shown at `since` and is not shown now: protection
    turned on (or off) gave them another id, and the old one must leave the caller's copy.
    A fixed number of queries, however many defenders changed."""
    changed = Defender.history.filter(history_date__gt=since, history_date__lte=until)
    then = Defender.history.filter(id=OuterRef("pk"), history_date__lte=since).order_by(
        "-history_date", "-history_id"
    )
    rows = (
        Defender.objects.filter(pk__in=changed.values("id"))
        .annotate(
            was_protected=Subquery(then.values("identity_protected")[:1]),
            old_key=Subquery(then.values("pseudonym_key")[:1]),
        )
        .exclude(was_protected__isnull=True)  # recorded after `since`: never shown then
    )
    old_ids = {}
    for pk, public_id, key, protected, was_protected, old_key in rows.values_list(
        "pk", "public_id", "pseudonym_key", "identity_protected", "was_protected", "old_key"
    ):
        old = public_id if names.may_name_id(pk, was_protected) else old_key
        now = public_id if names.may_name_id(pk, protected) else key
        if str(old) != str(now):
            old_ids[pk] = str(old)
    if not old_ids:
        return []
    # Only an id the caller was given: a defender of an incident they held then.
    incidents = dict(
        Incident.objects.filter(defender_id__in=old_ids).values_list("pk", "defender_id")
    )
    held = _exported_at(user, list(incidents), since)
    return sorted({old_ids[incidents[pk]] for pk in held})


class ChangeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    record = serializers.ChoiceField(
        choices=["incident", "defender"],
        help_text="What the id names: an incident of the export, or a defender (only ever "
        "withdrawn: an id that is no longer shown, e.g. once identity protection is on).",
    )
    action = serializers.ChoiceField(choices=["upsert", "delete"])
    incident = IncidentRowSerializer(allow_null=True)


class ChangesSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    next_since = serializers.DateTimeField(
        help_text="Pass as `since` on the next poll, once `next` is null."
    )
    next = serializers.URLField(allow_null=True)
    results = ChangeSerializer(many=True)


class ChangesView(LoggedMixin, APIView):
    """What changed in the incident export since a moment: `upsert` carries the row as
    `incidents/` gives it now; `delete` means it left the export (unpublished, retracted,
    made restricted, marked as a duplicate…). Applying the events in order to a mirror keeps
    it equal to a full export. Poll with `since` = the previous answer's `next_since`
    (it overlaps a little, so a slow transaction is never missed; events are idempotent)."""

    permission_classes = [IsAllyOrStaffReader]
    log_name = "changes"

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("cursor", str, description="From the previous page's `next`."),
        ],
        responses={200: ChangesSerializer, 400: OpenApiResponse(description="Bad parameters")},
    )
    def get(self, request):
        user = request.user
        since, until, after = self._window(request)
        affected = (
            Incident.objects.filter(_changed_since(since, until))
            .filter(_ever_shared(user))
            .order_by("public_id")
        )
        if after is not None:
            affected = affected.filter(public_id__gt=after)
        page = list(affected.values_list("pk", "public_id")[: CHANGES_PAGE + 1])
        more = len(page) > CHANGES_PAGE
        page = page[:CHANGES_PAGE]
        names = Names(user)
        pks = [pk for pk, _ in page]
        current = {incident.pk: incident for incident in shared_incidents(user).filter(pk__in=pks)}
        # Only what the caller had at `since` can be deleted from their copy: the feed never
        # names a record they were not given.
        held = _exported_at(user, [pk for pk in pks if pk not in current], since)
        results = []
        if after is None:  # once per poll, on its first page
            results += [
                {"id": shown, "record": "defender", "action": "delete", "incident": None}
                for shown in _withdrawn_defender_ids(user, names, since, until)
            ]
        for pk, public_id in page:
            if pk in current:
                results.append(
                    {
                        "id": str(public_id),
                        "record": "incident",
                        "action": "upsert",
                        "incident": incident_row(current[pk], names),
                    }
                )
            elif pk in held:
                results.append(
                    {
                        "id": str(public_id),
                        "record": "incident",
                        "action": "delete",
                        "incident": None,
                    }
                )
        self.rows_served = len(results)
        next_url = None
        if more:
            token = signing.dumps(
                {"since": since.isoformat(), "until": until.isoformat(), "after": str(page[-1][1])},
                salt="api-changes",
            )
            next_url = reverse("api-changes", request=request) + f"?cursor={token}"
        overlap = datetime.timedelta(seconds=settings.API_CHANGES_OVERLAP_SECONDS)
        return Response(
            {
                "since": _stamp(since),
                "until": _stamp(until),
                "next_since": _stamp(max(since, until - overlap)),
                "next": next_url,
                "results": results,
            }
        )

    def _window(self, request):
        token = request.query_params.get("cursor")
        if token:
            try:
                data = signing.loads(token, salt="api-changes")
                return (
                    datetime.datetime.fromisoformat(data["since"]),
                    datetime.datetime.fromisoformat(data["until"]),
                    data["after"],
                )
            except (signing.BadSignature, KeyError, TypeError, ValueError):
                raise NotFound(_("Invalid cursor.")) from None
        field = serializers.DateTimeField()
        raw = request.query_params.get("since")
        if not raw:
            raise ValidationError(
                {"since": [_("Required: an ISO 8601 moment, e.g. 2021-07-01T00:00:00Z.")]}
            )
        try:
            since = field.to_internal_value(raw)
        except serializers.ValidationError as error:
            raise ValidationError({"since": error.detail}) from None
        return since, timezone.now(), None
