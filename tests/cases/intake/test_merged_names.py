"""Rows naming someone whose record was merged land on the record that survived."""

import pytest

from cases import merges
from cases.intake import plan as planning
from cases.intake import write
from cases.models import Incident
from organizations.models import Defender
from tests.cases.intake.rows import as_csv, row
from tests.factories import DefenderFactory, IncidentFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def org_row(name="Organización Concurrente Dos", **values):
    return row(victima="", tipo_victima="", organizacion_victima=name, **values)


def prepare(user, rows, *, origin="O"):
    batch, _plan = write.import_batch_prepare(
        user=user, data=as_csv(rows), file_name=f"{origin}.csv", origin=origin
    )
    return batch


def test_a_name_merged_twice_is_imported_onto_the_last_survivor(reviewer):
    alfa, beta, gamma = (
        OrganizationFactory(name=name) for name in ("Org Alfa Uno", "Org Beta Dos", "Org Gamma")
    )
    merges.organization_merge(survivor=beta, merged=alfa, user=reviewer)
    merges.organization_merge(survivor=gamma, merged=beta, user=reviewer)

    batch = prepare(reviewer, [org_row("Org Alfa Uno")])
    write.import_batch_run(batch=batch, user=reviewer)

    assert Incident.objects.get().organization == gamma
    alfa.refresh_from_db()
    assert alfa.merged_into == gamma  # repointed, with its history
    assert alfa.history.first().merged_into_id == gamma.pk


def test_a_chain_of_merges_left_by_older_data_still_leads_to_its_end():
    assert planning.survivor_id(1, {1: 2, 2: 3, 3: None}) == 3
    assert planning.survivor_id(1, {1: 2, 2: 1}) == 2  # a cycle ends where it closes
    assert planning.survivor_id(4, {1: 2}) == 4


@pytest.mark.parametrize("protected_side", ["survivor", "merged"])
def test_merging_with_a_protected_record_protects_both_and_the_history_ties_no_pseudonym(
    documentalist, coordinator, protected_side
):
    protected = DefenderFactory(full_name="Nombre Secreto", identity_protected=True)
    IncidentFactory(defender=protected)  # a case the documentalist is not on
    public = DefenderFactory(full_name="Testigo Reservada Ejemplar", identity_protected=False)
    IncidentFactory(defender=public)
    survivor, merged = (protected, public) if protected_side == "survivor" else (public, protected)

    merges.defender_merge(survivor=survivor, merged=merged, user=coordinator)

    for record in (survivor, merged):
        record.refresh_from_db()
        assert record.identity_protected
        assert not Defender.objects.visible_to(documentalist).filter(pk=record.pk).exists()
    secrets = {str(protected.public_id), str(public.public_id)}
    secrets |= {Defender.pseudonym_code(d.public_id) for d in (protected, public)}
    reasons = [
        str(h.history_change_reason)
        for model in (Defender, Incident)
        for h in model.history.all()
        if h.history_change_reason
    ]
    assert reasons and not [r for r in reasons if any(s in r for s in secrets)]
