"""Long lists of values in queries (core.batches), on SQLite and on PostgreSQL."""

import uuid

import pytest
from django.db import models

from cases.models import Incident
from core.batches import in_batches
from organizations.models import Defender
from tests.factories import DefenderFactory, IncidentFactory

pytestmark = pytest.mark.django_db

AWKWARD = ['a "quoted" name', "comma, inside", "{braces}", "back\\slash", "NULL", "", "ñandú"]


def test_text_values_match_exactly_whatever_they_hold():
    wanted = [DefenderFactory(full_name=f"Persona {n}") for n in range(len(AWKWARD))]
    for defender, key in zip(wanted, AWKWARD, strict=True):
        # The plain QuerySet: a derived column, set here as no name would make it.
        models.QuerySet(Defender).filter(pk=defender.pk).update(name_key=key)
    DefenderFactory(full_name="Otra Persona")

    found = [
        pk
        for chunk in in_batches(Defender.objects.order_by(), "name_key", AWKWARD, 3)
        for pk in chunk.values_list("pk", flat=True)
    ]
    assert sorted(found) == sorted(defender.pk for defender in wanted)


def test_ids_and_uuids_in_batches_of_any_size():
    incidents = [IncidentFactory() for _ in range(5)]
    ids = [incident.pk for incident in incidents[:4]]
    for size in (1, 3, 10):
        chunks = list(in_batches(Incident.objects.all(), "pk", ids, size))
        assert len(chunks) == -(-len(ids) // size)
        assert sorted(pk for chunk in chunks for pk in chunk.values_list("pk", flat=True)) == ids
    public_ids = [incidents[0].public_id, uuid.uuid4()]
    [chunk] = in_batches(Incident.objects.all(), "public_id", public_ids, 10)
    assert list(chunk) == [incidents[0]]
    assert list(in_batches(Incident.objects.all(), "pk", [], 10)) == []
