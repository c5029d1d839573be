"""An insider with the database, not the application's keys, must not be able to
rewrite the history or cut its tail without verify_audit saying where."""

import datetime
import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from cases import services
from cases.models import Case

pytestmark = pytest.mark.django_db(transaction=False)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only triggers are PostgreSQL's"
)


def verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def raw(sql: str, params=()) -> None:
    """SQL as an insider runs it, past the append-only triggers where there are any."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


@pytest.fixture
def case(documentalist, reviewer):
    case = services.case_create(user=documentalist, title="Detención en Coro")
    case.title = "Detención de activistas en Coro"
    services.case_save(case=case, user=documentalist)
    case.team.add(reviewer)
    case.summary = "Resumen"
    services.case_save(case=case, user=documentalist)
    return case


def test_a_row_rewritten_with_its_chain_recomputed_is_found(case):
    history = Case.history.model
    rows = list(history.objects.order_by("history_id"))
    first = rows[0]
    # The insider edits a value and recomputes every hash after it as the chain's code did:
    # SHA-256 over the previous hash and the row's values. No key is needed for that.
    with transaction.atomic():
        raw(
            f"UPDATE {history._meta.db_table} SET title = %s WHERE history_id = %s",
            ["Otro", first.history_id],
        )
        previous = ""
        for row in history.objects.order_by("history_id"):
            digest = hashlib.sha256(previous.encode() + b"\n" + row.chain_payload()).hexdigest()
            raw(
                f"UPDATE {history._meta.db_table} SET history_previous_hash = %s, "
                "history_hash = %s WHERE history_id = %s",
                [previous, digest, row.history_id],
            )
            previous = digest
    with pytest.raises(CommandError) as error:
        verify()
    assert history._meta.db_table in str(error.value)
    assert str(first.history_id) in str(error.value)


def test_removing_the_newest_rows_of_a_history_table_is_found(case):
    verify()  # anchors each table's head outside it
    history = Case.history.model
    newest = history.objects.order_by("-history_id").first()
    with transaction.atomic():
        raw(f"DELETE FROM {history._meta.db_table} WHERE history_id = %s", [newest.history_id])
    with pytest.raises(CommandError) as error:
        verify()
    assert history._meta.db_table in str(error.value)
    assert str(newest.history_id) in str(error.value)


def test_a_removed_team_change_is_found(case):
    team_history = Case.team.through  # the live table…
    history = [m for m in _history_models() if m._meta.db_table == "cases_historicalcase_team"]
    assert history, "the case team's history table is chained"
    model = history[0]
    assert team_history.objects.filter(case=case).exists()
    first = model.objects.order_by("m2m_history_id").first()
    with transaction.atomic():
        raw(f"DELETE FROM {model._meta.db_table} WHERE m2m_history_id = %s", [first.pk])
    with pytest.raises(CommandError) as error:
        verify()
    assert model._meta.db_table in str(error.value)


def _history_models():
    from core.audit import chained_history_models

    return chained_history_models()


def test_each_verification_anchors_the_heads_in_the_security_log(case):
    from accounts.models import SecurityEvent

    verify()
    anchor = SecurityEvent.objects.filter(kind="audit_anchor").latest("occurred_at")
    heads = anchor.details["heads"]
    assert heads["cases_historicalcase"]["rows"] == Case.history.count()


@postgres_only
def test_the_apps_own_role_cannot_use_the_rewrite_bypass(case):
    from django.db.utils import DatabaseError

    table = Case.history.model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
            "'defensores_app_test') THEN CREATE ROLE defensores_app_test NOSUPERUSER; "
            "END IF; END $$"
        )
        cursor.execute(f"GRANT SELECT, UPDATE ON {table} TO defensores_app_test")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL ROLE defensores_app_test")
            cursor.execute("SET LOCAL defensores.history_rewrite = 'rotate_field_keys'")
            cursor.execute(f"UPDATE {table} SET title = 'x'")


def test_the_daily_check_reads_only_what_came_after_the_anchor_and_still_finds_it(
    case, documentalist
):
    verify()
    case.title = "Cambiado después del ancla"
    services.case_save(case=case, user=documentalist)
    history = Case.history.model
    newest = history.objects.order_by("-history_id").first()
    with transaction.atomic():
        raw(
            f"UPDATE {history._meta.db_table} SET title = %s WHERE history_id = %s",
            ["Otro título", newest.history_id],
        )
    out = io.StringIO()
    with pytest.raises(CommandError, match=str(newest.history_id)):
        call_command("verify_audit", "--since-anchor", stdout=out)


def test_an_anchor_forged_into_the_security_log_is_reported(case):
    from accounts.models import SecurityEvent

    verify()
    SecurityEvent.objects.create(
        kind="audit_anchor", details={"at": "2030-01-01", "heads": {}, "signature": "0" * 64}
    )
    with pytest.raises(CommandError, match="ancla"):
        verify()


def test_each_anchor_is_also_written_where_the_database_cannot_reach(case, settings, tmp_path):
    import json

    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anclas.jsonl")
    verify()
    verify()
    text = (tmp_path / "anclas.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 2
    assert lines[-1]["heads"]["cases_historicalcase"]["rows"] == Case.history.count()
    assert len(lines[-1]["signature"]) == 64


def test_an_old_anchor_replayed_as_the_newest_does_not_hide_a_cut_tail(case, documentalist):
    from accounts.models import SecurityEvent

    verify()
    old = SecurityEvent.objects.filter(kind="audit_anchor").latest("occurred_at")
    case.title = "Cambiado entre dos anclas"
    services.case_save(case=case, user=documentalist)
    verify()
    # The insider copies the first anchor (it holds: the application signed it) so that it
    # looks the newest, then cuts the rows written after it.
    SecurityEvent.objects.create(kind="audit_anchor", details=old.details)
    history = Case.history.model
    newest = history.objects.order_by("-history_id").first()
    with transaction.atomic():
        raw(f"DELETE FROM {history._meta.db_table} WHERE history_id = %s", [newest.history_id])
    with pytest.raises(CommandError, match=str(newest.history_id)):
        verify()


def test_anchors_removed_from_the_database_are_found_through_the_file(
    case, documentalist, settings, tmp_path
):
    from accounts.models import SecurityEvent

    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "anclas.jsonl")
    verify()
    first = SecurityEvent.objects.filter(kind="audit_anchor").latest("occurred_at").pk
    case.title = "Cambiado entre dos anclas"
    services.case_save(case=case, user=documentalist)
    verify()
    SecurityEvent.objects.filter(kind="audit_anchor").exclude(pk=first).delete()
    history = Case.history.model
    newest = history.objects.order_by("-history_id").first()
    with transaction.atomic():
        raw(f"DELETE FROM {history._meta.db_table} WHERE history_id = %s", [newest.history_id])
    with pytest.raises(CommandError) as error:
        verify()
    assert "anclas.jsonl" in str(error.value)
    assert str(newest.history_id) in str(error.value)


def test_heads_that_go_backwards_between_two_anchors_are_reported(case):
    from accounts.models import SecurityEvent
    from core.audit import anchor_signature

    verify()
    anchor = SecurityEvent.objects.filter(kind="audit_anchor").latest("occurred_at")
    heads = {
        table: {**head, "rows": head["rows"] + 5} for table, head in anchor.details["heads"].items()
    }
    at = "2000-01-01T00:00:00+00:00"  # an earlier anchor that saw more rows than today's
    earlier = SecurityEvent.objects.create(
        kind="audit_anchor",
        details={"at": at, "heads": heads, "signature": anchor_signature(heads, at)},
    )
    SecurityEvent.objects.filter(pk=earlier.pk).update(
        occurred_at=anchor.occurred_at - datetime.timedelta(days=1)
    )
    with pytest.raises(CommandError, match="cases_historicalcase"):
        verify()


@postgres_only
def test_it_warns_when_the_database_account_could_undo_the_protections(case):
    out, err = io.StringIO(), io.StringIO()
    call_command("verify_audit", stdout=out, stderr=err)  # the tests run as a superuser
    assert "docs/security.md" in err.getvalue()


def test_rows_chained_before_a_field_was_added_still_verify(reviewer):
    """A field added to a model after the first release (HISTORY_ADDED_LATER) is left out of
    the hash while it holds what older rows were given, so their hashes still hold."""
    from core.audit import _PAYLOAD_ENCODER, _canonical
    from organizations.models import Perpetrator
    from tests.factories import PerpetratorFactory

    survivor, merged = PerpetratorFactory(name="SEBIN"), PerpetratorFactory(name="S.E.B.I.N.")
    history = Perpetrator.history.model
    row = history.objects.filter(id=merged.pk).get()
    values = {f.attname: f.value_from_object(row) for f in history._meta.concrete_fields}
    skipped = history.NOT_HASHED | {"history_id", "merged_into_id"}  # the payload before
    before = {name: _canonical(value) for name, value in values.items() if name not in skipped}
    assert row.chain_payload() == _PAYLOAD_ENCODER.encode(before).encode()
    # Once it holds something, it is hashed like any field.
    from cases import merges

    merges.perpetrator_merge(survivor=survivor, merged=merged, user=reviewer)
    assert (
        b'"merged_into_id"'
        in history.objects.filter(id=merged.pk).latest("history_id").chain_payload()
    )
    verify()
