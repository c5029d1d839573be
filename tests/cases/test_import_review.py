"""Spreadsheet imports: the review of issue 7, second round (concurrent imports, merge chains,
merging into protected people, the error file, large files in the admin)."""

import csv
import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from cases import merges
from cases.intake import check, read, template, write
from cases.intake import plan as planning
from cases.models import ImportBatch, Incident
from core.records import record_save
from organizations.models import Defender, Organization
from tests.cases.test_import import as_csv, row
from tests.factories import DefenderFactory, IncidentFactory, OrganizationFactory

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks are PostgreSQL's"
)


def org_row(name="Organización Concurrente Dos", **values):
    return row(victima="", tipo_victima="", organizacion_victima=name, **values)


def prepare(user, rows, *, origin="O"):
    batch, _plan = write.import_batch_prepare(
        user=user, data=as_csv(rows), file_name=f"{origin}.csv", origin=origin
    )
    return batch


# 10. Concurrent imports --------------------------------------------------------------------------


@pytest.fixture
def name_taken_meanwhile(monkeypatch, coordinator):
    """Someone else records the organization between the import's plan and its write."""
    plan, calls = write.import_batch_plan, []

    def plan_then_someone_else_writes(**kwargs):
        planned = plan(**kwargs)
        if not calls:
            calls.append(1)
            org = Organization(name="Organización Concurrente Dos")
            record_save(org, user=coordinator, reason="a la vez")
        return planned

    monkeypatch.setattr(write, "import_batch_plan", plan_then_someone_else_writes)


def test_a_name_taken_at_the_same_moment_asks_to_try_again_in_the_admin(
    client_for, documentalist, name_taken_meanwhile
):
    batch = prepare(documentalist, [org_row()])
    url = f"/admin/cases/importbatch/{batch.public_id}/preview/"

    response = client_for(documentalist).post(url, {"confirm": "1"})

    assert response.status_code == 200
    assert "al mismo tiempo" in response.text
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEW
    assert not Incident.objects.exists() and not Organization.objects.exists()


@pytest.fixture
def name_taken_after_the_plan(monkeypatch, coordinator):
    """The same, for the command, which plans once (under the imports lock, which a form in
    the admin does not take) and then writes."""
    real_plan = planning.plan_import

    def plan_then_someone_else_writes(*args, **kwargs):
        planned = real_plan(*args, **kwargs)
        org = Organization(name="Organización Concurrente Dos")
        record_save(org, user=coordinator, reason="a la vez")
        return planned

    monkeypatch.setattr(write, "plan_import", plan_then_someone_else_writes)


def test_a_name_taken_at_the_same_moment_makes_the_command_exit_2_writing_nothing(
    tmp_path, name_taken_after_the_plan
):
    path = tmp_path / "x.csv"
    path.write_bytes(as_csv([org_row()]))

    with pytest.raises(CommandError, match="al mismo tiempo") as error:
        call_command("import_incidents", str(path), stdout=io.StringIO())

    assert error.value.returncode == 2
    assert not ImportBatch.objects.exists() and not Organization.objects.exists()
    assert not list((tmp_path / "media").rglob("*.csv"))  # the uploaded copy is not kept


@postgres_only
def test_an_import_plans_and_writes_under_the_one_lock_imports_share(reviewer):
    """Two origins both creating "Organización Concurrente Dos" collided on its unique name:
    the second now waits for the first, then plans again and finds the organization."""
    from django.test.utils import CaptureQueriesContext

    batch = prepare(reviewer, [org_row()], origin="A")
    with CaptureQueriesContext(connection) as queries:
        write.import_batch_run(batch=batch, user=reviewer)
    sql = [query["sql"] for query in queries.captured_queries]
    lock = next(i for i, q in enumerate(sql) if 'FROM "auth_user"' in q and "FOR UPDATE" in q)
    planned = next(i for i, q in enumerate(sql) if 'FROM "organizations_organization"' in q)
    assert lock < planned


# 11. Chains of merges ----------------------------------------------------------------------------


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


# 12. Merging into a protected person -------------------------------------------------------------


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


# 14. The error file imports again ----------------------------------------------------------------


def test_the_corrected_error_file_imports_the_rows_it_lists(reviewer):
    rows = [
        row(),
        row(referencia="2", fecha="ayer", tipo="otra cosa", victima="Ana Pérez"),
        row(referencia="3", fecha="ayer", victima="Luis Gómez"),
    ]
    batch = prepare(reviewer, rows, origin="Base CDJ")
    write.import_batch_run(batch=batch, user=reviewer, skip_invalid=True)
    batch.refresh_from_db()
    with batch.error_file.open("rb") as stored:
        lines = list(csv.DictReader(io.StringIO(stored.read().decode("utf-8-sig"))))
    # One line per rejected row, every reason on it.
    assert [(line["linea"], line["columna"]) for line in lines] == [
        ("3", "fecha; tipo"),
        ("4", "fecha"),
    ]
    assert "; " in lines[0]["error"]

    for line in lines:
        line.update(fecha="03/07/2021", tipo="amenazas")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(lines[0]))
    writer.writeheader()
    writer.writerows(lines)
    again, plan = write.import_batch_prepare(
        user=reviewer, data=buffer.getvalue().encode(), file_name="errores.csv", origin="Base CDJ"
    )
    assert plan.rejected == []
    write.import_batch_run(batch=again, user=reviewer)
    assert Incident.objects.count() == 3


def test_the_error_file_keeps_only_the_columns_the_file_had(reviewer):
    header = ["referencia", "fecha", "tipo", "victima"]
    data = as_csv([row(fecha="ayer")], header=header)
    batch, plan = write.import_batch_prepare(user=reviewer, data=data, file_name="x.csv")
    text = planning.error_file(plan).decode("utf-8-sig")
    assert text.splitlines()[0] == "linea,columna,error,referencia,fecha,tipo,victima"


# 16. Large files in the admin --------------------------------------------------------------------


def test_the_admin_refuses_a_file_over_its_row_limit_and_points_to_the_command(
    client_for, documentalist, settings
):
    settings.IMPORT_ADMIN_MAX_ROWS = 2
    upload = io.BytesIO(as_csv([row(referencia=str(n)) for n in range(3)]))
    upload.name = "grande.csv"

    response = client_for(documentalist).post(
        "/admin/cases/importbatch/upload/", {"file": upload, "case_status": "in_review"}
    )

    assert response.status_code == 200
    assert "manage.py import_incidents" in str(response.context["form"].errors["file"])
    assert not ImportBatch.objects.exists()
    # The command line takes it.
    batch = prepare(documentalist, [row(referencia=str(n)) for n in range(3)])
    assert batch.rows_total == 3


# Nits: states and dates as spreadsheets write them -----------------------------------------------


@pytest.mark.parametrize("text", ["ESTADO TÁCHIRA", "Edo. Táchira", "estado tachira"])
def test_a_state_written_with_estado_or_edo_in_any_case_is_read(text):
    [parsed] = check.parse_table(read.read_table(as_csv([row(estado=text)]), "x.csv"))
    assert parsed.errors == [] and parsed.state == "VE-S"


@pytest.mark.parametrize("text", ["02/07/2021 0:00", "2/7/2021 00:00:00", "2021/07/02"])
def test_a_day_with_a_time_or_written_year_first_with_slashes_is_read(text):
    assert template.parse_date(text) == (datetime.date(2021, 7, 2), "day")


def test_the_command_plans_the_file_once_under_the_lock(tmp_path, monkeypatch):
    real_plan, calls = planning.plan_import, []
    monkeypatch.setattr(write, "plan_import", lambda *a, **k: calls.append(1) or real_plan(*a, **k))
    path = tmp_path / "x.csv"
    path.write_bytes(as_csv([org_row()]))

    call_command("import_incidents", str(path), stdout=io.StringIO())

    assert len(calls) == 1 and Incident.objects.count() == 1
