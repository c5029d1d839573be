import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from cases.models import Case
from core.audit import AuditBypassError
from organizations.models import Profile
from tests.factories import CaseFactory, DefenderFactory, IncidentFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's"
)


def verify():
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def tamper(sql, params):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # What an attacker with the database owner's rights could do.
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


def test_every_history_row_is_chained_to_the_previous_one():
    case = CaseFactory(title="Uno")
    case.title = "Dos"
    case.save()
    first, second = case.history.order_by("history_id")
    assert first.history_previous_hash == "" or len(first.history_previous_hash) == 64
    assert second.history_previous_hash == first.history_hash
    assert "intactas" in verify()


def test_the_hashed_text_is_the_one_chains_were_made_with():
    """Chains already stored were hashed over json.dumps(…, sort_keys=True, default=str,
    ensure_ascii=False): the payload must stay that text, byte for byte."""
    import datetime
    import json
    import uuid

    case = CaseFactory(title="Detención «arbitraria» en Táchira", summary='línea\n"dos"')
    row = case.history.get()
    row.history_date = datetime.datetime(2021, 7, 2, 22, 30, tzinfo=datetime.UTC)
    values = {field.attname: field.value_from_object(row) for field in row._meta.concrete_fields}
    values["public_id"] = uuid.UUID(int=7)
    hashed = {
        name: value.isoformat() if isinstance(value, datetime.datetime) else value
        for name, value in values.items()
        if name not in {"history_id", "history_hash", "history_previous_hash"}
        # Fields added later are left out at the value older rows had (HISTORY_ADDED_LATER).
        and (name, value) not in Case.HISTORY_ADDED_LATER.items()
    }
    expected = json.dumps(hashed, sort_keys=True, default=str, ensure_ascii=False).encode()
    assert type(row).payload_of(values) == expected
    assert "Táchira" in expected.decode()  # not escaped


def test_a_published_month_hashes_its_nested_figures_as_before(reviewer):
    """A snapshot's figures are nested JSON: chains were hashed with every level's keys sorted
    (PostgreSQL's jsonb gives them back in its own order), and stay intact when verified."""
    import json

    from core.audit import _canonical, first_broken_row
    from reports.models import MonthlySnapshot
    from reports.services import month_publish

    month_publish(year=2021, month=7, user=reviewer)
    model = MonthlySnapshot.history.model
    row = model.objects.get()
    values = {field.attname: field.value_from_object(row) for field in model._meta.concrete_fields}
    hashed = {name: _canonical(value) for name, value in values.items()}
    for name in {*model.NOT_HASHED, model._meta.pk.attname}:
        hashed.pop(name)
    expected = json.dumps(hashed, sort_keys=True, default=str, ensure_ascii=False).encode()
    assert model.payload_of(values) == expected
    assert first_broken_row(model) is None


def test_verify_audit_reports_a_one_byte_tamper():
    case = CaseFactory(title="Detención en Coro")
    IncidentFactory(case=case)
    case.title = "Detención en Coro (actualizado)"
    case.save()
    target = case.history.order_by("history_id").first()
    with transaction.atomic():
        tamper(
            "UPDATE cases_historicalcase SET title = %s WHERE history_id = %s",
            ["Detención en Cora", target.history_id],
        )
    with pytest.raises(CommandError, match=f"cases_historicalcase.*{target.history_id}"):
        verify()


def test_verify_audit_reports_a_removed_row():
    case = CaseFactory(title="Uno")
    for title in ("Dos", "Tres"):
        case.title = title
        case.save()
    middle = case.history.order_by("history_id")[1]
    with transaction.atomic():
        tamper("DELETE FROM cases_historicalcase WHERE history_id = %s", [middle.history_id])
    with pytest.raises(CommandError, match="eliminada"):
        verify()


def test_the_application_never_changes_a_history_row():
    record = CaseFactory().history.get()
    record.title = "reescrito"
    with pytest.raises(AuditBypassError):
        record.save()


@postgres_only
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE cases_historicalcase SET title = 'x'",
        "DELETE FROM cases_historicalcase",
        "DELETE FROM organizations_historicaldefender_profiles",
    ],
)
def test_postgresql_refuses_to_rewrite_history(sql):
    CaseFactory()
    DefenderFactory().profiles.add(Profile.objects.get(code="lawyer"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql)


@postgres_only
def test_every_history_table_has_the_trigger():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE "
            "'%%\\_historical%%' AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE "
            "t.tgrelid = c.oid AND t.tgname LIKE '%%append_only')"
        )
        assert cursor.fetchall() == []
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'cases_historicalcase_no_truncate'"
        )
        assert cursor.fetchone() == (1,)


BYPASSES = [".raw(", ".extra(", "RawSQL(", "bulk_update(", "bulk_create(", "cursor()"]
# Each allowed use, and why it does not skip the audit:
ALLOWED = {
    # The chain's own table lock, the trigger installation, and bulk_create_with_history (the
    # one bulk path: it writes the history rows, chained, for what it inserts).
    "core/audit.py",
    "core/management/commands/rotate_field_keys.py",  # re-encryption, same plaintext
    # Reads pg_class.reltuples (the planner's row estimate) for the admin's big lists.
    "core/pagination.py",
    # Reads only: the search's candidates, through the GIN indexes (SET LOCAL of the plan).
    "cases/search.py",
    # Reads only: the replica's health (its WAL position against the primary's).
    "core/routers.py",
    # Reads only: the monthly figures' aggregates over the ORM's counted incidents (the ORM
    # costs as much again as the five statements themselves: make bench, B3).
    "reports/selectors.py",
    # Reads only: the likely-duplicate search, a join the database makes (make bench, B1).
    "cases/duplicates.py",
    # Writes nothing: a PostgreSQL advisory lock, so that two webhooks_due never overlap.
    "api/webhooks.py",
    # `make bench` fills a throw-away database of its own with SQL (never the application's).
    "scripts/bench.py",
}


def test_no_code_writes_around_the_history():
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.split("/")[0] in {".venv", "tests"} or "/migrations/" in relative:
            continue
        text = path.read_text()
        if relative not in ALLOWED and any(token in text for token in BYPASSES):
            offenders.append(relative)
    assert offenders == []


def test_retracting_keeps_the_case():
    case = CaseFactory(status="verified")
    assert Case.objects.filter(pk=case.pk).exists()


@postgres_only
def test_postgresql_refuses_to_change_a_published_month(reviewer):
    from reports.services import month_publish

    month_publish(year=2021, month=7, user=reviewer)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE reports_monthlysnapshot SET figures = '{}'")


def test_a_local_time_saved_through_a_form_keeps_the_chain_intact(client_for, lawyer):
    import datetime
    import zoneinfo

    from legal.models import Detention

    incident = IncidentFactory(type="arbitrary_detention")
    detention = Detention.objects.create(incident=incident, arrested_on=datetime.date(2021, 7, 2))
    caracas = zoneinfo.ZoneInfo("America/Caracas")
    detention.incommunicado_until = datetime.datetime(2021, 7, 3, 10, 0, tzinfo=caracas)
    detention.save()  # an aware local time, as a form gives it; read back, it is UTC
    assert "intactas" in verify()


def test_the_bulk_path_stores_what_a_save_stores_and_chains_its_history(reviewer):
    """bulk_create_with_history (COPY on PostgreSQL, INSERT elsewhere): the same values as a
    save (timestamps, encrypted fields, defaults), history rows numbered in chain order."""
    from cases.models import Source
    from core.audit import bulk_create_with_history
    from core.records import record_save

    case = CaseFactory()
    saved = Source(case=case, kind="press", title="Uno", url="https://example.org/1", witness="T")
    record_save(saved, user=reviewer, reason="a mano")
    bulk = [
        Source(case=case, kind="press", title=f"N {n}", url=f"https://example.org/{n}", witness="T")
        for n in range(3)
    ]
    assert bulk_create_with_history(bulk, user=reviewer, reason="en bloque") == bulk
    assert all(source.pk and not source._state.adding for source in bulk)

    fields = ("case_id", "kind", "reliability", "witness", "contact", "confidential", "file")
    for source in Source.objects.filter(pk__in=[s.pk for s in bulk]):
        assert source.created_at and source.updated_at
        assert {f: getattr(source, f) for f in fields} == {f: getattr(saved, f) for f in fields}
    history = list(Source.history.filter(id__in=[s.pk for s in bulk]).order_by("history_id"))
    assert [row.id for row in history] == [s.pk for s in bulk]
    assert [row.history_change_reason for row in history] == ["en bloque"] * 3
    assert {row.history_user_id for row in history} == {reviewer.pk}
    assert history[1].history_previous_hash == history[0].history_hash
    verify()  # raises CommandError if a chain is broken
