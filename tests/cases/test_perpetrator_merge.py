"""Perpetrators recorded twice ("SEBIN" from one file, "Servicio Bolivariano de Inteligencia
Nacional" from another) are merged like people and organizations: everything that named one
names the other, both records and their histories kept."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from cases import duplicates, merges
from cases.models import Incident, Involvement
from legal.models import Detention
from organizations.models import Perpetrator
from tests.cases.intake.rows import plan_of, row, run
from tests.factories import IncidentFactory, InvolvementFactory, PerpetratorFactory


@pytest.fixture
def sebin(db):
    survivor = PerpetratorFactory(
        name="Servicio Bolivariano de Inteligencia Nacional", acronym="SEBIN"
    )
    merged = PerpetratorFactory(name="Sebin", needs_review=True)
    return survivor, merged


def test_every_incident_detention_and_part_moves_and_both_histories_stay(reviewer, sebin):
    survivor, merged = sebin
    incident = IncidentFactory(type="arbitrary_detention")
    InvolvementFactory(incident=incident, perpetrator=merged, role="ordered")
    detention = Detention.objects.create(
        incident=incident, arrested_on=datetime.date(2021, 7, 2), arresting_body=merged
    )
    part = PerpetratorFactory(name="Dirección de contrainteligencia", parent=merged)

    merges.perpetrator_merge(survivor=survivor, merged=merged, user=reviewer, reason="Mismo")

    involvement = Involvement.objects.get(incident=incident)
    assert (involvement.perpetrator, involvement.role) == (survivor, "ordered")
    detention.refresh_from_db()
    part.refresh_from_db()
    merged.refresh_from_db()
    assert detention.arresting_body == survivor and part.parent == survivor
    assert merged.merged_into == survivor
    for record in (involvement, detention, part, merged, survivor):
        latest = record.history.latest("history_id")
        assert (latest.history_user, latest.history_change_reason) == (reviewer, "Mismo")
    assert merged.history.count() >= 2  # its own history is kept
    assert incident.perpetrators.get() == survivor


def test_an_incident_naming_both_keeps_one_involvement(reviewer, sebin):
    survivor, merged = sebin
    incident = IncidentFactory()
    InvolvementFactory(incident=incident, perpetrator=survivor, role="executed")
    InvolvementFactory(incident=incident, perpetrator=merged, role="ordered")
    merges.perpetrator_merge(survivor=survivor, merged=merged, user=reviewer)
    assert list(incident.involvements.values_list("perpetrator", "role")) == [
        (survivor.pk, "executed")
    ]
    removed = Involvement.history.filter(history_type="-").get()
    assert removed.perpetrator_id == merged.pk and removed.history_user == reviewer


def test_merging_a_body_into_its_own_part_makes_no_loop(reviewer):
    body = PerpetratorFactory(name="Policía Nacional Bolivariana", acronym="PNB")
    part = PerpetratorFactory(name="FAES", parent=body)
    merges.perpetrator_merge(survivor=part, merged=body, user=reviewer)
    part.refresh_from_db()
    assert part.parent is None


def test_a_merge_needs_two_records_not_yet_merged(reviewer, sebin):
    survivor, merged = sebin
    with pytest.raises(ValidationError):
        merges.perpetrator_merge(survivor=survivor, merged=survivor, user=reviewer)
    merges.perpetrator_merge(survivor=survivor, merged=merged, user=reviewer)
    with pytest.raises(ValidationError):
        merges.perpetrator_merge(survivor=merged, merged=survivor, user=reviewer)


def test_a_file_naming_the_merged_record_leads_to_the_survivor(reviewer, sebin):
    survivor, merged = sebin
    merges.perpetrator_merge(survivor=survivor, merged=merged, user=reviewer)
    rows = [row(perpetrador="Sebin", categoria_perpetrador="")]
    assert not plan_of(reviewer, rows).new_perpetrators
    run(reviewer, rows)
    assert Incident.objects.get().perpetrators.get() == survivor
    assert Perpetrator.objects.count() == 2


def test_perpetrators_recorded_twice_are_suggested(db, sebin):
    survivor, merged = sebin
    twin = PerpetratorFactory(name="Servicio de Inteligencia", acronym="sebin")
    PerpetratorFactory(name="Cuerpo de Investigaciones Científicas", acronym="CICPC")
    pairs = {frozenset(pair) for pair in duplicates.similar_perpetrators()}
    assert frozenset((survivor, merged)) in pairs  # a name that is the other's acronym
    assert frozenset((survivor, twin)) in pairs  # the same acronym
    assert len(pairs) == 3


def test_a_perpetrator_merge_from_the_admin(client_for, reviewer, documentalist, sebin):
    survivor, merged = sebin
    incident = IncidentFactory()
    InvolvementFactory(incident=incident, perpetrator=merged)
    url = "/admin/organizations/perpetrator/merge/"
    query = f"?survivor={survivor.public_id}&merged={merged.public_id}"
    assert client_for(documentalist).get(url + query).status_code == 403
    client = client_for(reviewer)
    page = client.get(url + query)
    assert page.status_code == 200 and "(1 incidente)" in page.content.decode()
    assert "detención" in page.content.decode()
    similar = client.get("/admin/organizations/perpetrator/similar/")
    assert similar.status_code == 200 and "Sebin" in similar.content.decode()
    response = client.post(
        url, {"survivor": survivor.public_id, "merged": merged.public_id, "confirm": "1"}
    )
    assert response.status_code == 302
    assert incident.perpetrators.get() == survivor
    # A merged record is not offered any more.
    found = client.get(
        "/admin/autocomplete/",
        {
            "term": "Sebin",
            "app_label": "cases",
            "model_name": "involvement",
            "field_name": "perpetrator",
        },
    )
    assert str(merged.pk) not in {result["id"] for result in found.json()["results"]}
