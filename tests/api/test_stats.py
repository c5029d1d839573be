"""The monthly statistics allies receive: only what was shared that month."""

import datetime

import pytest

from cases.models import Case
from reports.services import month_publish
from tests.factories import (
    SHARED,
    CaseFactory,
    IncidentFactory,
    InvolvementFactory,
    PerpetratorFactory,
)

pytestmark = pytest.mark.django_db


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
