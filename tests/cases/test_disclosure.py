"""One export policy (cases.disclosure) for every way out: the allies' API and the admin's
spreadsheet export show a viewer the same rows and the same names."""

import csv
import io
import json

import pytest

from tests.factories import CaseFactory, DefenderFactory, IncidentFactory, SourceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["coordinator", "documentalist"])
def test_a_viewer_gets_the_same_names_through_the_api_and_the_spreadsheet(
    request, client_for, role
):
    viewer = request.getfixturevalue(role)
    protected = DefenderFactory(full_name="Nombre Protegido", identity_protected=True)
    named = DefenderFactory(full_name="Nombre Visible")
    case = CaseFactory(status="verified", confidentiality="internal")
    restricted = CaseFactory(status="verified", confidentiality="restricted")
    case.team.add(viewer)
    restricted.team.add(viewer)  # on its team: still no export carries it
    IncidentFactory(case=case, defender=protected)
    IncidentFactory(case=case, defender=named)
    IncidentFactory(case=restricted, defender=named)
    SourceFactory(case=case, title="Fuente reservada", confidential=True)
    client = client_for(viewer)

    response = client.get("/api/v1/incidents/export/", {"format": "json"})
    api = {
        row["id"]: row["target_name"] for row in json.loads(b"".join(response.streaming_content))
    }
    sheet = client.get("/admin/cases/incident/export/", {"format": "csv"})
    rows = csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig")))
    spreadsheet = {row["referencia"]: row["victima"] for row in rows}

    assert api == spreadsheet
    assert sorted(api.values()) == sorted([protected.pseudonym, "Nombre Visible"])
    assert "Fuente reservada" not in sheet.content.decode()
