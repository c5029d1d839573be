"""The flat incident row allies receive (ACLED-style: one row per counted incident), built
once for the paginated list, the streamed export and the changes feed alike, under the
export policy (cases.disclosure): no encrypted value, confidential source, case file number
or staff name is ever read."""

import csv
import datetime
from collections.abc import Iterator

import orjson
from django.db import connections
from django.db.models import (
    CharField,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Cast, Coalesce, Greatest

from cases.disclosure import ExportPolicy
from cases.models import Incident, Involvement
from core.batches import among
from core.spreadsheets import csv_safe
from organizations.models import Membership
from organizations.vocabularies import State

STATE_NAMES = dict(State.choices)
# Rows read from the database at a time, and rows per piece of a streamed response (one
# write per row would cost more than the rows).
EXPORT_CHUNK = 2000
STREAM_BATCH = 500


def shared_incidents(policy: ExportPolicy) -> QuerySet:
    """Counted incidents the policy's viewer may export, with everything a row reads, in a
    fixed number of queries: case, target and perpetrators joined or prefetched; sources
    counted in SQL."""
    return (
        counted_for(policy)
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


def counted_for(policy: ExportPolicy) -> QuerySet:
    """Counted incidents the policy's viewer may export, with the number of the sources that
    support each that an export may show."""
    visible_sources = (
        policy.sources()
        .filter(supports__incident=OuterRef("pk"))
        .order_by()
        .values("supports__incident")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return policy.incidents(Incident.objects.counted()).annotate(
        sources_count=Coalesce(Subquery(visible_sources, output_field=IntegerField()), 0)
    )


def utc_stamp_text(value: datetime.datetime) -> str:
    # UTC throughout the API: local offsets of old dates are not ISO 8601 (LMT −04:27:44).
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def incident_row(incident: Incident, policy: ExportPolicy) -> dict:
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
    return _row(values, perpetrators, members, policy, str(incident.get_type_display()))


def _perpetrator(public_id, name: str, category: str, role: str) -> dict:
    return {"id": str(public_id), "name": name, "category": category, "role": role}


def _row(
    values: tuple, perpetrators: list, members: list, policy: ExportPolicy, type_label: str
) -> dict:
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
        named = policy.may_name(protected)
        target = {
            "target_kind": "defender",
            # Without the name, the pseudonym's own id: nothing ties it to the name or to
            # the id shown before protection was asked for.
            "target_id": policy.shown_id(defender_public_id, protected, pseudonym_key),
            "target_name": policy.name(full_name, known_as, protected, pseudonym_key),
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
        "updated_at": utc_stamp_text(updated_at),
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


def _chunks(rows: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def export_rows(queryset: QuerySet, policy: ExportPolicy) -> Iterator[dict]:
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
                values, perpetrators.get(pk, []), members.get(defender_id, []), policy, labels[kind]
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


class _Line:
    """A file-like object that hands back what csv.writer writes (no buffer kept)."""

    def write(self, value: str) -> str:
        return value


def stream_csv(rows: Iterator[dict], *, bom: bool = True) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield ("\ufeff" if bom else "") + writer.writerow(INCIDENT_COLUMNS)
    for batch in _chunks(rows, STREAM_BATCH):
        yield "".join(writer.writerow(incident_csv_row(row)) for row in batch)


def stream_json(rows: Iterator[dict]) -> Iterator[bytes]:
    yield b"["
    separator = b""
    for batch in _chunks(rows, STREAM_BATCH):
        yield separator + b",\n".join(orjson.dumps(row) for row in batch)
        separator = b",\n"
    yield b"]\n"
