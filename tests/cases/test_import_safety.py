"""Spreadsheet imports: what the review of issue 7 found (protected people, restricted cases,
retraction, formulas, broken files, perpetrators, partial files)."""

import pytest

from cases import imports, services
from cases.models import Incident
from organizations.models import Defender
from tests.cases.test_import import as_csv, plan_of, row
from tests.factories import CaseFactory, DefenderFactory, IncidentFactory, SourceFactory

pytestmark = pytest.mark.django_db


def export_and_import(user, incidents, *, origin="export", status="verified"):
    data = imports.as_csv(imports.export_rows(incidents))
    batch, _plan = services.import_batch_prepare(
        user=user, data=data, file_name="export.csv", origin=origin, case_status=status
    )
    return batch, services.import_batch_run(batch=batch, user=user)


# 1. Protected defenders ------------------------------------------------------------------------


def test_a_protected_defender_exported_as_a_pseudonym_comes_back_as_the_same_person(coordinator):
    protected = DefenderFactory(full_name="Nombre Secreto", identity_protected=True)
    incident = IncidentFactory(defender=protected)
    SourceFactory(case=incident.case)
    exported = imports.export_rows(Incident.objects.all())
    assert exported[0]["victima"] == protected.pseudonym

    _batch, plan = export_and_import(coordinator, Incident.objects.all())

    assert [r.action for r in plan.rows] == ["unchanged"]
    incident.refresh_from_db()
    assert incident.defender == protected
    assert Defender.objects.count() == 1


def test_a_pseudonym_in_a_new_row_names_the_protected_defender_it_stands_for(coordinator):
    protected = DefenderFactory(full_name="Nombre Secreto", identity_protected=True)
    IncidentFactory(defender=protected)
    plan = plan_of(coordinator, [row(victima=str(protected.pseudonym))])
    assert plan.rejected == [] and plan.new_defenders == {}
    assert imports.target_id(plan.rows[0], plan) == protected.pk


def test_a_pseudonym_that_cannot_be_resolved_is_rejected_never_created(documentalist):
    protected = DefenderFactory(full_name="Nombre Secreto", identity_protected=True)
    IncidentFactory(defender=protected)  # a case the documentalist is not on: hidden
    for name in (
        str(protected.pseudonym),
        "Defensor/a protegido/a #ZZZ",
        "Protected defender #000000",
    ):
        plan = plan_of(documentalist, [row(victima=name)])
        assert plan.new_defenders == {}, name
        [(column, message)] = plan.rejected[0].errors
        assert column == "victima" and "seudónimo" in message, name
