"""The incident export: rows, filters, ordering, CSV, streaming, query counts, bad input."""

import base64
import csv
import datetime
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.models import ApiRequest
from cases.models import Case
from organizations.models import Membership
from tests.factories import (
    SHARED,
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    InvolvementFactory,
    OrganizationFactory,
    PerpetratorFactory,
    SourceFactory,
)
from tests.rest import pages

pytestmark = pytest.mark.django_db


def shared_case(**kwargs):
    return CaseFactory(**SHARED, **kwargs)


def streamed(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8-sig")


def test_a_row_says_who_what_when_where_and_by_whom(ally_client):
    case = shared_case(title="Allanamiento de prueba")
    org = OrganizationFactory(name="Observatorio de Prueba")
    incident = IncidentFactory(
        case=case,
        type="raid",
        occurred_on=datetime.date(2021, 7, 2),
        defender=None,
        organization=org,
        state="VE-I",
        municipality="Miranda",
    )
    sebin = PerpetratorFactory(name="SEBIN", category="security_force")
    InvolvementFactory(incident=incident, perpetrator=sebin, role="perpetrated")
    SourceFactory(case=case)
    SourceFactory(case=case, confidential=True)
    [row] = pages(ally_client, "/api/v1/incidents/")
    assert row == {
        "id": str(incident.public_id),
        "case_id": str(case.public_id),
        "occurred_on": "2021-07-02",
        "date_precision": "day",
        "type": "raid",
        "type_label": "Allanamiento",
        "target_kind": "organization",
        "target_id": str(org.public_id),
        "target_name": "Observatorio de Prueba",
        "target_protected": False,
        "target_organization": "Observatorio de Prueba",
        "perpetrators": [
            {
                "id": str(sebin.public_id),
                "name": "SEBIN",
                "category": "security_force",
                "role": "perpetrated",
            }
        ],
        "state": "VE-I",
        "state_name": "Falcón",
        "municipality": "Miranda",
        "sources_count": 1,  # the confidential one is neither shown nor counted
        "updated_at": row["updated_at"],
    }
    assert row["updated_at"].endswith("Z")


def test_it_exports_counted_incidents_only(ally_client):
    counted = IncidentFactory(case=shared_case())
    IncidentFactory(case=shared_case(), duplicate_of=counted)
    IncidentFactory(case=CaseFactory(status=Case.Status.VERIFIED, confidentiality="public"))
    assert [row["id"] for row in pages(ally_client, "/api/v1/incidents/")] == [
        str(counted.public_id)
    ]


def make_rows():
    sebin = PerpetratorFactory(name="SEBIN", category="security_force")
    vtv = PerpetratorFactory(name="VTV", category="state_media")
    rows = {}
    for day, kind, state, perpetrator, on_org in [
        (1, "raid", "VE-I", sebin, True),
        (10, "stigmatization", "VE-A", vtv, False),
        (20, "threat", "VE-S", sebin, False),
        (28, "stigmatization", "VE-S", None, True),
    ]:
        target = {"defender": None, "organization": OrganizationFactory()} if on_org else {}
        incident = IncidentFactory(
            case=shared_case(),
            type=kind,
            state=state,
            occurred_on=datetime.date(2021, 7, day),
            **target,
        )
        if perpetrator:
            InvolvementFactory(incident=incident, perpetrator=perpetrator)
        rows[day] = str(incident.public_id)
    return rows, sebin


@pytest.mark.parametrize(
    "params, days",
    [
        ({"date_from": "2021-07-10"}, {10, 20, 28}),
        ({"date_to": "2021-07-10"}, {1, 10}),
        ({"date_from": "2021-07-05", "date_to": "2021-07-25"}, {10, 20}),
        ({"type": ["stigmatization", "raid"]}, {1, 10, 28}),
        ({"target_kind": "organization"}, {1, 28}),
        ({"target_kind": "defender"}, {10, 20}),
        ({"perpetrator_category": "security_force"}, {1, 20}),
        ({"perpetrator_category": ["security_force", "state_media"]}, {1, 10, 20}),
        ({"state": "VE-S"}, {20, 28}),
        ({"updated_since": "2000-01-01T00:00:00Z"}, {1, 10, 20, 28}),
        ({"updated_since": "2999-01-01T00:00:00Z"}, set()),
    ],
)
def test_it_filters(ally_client, params, days):
    rows, _sebin = make_rows()
    got = {row["id"] for row in pages(ally_client, "/api/v1/incidents/", **params)}
    assert got == {rows[day] for day in days}


def test_it_filters_by_perpetrator_and_orders(ally_client):
    rows, sebin = make_rows()
    got = pages(ally_client, "/api/v1/incidents/", perpetrator=str(sebin.public_id))
    assert {row["id"] for row in got} == {rows[1], rows[20]}
    # Pages follow the order of recording (dates tie by the thousand); the export, dates.
    newest_first = pages(ally_client, "/api/v1/incidents/", ordering="-created_at", page_size=1)
    assert [row["id"] for row in newest_first] == [rows[28], rows[20], rows[10], rows[1]]
    response = ally_client.get("/api/v1/incidents/export/", {"format": "json"})
    exported = json.loads(streamed(response))
    assert [row["id"] for row in exported] == [rows[1], rows[10], rows[20], rows[28]]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"date_from": "julio"}, "date_from"),
        ({"date_from": ""}, "date_from"),
        ({"date_from": ["2021-01-01", "2021-02-01"]}, "date_from"),
        ({"type": "matanza"}, "type"),
        ({"state": "VE-Ñ"}, "state"),
        ({"perpetrator": "no-es-un-uuid"}, "perpetrator"),
        ({"updated_since": "ayer"}, "updated_since"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "5000"}, "page_size"),
    ],
)
def test_bad_filters_get_a_clear_error_in_spanish(ally_client, params, field):
    response = ally_client.get("/api/v1/incidents/", params)
    assert response.status_code == 400
    assert field in response.json()
    assert ally_client.get("/api/v1/incidents/export/", params).status_code in (200, 400)


def test_an_unknown_format_is_refused(ally_client):
    assert ally_client.get("/api/v1/incidents/", {"format": "xml"}).status_code == 406


def test_csv_pages_carry_the_next_page_in_a_link_header(ally_client):
    make_rows()
    response = ally_client.get("/api/v1/incidents/", {"format": "csv", "page_size": 3})
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(lines) == 3 and 'rel="next"' in response["Link"]
    assert {line["perpetrator_categories"] for line in lines} <= {
        "security_force",
        "state_media",
        "",
    }


def rich_rows():
    """Every kind of row the export builds: protected and named defenders with and without
    organizations and nicknames, organizations, several perpetrators, public and
    confidential sources, month precision."""
    make_rows()
    org = OrganizationFactory(name="Comité de prueba")
    for protected, known_as in [(True, "Alias"), (False, "Apodo"), (False, "")]:
        defender = DefenderFactory(identity_protected=protected, known_as=known_as)
        Membership.objects.create(defender=defender, organization=org)
        case = shared_case()
        incident = IncidentFactory(case=case, defender=defender, date_precision="month")
        InvolvementFactory(incident=incident, perpetrator=PerpetratorFactory(name="A"))
        InvolvementFactory(
            incident=incident, perpetrator=PerpetratorFactory(name="B"), role="amplified"
        )
        SourceFactory(case=case)
        SourceFactory(case=case, confidential=True)


@pytest.mark.parametrize("who", ["ally", "lawyer", "coordinator"])
def test_the_streamed_export_gives_the_rows_of_the_list(request, client_for, who):
    client = (
        request.getfixturevalue("ally_client")
        if who == "ally"
        else client_for(request.getfixturevalue(who))
    )
    rich_rows()
    listed = {row["id"]: row for row in pages(client, "/api/v1/incidents/", page_size=1000)}
    response = client.get("/api/v1/incidents/export/", {"format": "json"})
    exported = {row["id"]: row for row in json.loads(streamed(response))}
    assert exported == listed and len(listed) == 7


def test_the_streamed_export_equals_the_paginated_list(ally_client):
    make_rows()
    listed = pages(ally_client, "/api/v1/incidents/", page_size=1)
    as_json = json.loads(streamed(ally_client.get("/api/v1/incidents/export/", {"format": "json"})))
    response = ally_client.get("/api/v1/incidents/export/", {"format": "csv"})
    assert response.streaming and 'filename="incidentes.csv"' in response["Content-Disposition"]
    as_csv = list(csv.DictReader(io.StringIO(streamed(response))))
    key = lambda row: row["id"]  # noqa: E731
    assert sorted(as_json, key=key) == sorted(listed, key=key)
    assert sorted(row["id"] for row in as_csv) == sorted(row["id"] for row in listed)
    filtered = json.loads(streamed(ally_client.get("/api/v1/incidents/export/", {"state": "VE-S"})))
    assert len(filtered) == 2
    # Logged once the stream has ended, with the rows that actually left.
    assert list(
        ApiRequest.objects.filter(endpoint="incidents").values_list("rows", flat=True)[:3]
    ) == [2, 4, 4]


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
        assert response.status_code == 200
    return len(captured)


def grow(n: int):
    for _ in range(n):
        case = shared_case()
        incident = IncidentFactory(case=case, defender=DefenderFactory(identity_protected=True))
        InvolvementFactory(incident=incident)
        InvolvementFactory(incident=incident, perpetrator=PerpetratorFactory())
        IncidentFactory(case=case, defender=None, organization=OrganizationFactory())
        SourceFactory(case=case)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/incidents/",
        "/api/v1/incidents/?format=csv",
        "/api/v1/incidents/export/?format=csv",
        "/api/v1/cases/",
        "/api/v1/perpetrators/",
        "/api/v1/organizations/",
        "/api/v1/defenders/",
        "/api/v1/changes/?since=2000-01-01T00:00:00Z",
    ],
)
@pytest.mark.parametrize("who", ["ally", "lawyer"])
def test_list_endpoints_keep_a_constant_number_of_queries(request, client_for, url, who):
    client = (
        request.getfixturevalue("ally_client")
        if who == "ally"
        else client_for(request.getfixturevalue("lawyer"))
    )
    grow(2)
    client.get(url)  # the first page after signing in also restarts the idle timeout
    few = queries(client, url)
    grow(20)
    assert queries(client, url) == few


def test_errors_speak_spanish_by_default_and_english_on_request(ally_client):
    response = ally_client.get("/api/v1/incidents/", {"date_from": ""})
    assert response.json() == {"date_from": ["Este filtro necesita un valor."]}
    response = ally_client.get("/api/v1/incidents/", {"date_from": ""}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.json() == {"date_from": ["This filter needs a value."]}


def test_a_forged_cursor_is_a_404_not_a_500(ally_client):
    IncidentFactory(case=CaseFactory(**SHARED))
    for position in ["p=no-es-una-fecha", "p=2021-13-45"]:
        cursor = base64.b64encode(position.encode()).decode()
        response = ally_client.get("/api/v1/incidents/", {"cursor": cursor})
        assert response.status_code == 404


def test_a_record_as_csv_is_one_row(ally_client):
    incident = IncidentFactory(case=CaseFactory(**SHARED))
    response = ally_client.get(f"/api/v1/incidents/{incident.public_id}/", {"format": "csv"})
    [row] = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert row["id"] == str(incident.public_id)


def test_csv_cells_never_start_a_formula(ally_client):
    IncidentFactory(
        case=CaseFactory(**SHARED),
        defender=DefenderFactory(full_name='=HYPERLINK("http://x.example","clic")'),
        municipality="+58 Caracas",
    )
    for url in ["/api/v1/incidents/", "/api/v1/defenders/"]:
        body = ally_client.get(url, {"format": "csv"}).content.decode("utf-8-sig")
        assert ",=HYPERLINK" not in body and ',"=HYPERLINK' not in body
        assert "'=HYPERLINK" in body
    export = b"".join(
        ally_client.get("/api/v1/incidents/export/", {"format": "csv"}).streaming_content
    ).decode("utf-8-sig")
    assert "'=HYPERLINK" in export and ",'+58 Caracas," in export


def test_an_unshared_parent_body_is_not_named(ally_client):
    parent = PerpetratorFactory(name="Cuerpo matriz no compartido")
    child = PerpetratorFactory(name="Unidad compartida", parent=parent)
    InvolvementFactory(incident=IncidentFactory(case=CaseFactory(**SHARED)), perpetrator=child)
    [row] = ally_client.get("/api/v1/perpetrators/").json()["results"]
    assert row["part_of"] is None
