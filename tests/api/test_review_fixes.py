"""Holes found in review, each closed with a test that failed before the fix."""

import base64
import csv
import datetime
import io
from unittest import mock

import pytest
from django.db import connections
from rest_framework.test import APIClient

from api.base import AllyUser
from api.models import ApiKey, ApiRequest
from cases.models import Case
from cases.services import case_save
from core.records import record_save
from organizations.models import Membership
from reports.services import month_publish
from tests.factories import (
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    InvolvementFactory,
    OrganizationFactory,
    PerpetratorFactory,
)

pytestmark = pytest.mark.django_db

SHARED = {"status": Case.Status.PUBLISHED, "confidentiality": Case.Confidentiality.PUBLIC}


def feed(client, since="2000-01-01T00:00:00Z") -> dict:
    body = client.get("/api/v1/changes/", {"since": since}).json()
    return {event["id"]: event["action"] for event in body["results"]}


def test_the_feed_never_deletes_what_was_never_sent(ally_client):
    original = IncidentFactory(case=CaseFactory(**SHARED))
    duplicate = IncidentFactory(case=original.case, duplicate_of=original)
    events = feed(ally_client)
    assert events == {str(original.public_id): "upsert"}
    assert str(duplicate.public_id) not in events


def test_a_case_made_restricted_is_deleted_once_and_then_goes_quiet(
    settings, ally_client, reviewer
):
    settings.API_CHANGES_OVERLAP_SECONDS = 0
    shared = IncidentFactory(case=CaseFactory(**SHARED))
    since = ally_client.get("/api/v1/changes/", {"since": "2000-01-01T00:00:00Z"}).json()[
        "next_since"
    ]
    case = shared.case
    case.confidentiality = Case.Confidentiality.RESTRICTED
    case_save(case=case, user=reviewer)
    later = IncidentFactory(case=case)
    events = feed(ally_client, since)
    assert events == {str(shared.public_id): "delete"}
    assert str(later.public_id) not in events
    # Work on the restricted case afterwards says nothing to the ally.
    quiet_since = ally_client.get("/api/v1/changes/", {"since": since}).json()["next_since"]
    later.municipality = "Otra"
    record_save(later, user=reviewer)
    assert feed(ally_client, quiet_since) == {}


def test_renaming_a_defenders_organization_reaches_the_feed(settings, ally_client, reviewer):
    settings.API_CHANGES_OVERLAP_SECONDS = 0
    org = OrganizationFactory(name="Nombre viejo")
    defender = DefenderFactory()
    Membership.objects.create(defender=defender, organization=org)
    incident = IncidentFactory(case=CaseFactory(**SHARED), defender=defender)
    since = ally_client.get("/api/v1/changes/", {"since": "2000-01-01T00:00:00Z"}).json()[
        "next_since"
    ]
    org.name = "Nombre nuevo"
    record_save(org, user=reviewer)
    body = ally_client.get("/api/v1/changes/", {"since": since}).json()
    [event] = body["results"]
    assert event["id"] == str(incident.public_id)
    assert event["incident"]["target_organization"] == "Nombre nuevo"


def test_stats_name_only_perpetrators_of_that_months_shared_incidents(ally_client, reviewer):
    individual = PerpetratorFactory(name="Individuo de prueba", kind="individual")
    june = IncidentFactory(case=CaseFactory(**SHARED), occurred_on=datetime.date(2021, 6, 3))
    InvolvementFactory(incident=june, perpetrator=individual)
    restricted = CaseFactory(status=Case.Status.PUBLISHED, confidentiality="restricted")
    july = IncidentFactory(case=restricted, occurred_on=datetime.date(2021, 7, 3))
    InvolvementFactory(incident=july, perpetrator=individual)
    month_publish(year=2021, month=7, user=reviewer)
    body = ally_client.get("/api/v1/stats/monthly/", {"month": "2021-07"}).json()
    assert body["figures"]["total"] == 1  # the bulletin's count stands…
    assert body["figures"]["top_perpetrators"] == []  # …but names no one behind it


def test_refused_keys_are_throttled_by_address(settings):
    settings.API_FAILED_KEY_RATE = "3/minute"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer dfs_000000000000_nope")
    codes = [client.get("/api/v1/incidents/").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]


def test_anonymous_callers_are_throttled_too(settings):
    settings.API_THROTTLE_RATE = "2/minute"
    codes = [APIClient().get("/api/v1/incidents/").status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_the_log_keeps_a_bounded_record_of_filters(ally_client):
    ally_client.get("/api/v1/incidents/", {"municipality": "x" * 50_000})
    entry = ApiRequest.objects.get()
    assert len(entry.filters["municipality"]) == 200


def test_only_our_keys_leave_a_prefix_in_the_log():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ghp_secretofsomeoneelse_123")
    client.get("/api/v1/incidents/")
    assert "refused_key_prefix" not in ApiRequest.objects.get().filters


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


def test_an_ally_key_opens_no_drf_view_but_the_exports():
    from accounts.permissions import IsVerified
    from api.models import Ally

    key = ApiKey(ally=Ally(name="x"))

    class Request:
        user = AllyUser(key)

    assert IsVerified().has_permission(Request(), None) is False
    from django.conf import settings

    assert (
        "organizations.api.ApiKeyAuthentication"
        not in settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]
    )


def test_an_export_cut_short_logs_what_left(ally_client):
    for _ in range(3):
        IncidentFactory(case=CaseFactory(**SHARED))
    response = ally_client.get("/api/v1/incidents/export/", {"format": "csv"})
    stream = iter(response.streaming_content)
    next(stream)  # the header line, then the client hangs up
    # close() ends the request; the test's own database connection must survive it.
    with mock.patch.object(connections["default"], "close_if_unusable_or_obsolete"):
        response.close()
    assert ApiRequest.objects.filter(endpoint="incidents").get().rows == 0


def test_an_unshared_parent_body_is_not_named(ally_client):
    parent = PerpetratorFactory(name="Cuerpo matriz no compartido")
    child = PerpetratorFactory(name="Unidad compartida", parent=parent)
    InvolvementFactory(incident=IncidentFactory(case=CaseFactory(**SHARED)), perpetrator=child)
    [row] = ally_client.get("/api/v1/perpetrators/").json()["results"]
    assert row["part_of"] is None


def test_exports_have_their_own_throttle(settings, ally_client):
    settings.API_EXPORT_THROTTLE_RATE = "2/hour"
    codes = [
        ally_client.get("/api/v1/incidents/export/", {"format": "json"}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert ally_client.get("/api/v1/incidents/").status_code == 200


def test_options_is_not_offered(ally_client):
    IncidentFactory(case=CaseFactory(**SHARED))
    for url in ["/api/v1/incidents/?format=csv", "/api/v1/changes/", "/api/v1/stats/monthly/"]:
        assert ally_client.options(url).status_code == 405
