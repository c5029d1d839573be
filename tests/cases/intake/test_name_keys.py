"""Imports find people, organizations and perpetrators by stored match keys (B1):
the names of the file are looked up, never every name recorded, with the same results."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import merges
from cases.intake import plan as planning
from cases.intake import write
from core.records import record_save
from organizations.models import Defender, Perpetrator
from tests.cases.intake.rows import as_csv, plan_of, row, run
from tests.factories import DefenderFactory, OrganizationFactory, PerpetratorFactory

pytestmark = pytest.mark.django_db


def org_row(name, **values):
    return row(victima="", tipo_victima="", organizacion_victima=name, **values)


def test_the_keys_follow_every_save_and_the_bulk_path(reviewer):
    defender = DefenderFactory(full_name="José Rafael TARAZONA", known_as="Chelo")
    assert (defender.name_key, defender.known_as_key) == ("jose rafael tarazona", "chelo")
    defender.full_name = "Tarazona, Javier"
    record_save(defender, user=reviewer, update_fields=["full_name"])
    defender.refresh_from_db()
    assert defender.name_key == "javier tarazona"
    defender.needs_review = True  # a save of other fields leaves the keys as they are
    record_save(defender, user=reviewer, update_fields=["needs_review"])
    defender.refresh_from_db()
    assert (defender.name_key, defender.known_as_key) == ("javier tarazona", "chelo")

    run(reviewer, [row(victima="Nueva Persona", perpetrador="Canal Nuevo (CN-1)")])
    assert Defender.objects.get(full_name="Nueva Persona").name_key == "nueva persona"
    perpetrator = Perpetrator.objects.get(name="Canal Nuevo")
    assert (perpetrator.name_key, perpetrator.full_key, perpetrator.acronym_key) == (
        "canal nuevo",
        "canal nuevo cn 1",
        "cn 1",
    )


def test_a_renamed_defender_is_found_by_its_new_name_only(reviewer):
    defender = DefenderFactory(full_name="Nombre Anterior")
    defender.full_name = "Nombre Nuevo"
    record_save(defender, user=reviewer, update_fields=["full_name"])

    plan = plan_of(
        reviewer, [row(victima="NUEVO, nombre"), row(referencia="2", victima="Nombre Anterior")]
    )
    assert plan.defenders == {"nombre nuevo": defender.pk}
    assert list(plan.new_defenders.values()) == ["Nombre Anterior"]


def test_the_first_record_by_id_wins_and_known_as_counts(reviewer):
    first = DefenderFactory(full_name="Ana Pérez", known_as="La Negra")
    DefenderFactory(full_name="La Negra")  # a later record whose name is the first's nickname
    plan = plan_of(reviewer, [row(victima="la negra")])
    assert plan.defenders == {"la negra": first.pk}


def test_a_chain_of_merges_in_the_database_leads_to_its_end(reviewer):
    alfa, beta, gamma = (OrganizationFactory(name=n) for n in ("Org Alfa", "Org Beta", "Org Gamma"))
    # Older data: a chain the merge service would have flattened.
    for record, survivor in ((alfa, beta), (beta, gamma)):
        record.merged_into = survivor
        record_save(record, user=reviewer, update_fields=["merged_into"])
    plan = plan_of(reviewer, [org_row("ORG ALFA")])
    assert plan.organizations == {"org alfa": gamma.pk}


def test_an_acronym_added_later_finds_the_perpetrator_and_a_shared_one_is_ambiguous(reviewer):
    sebin = PerpetratorFactory(name="Servicio Bolivariano de Inteligencia Nacional")
    sebin.acronym = "SEBIN"
    record_save(sebin, user=reviewer, update_fields=["acronym"])
    plan = plan_of(reviewer, [row(perpetrador="sebin", categoria_perpetrador="")])
    assert plan.rejected == [] and planning.perpetrator_id(plan.rows[0].perpetrators[0], plan) == (
        sebin.pk
    )

    PerpetratorFactory(name="Otro Servicio", acronym="SEBIN")
    plan = plan_of(reviewer, [row(perpetrador="SEBIN", categoria_perpetrador="")])
    [(column, _message)] = plan.rejected[0].errors
    assert column == "perpetrador"


def test_the_plan_reads_only_the_names_the_file_holds(reviewer):
    for n in range(30):
        DefenderFactory(full_name=f"Persona Ajena {n}")
        OrganizationFactory(name=f"Organización Ajena {n}")
        PerpetratorFactory(name=f"Cuerpo Ajeno {n}")
    wanted = DefenderFactory(full_name="Javier Tarazona")

    with CaptureQueriesContext(connection) as queries:
        plan = plan_of(reviewer, [row(), row(referencia="2", victima="Persona Ajena 3")])

    assert plan.defenders["javier tarazona"] == wanted.pk
    tables = "organizations_defender|organizations_organization|organizations_perpetrator"
    for query in queries.captured_queries:
        sql = query["sql"]
        if re.search(rf'FROM "({tables})"', sql):
            # Every read of these tables is by key or by id, never the whole table (IN on
            # SQLite, = ANY(array) on PostgreSQL).
            assert re.search(r'(_key"|"id") (IN \(|= ANY\()', sql), sql


def test_a_file_is_written_in_chunks_with_the_same_result(reviewer, monkeypatch):
    from cases.models import Case, Incident, Source

    monkeypatch.setattr(write, "IMPORT_CHUNK", 2)
    # Five rows of one case and one source, the case named again in every chunk.
    run(reviewer, [row(referencia=str(n), victima=f"Persona Número {n}") for n in range(5)])

    case = Case.objects.get()
    assert case.incidents.count() == 5 == Incident.objects.count()
    assert Source.objects.get().case == case
    assert Defender.objects.count() == 5


@pytest.mark.parametrize("named_by", ["alias", "merged record", "own name"])
def test_the_preview_counts_the_likely_duplicates_the_import_flags(reviewer, named_by):
    """The preview compares a row by the record it names, as the import does once written:
    an alias or a merged record's name leads to the person's recorded incidents too."""
    import datetime

    from cases import services
    from tests.factories import CaseFactory

    person = DefenderFactory(full_name="Javier Tarazona", known_as="El Profe")
    services.incident_create(
        user=reviewer,
        case=CaseFactory(status="verified"),
        type="arbitrary_detention",
        occurred_on=datetime.date(2021, 7, 3),
        defender=person,
    )
    if named_by == "merged record":
        merges.defender_merge(
            survivor=person, merged=DefenderFactory(full_name="J. R. Tarazona"), user=reviewer
        )
    name = {"alias": "El Profe", "merged record": "J. R. Tarazona", "own name": "TARAZONA Javier"}
    rows = [row(victima=name[named_by], caso="Otro caso")]

    assert plan_of(reviewer, rows).duplicates == 1
    batch, _plan = run(reviewer, rows)
    batch.refresh_from_db()
    assert batch.duplicates_flagged == 1


@pytest.mark.parametrize("at_once", [1, 2000])
def test_the_preview_counts_in_chunks_what_the_import_flags(reviewer, monkeypatch, at_once):
    """The preview compares its rows with the recorded incidents a chunk at a time, and looks
    up the names they stand for a chunk at a time: an incident the file updates is left out
    of every chunk's search (its row is compared instead), and an alias still leads to the
    person, whichever chunk names them."""
    from cases import duplicates

    monkeypatch.setattr(duplicates, "NEW_AT_ONCE", at_once)
    monkeypatch.setattr(duplicates, "TARGET_BATCH", at_once)
    DefenderFactory(full_name="Javier Tarazona", known_as="El Profe")
    run(reviewer, [row(), org_row("FundaRedes", referencia="9", caso="Allanamiento")])
    rows = [
        row(referencia="2", victima="El Profe", caso="Otro caso"),
        org_row("FUNDAREDES", referencia="3", caso="Otro allanamiento"),  # pairs with 9
        row(municipio="Punto Fijo"),  # reference 1 again: an update, in a later chunk
    ]

    plan = plan_of(reviewer, rows)
    assert [r.action for r in plan.rows] == ["create", "create", "update"]
    # Lines 2 and 4; line 3 and reference 9. Not line 2 with what line 4 updates.
    assert plan.duplicates == 2
    batch, _plan = write.import_batch_prepare(
        user=reviewer, data=as_csv(rows), file_name="x.csv", origin="Base CDJ"
    )
    write.import_batch_run(batch=batch, user=reviewer)
    batch.refresh_from_db()
    assert batch.duplicates_flagged == 2
