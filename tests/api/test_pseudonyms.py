"""A protected defender's pseudonym and ids, as allies see them."""

import json
import uuid

import pytest
from django.utils import timezone

from organizations.models import Defender
from organizations.services import defender_save
from tests.factories import SHARED, CaseFactory, DefenderFactory, IncidentFactory
from tests.rest import pages

pytestmark = pytest.mark.django_db


def export(client) -> dict:
    response = client.get("/api/v1/incidents/export/", {"format": "json"})
    return {row["id"]: row for row in json.loads(b"".join(response.streaming_content))}


class TestPseudonyms:
    def test_protecting_a_defender_later_gives_allies_an_id_that_does_not_link_back(
        self, ally_client, reviewer
    ):
        defender = DefenderFactory(full_name="Ana Visible")
        incident = IncidentFactory(case=CaseFactory(**SHARED), defender=defender)
        before = export(ally_client)[str(incident.public_id)]
        assert before["target_name"] == "Ana Visible"
        since = timezone.now().isoformat()

        defender.identity_protected = True
        defender_save(defender=defender, user=reviewer)

        after = export(ally_client)[str(incident.public_id)]
        assert after["target_protected"]
        assert after["target_id"] != before["target_id"]
        old_code = Defender.pseudonym_code(uuid.UUID(before["target_id"]))
        assert old_code not in after["target_name"]
        listed = {row["id"] for row in pages(ally_client, "/api/v1/defenders/")}
        assert before["target_id"] not in listed and after["target_id"] in listed
        events = ally_client.get("/api/v1/changes/", {"since": since}).json()["results"]
        assert {"id": before["target_id"], "action": "delete"}.items() <= next(
            e for e in events if e["id"] == before["target_id"]
        ).items()
