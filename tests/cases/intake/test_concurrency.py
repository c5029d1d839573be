"""Imports running at the same moment: one lock, a clear answer, nothing half written."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from cases.intake import plan as planning
from cases.intake import write
from cases.models import ImportBatch, Incident
from core.records import record_save
from organizations.models import Organization
from tests.cases.intake.rows import admin_confirm, admin_upload, as_csv, row

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


def test_a_name_taken_at_the_same_moment_asks_to_try_again_in_the_admin(
    client_for, documentalist, name_taken_meanwhile, django_capture_on_commit_callbacks
):
    client = client_for(documentalist)
    admin_upload(client, [org_row()], django_capture_on_commit_callbacks)
    batch = ImportBatch.objects.get()

    response = admin_confirm(client, batch, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "al mismo tiempo" in page.content.decode()
    assert "Intentar de nuevo la importación" in page.content.decode()
    batch.refresh_from_db()
    assert (batch.status, batch.task_state) == (ImportBatch.Status.PREVIEW, "failed")
    assert not Incident.objects.exists() and not Organization.objects.exists()


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


def test_the_command_plans_the_file_once_under_the_lock(tmp_path, monkeypatch):
    real_plan, calls = planning.plan_import, []
    monkeypatch.setattr(write, "plan_import", lambda *a, **k: calls.append(1) or real_plan(*a, **k))
    path = tmp_path / "x.csv"
    path.write_bytes(as_csv([org_row()]))

    call_command("import_incidents", str(path), stdout=io.StringIO())

    assert len(calls) == 1 and Incident.objects.count() == 1
