"""The API as an ally's script meets it: a CSV Python's csv module reads (the byte-order
mark kept for Excel, or left out with ?bom=0), a value that cannot be read answered with a
400 that says why, and the case list filtered as the incidents are."""

import csv
import datetime
import io

import pytest

from cases.models import Case
from tests.factories import SHARED, CaseFactory, IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared():
    raid = IncidentFactory(
        case=CaseFactory(title="Allanamiento", **SHARED),
        type="raid",
        state="VE-A",
        occurred_on=datetime.date(2021, 7, 5),
    )
    threat = IncidentFactory(
        case=CaseFactory(title="Amenaza", **SHARED),
        type="threat",
        state="VE-K",
        occurred_on=datetime.date(2021, 8, 5),
    )
    return raid, threat


@pytest.mark.parametrize("url", ["/api/v1/incidents/", "/api/v1/incidents/export/"])
def test_the_csv_keeps_its_bom_unless_asked_and_reads_with_python(ally_client, shared, url):
    with_bom = ally_client.get(url, {"format": "csv"})
    body = b"".join(with_bom.streaming_content) if with_bom.streaming else with_bom.content
    assert body.startswith(b"\xef\xbb\xbf")
    first = next(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert "\ufeffid" in first  # what a script reading utf-8 meets…
    assert "id" in next(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))  # …and the cure
    plain = ally_client.get(url, {"format": "csv", "bom": "0"})
    body = b"".join(plain.streaming_content) if plain.streaming else plain.content
    assert not body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert {row["type"] for row in rows} == {"raid", "threat"}


def test_a_bad_bom_value_is_a_400(ally_client, shared):
    response = ally_client.get("/api/v1/incidents/", {"format": "csv", "bom": "no"})
    assert response.status_code == 400 and "bom" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"updated_since": "ayer"}, "updated_since"),
        ({"date_from": "2021-13-01"}, "date_from"),
        ({"type": "bogus"}, "type"),
        ({"state": "XX"}, "state"),
        ({"date_to": ""}, "date_to"),
    ],
)
@pytest.mark.parametrize("url", ["/api/v1/incidents/", "/api/v1/cases/"])
def test_an_unreadable_value_says_why(ally_client, shared, url, params, field):
    response = ally_client.get(url, params)
    assert response.status_code == 400
    assert field in response.json()


def test_cases_take_the_incident_filters(ally_client, shared):
    def titles(**params):
        return {c["title"] for c in ally_client.get("/api/v1/cases/", params).json()["results"]}

    assert titles() == {"Allanamiento", "Amenaza"}
    assert titles(type="raid") == {"Allanamiento"}
    assert titles(state="VE-K") == {"Amenaza"}
    assert titles(date_from="2021-08-01") == {"Amenaza"}
    assert titles(type="raid", state="VE-K") == set()  # the same incident must match both
    threat = Case.objects.get(title="Amenaza")
    threat.confidentiality = "internal"
    threat.save()
    assert titles(type="threat") == set()  # only what is shared
