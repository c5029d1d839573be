"""changes/: applying the feed to an empty mirror gives exactly the full export, and keeps
giving it as cases are published, edited, retracted, restricted or marked duplicate."""

import datetime
import json

import pytest

from cases.models import Case
from cases.services import case_retract, case_save, incident_mark_duplicate, incident_save
from core.records import record_save
from organizations.models import Membership
from tests.factories import (
    SHARED,
    CaseFactory,
    DefenderFactory,
    IncidentFactory,
    InvolvementFactory,
    OrganizationFactory,
    PerpetratorFactory,
)

pytestmark = pytest.mark.django_db


def export(client) -> dict:
    response = client.get("/api/v1/incidents/export/", {"format": "json"})
    return {row["id"]: row for row in json.loads(b"".join(response.streaming_content))}


def sync(client, mirror: dict, since: str) -> str:
    """Apply every page of the feed since `since` to `mirror`; return the next `since`."""
    response = client.get("/api/v1/changes/", {"since": since})
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        for event in body["results"]:
            if event["action"] == "upsert":
                mirror[event["id"]] = event["incident"]
            else:
                mirror.pop(event["id"], None)
        if not body["next"]:
            return body["next_since"]
        response = client.get(body["next"])


def test_the_feed_rebuilds_and_then_follows_the_export(
    settings, monkeypatch, ally_client, reviewer
):
    settings.API_CHANGES_OVERLAP_SECONDS = 0
    monkeypatch.setattr("api.changes.CHANGES_PAGE", 2)  # several pages even with little data
    sebin = PerpetratorFactory(name="SEBIN")
    kept = [IncidentFactory(case=CaseFactory(**SHARED)) for _ in range(5)]
    InvolvementFactory(incident=kept[0], perpetrator=sebin)
    hidden = IncidentFactory(
        case=CaseFactory(status=Case.Status.VERIFIED, confidentiality="public")
    )

    mirror: dict = {}
    since = sync(ally_client, mirror, "2000-01-01T00:00:00Z")
    assert mirror == export(ally_client) and len(mirror) == 5

    # What moves the export: a new publication, an edit, a renamed perpetrator, a
    # retraction, a case made restricted, a duplicate, a protected identity.
    newly = hidden.case
    newly.status = Case.Status.PUBLISHED
    record_save(newly, user=reviewer, update_fields=["status"])
    kept[1].municipality = "Coro"
    incident_save(incident=kept[1], user=reviewer)
    sebin.name = "Servicio Bolivariano de Inteligencia"
    record_save(sebin, user=reviewer)
    case_retract(case=kept[2].case, user=reviewer, reason="Fuente desmentida")
    restricted = kept[3].case
    restricted.confidentiality = Case.Confidentiality.RESTRICTED
    case_save(case=restricted, user=reviewer)
    incident_mark_duplicate(incident=kept[4], original=kept[1], user=reviewer)
    defender = kept[1].defender
    defender.identity_protected = True
    record_save(defender, user=reviewer)

    before = dict(mirror)
    sync(ally_client, mirror, since)
    assert mirror == export(ally_client)
    assert set(mirror) == {str(i.public_id) for i in (kept[0], kept[1], hidden)}
    assert mirror[str(kept[0].public_id)]["perpetrators"][0]["name"].startswith("Servicio")
    assert (
        mirror[str(kept[1].public_id)]["target_name"]
        != before[str(kept[1].public_id)]["target_name"]
    )


def test_the_feed_never_names_records_the_ally_never_had(ally_client, reviewer):
    draft = IncidentFactory(case=CaseFactory(status=Case.Status.DRAFT, confidentiality="public"))
    restricted = IncidentFactory(
        case=CaseFactory(status=Case.Status.PUBLISHED, confidentiality="restricted")
    )
    body = ally_client.get("/api/v1/changes/", {"since": "2000-01-01T00:00:00Z"}).content.decode()
    assert str(draft.public_id) not in body and str(restricted.public_id) not in body


def test_a_bad_since_or_cursor_is_refused(ally_client):
    assert ally_client.get("/api/v1/changes/").status_code == 400
    assert ally_client.get("/api/v1/changes/", {"since": "ayer"}).status_code == 400
    assert ally_client.get("/api/v1/changes/", {"cursor": "falso"}).status_code == 404


def test_next_since_overlaps_the_window(settings, ally_client):
    settings.API_CHANGES_OVERLAP_SECONDS = 300
    body = ally_client.get("/api/v1/changes/", {"since": "2000-01-01T00:00:00Z"}).json()
    until = datetime.datetime.fromisoformat(body["until"])
    assert until - datetime.datetime.fromisoformat(body["next_since"]) == datetime.timedelta(
        minutes=5
    )


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
