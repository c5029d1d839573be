"""Against a real streaming replica: DATABASE_REPLICA_URL naming a hot standby of
DATABASE_URL's server (.ci/run makes one; docs/replica.md says how). Report pages and
exports are read there, writes and the admin are not, a browser that has just written
reads the primary, and a replica that is down or too far behind is not read.

The data must be committed for the replica to get it: these tests run outside a
transaction (transaction=True) and wait until the replica has replayed what they wrote.
Skipped without a replica."""

import contextlib
import os
import re
import shutil
import subprocess
import time

import pytest
from django.db import Error, connections
from django.db.backends.postgresql.operations import DatabaseOperations
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cases.models import Incident
from core.routers import REPLICA, replica_configured, replica_health
from tests.conftest import verified_login
from tests.factories import SHARED, IncidentFactory

pytestmark = [
    pytest.mark.skipif(not replica_configured(), reason="no replica (DATABASE_REPLICA_URL)"),
    pytest.mark.django_db(transaction=True, databases=["default", REPLICA]),
]

JULY = "/reports/monthly/2021/7/"
PATIENCE = 60  # seconds: how long a replica may take to catch up or start


@pytest.fixture(scope="module", autouse=True)
def _standby(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        if not one("default", "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            pytest.skip(
                "these tests pause the replica and clean up past the append-only triggers: "
                "they need a PostgreSQL superuser"
            )
        wait_for_replay()
    # Each test ends with a flush, whose TRUNCATE the append-only tables refuse
    # (core/migrations/0001_postgresql.py): let it pass them, as pg_restore's
    # --disable-triggers would.
    flush = DatabaseOperations.execute_sql_flush

    def flush_past_triggers(self, sql_list):
        with self.connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
        try:
            flush(self, sql_list)
        finally:
            with self.connection.cursor() as cursor:
                cursor.execute("RESET session_replication_role")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "execute_sql_flush", flush_past_triggers)
        yield


@pytest.fixture(autouse=True)
def _fresh_health_verdict():
    # A verdict kept from the previous test (replica stopped, paused) must not decide this one.
    replica_health.forget()


def one(alias: str, sql: str, params=()):
    """The value `sql` gives on that server (None for a command)."""
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0] if cursor.description else None


def eventually(condition, message: str):
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


def wait_for_replay():
    """Until the replica has replayed all that the primary has written so far."""
    target = one("default", "SELECT pg_current_wal_lsn()")

    def replayed():
        try:
            return one(REPLICA, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
        except Error:  # starting up, or not yet holding the test database
            connections[REPLICA].close()
            return False

    eventually(replayed, f"the replica did not replay up to {target}")


@contextlib.contextmanager
def replay_paused():
    """The replica stops replaying (it still receives): it falls behind what follows."""
    one(REPLICA, "SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        one(REPLICA, "SELECT pg_wal_replay_resume()")
        wait_for_replay()


def shared_incident() -> Incident:
    """A counted July 2021 incident that allies may see, committed on the primary."""
    return IncidentFactory(**{f"case__{field}": value for field, value in SHARED.items()})


def signed_in(user) -> Client:
    return verified_login(Client(), user)


def july_total(client) -> int:
    """The month's count as the report download gives it."""
    response = client.get(JULY + "report.json")
    assert response.status_code == 200
    return response.json()["total"]


TABLE = re.compile(r'(?:FROM|JOIN) "(\w+)"')


def tables_read(fetch, aliases=("default", REPLICA)) -> dict[str, set[str]]:
    """The tables each server read from while `fetch()` ran and its response was read."""
    with contextlib.ExitStack() as stack:
        captured = {
            alias: stack.enter_context(CaptureQueriesContext(connections[alias]))
            for alias in aliases
        }
        response = fetch()
        assert response.status_code in (200, 302), response
        if response.streaming:
            b"".join(response.streaming_content)
    return {
        alias: {table for query in queries for table in TABLE.findall(query["sql"])}
        for alias, queries in captured.items()
    }


def test_the_replica_is_a_hot_standby_of_the_primary():
    assert one(REPLICA, "SELECT pg_is_in_recovery()") is True
    assert one("default", "SELECT pg_is_in_recovery()") is False
    assert one(REPLICA, "SELECT inet_server_port()") != one("default", "SELECT inet_server_port()")
    with pytest.raises(Error, match="read-only transaction"):
        one(REPLICA, "CREATE TABLE refused (id int)")


def test_reports_and_exports_are_read_on_the_replica(analyst, ally_client_factory):
    incident = shared_incident()
    wait_for_replay()
    staff = signed_in(analyst)
    ally, _key = ally_client_factory()
    for client, url in [
        (staff, JULY),
        (staff, "/reports/annual/2021/"),
        (staff, JULY + "report.csv"),
        (staff, JULY + "report.xlsx"),
        (staff, "/api/v1/stats/monthly/?month=2021-07"),
        (ally, "/api/v1/incidents/"),
        (ally, f"/api/v1/incidents/{incident.public_id}/"),
        (ally, "/api/v1/incidents/export/?format=csv"),
        (ally, "/api/v1/cases/"),
    ]:
        read = tables_read(lambda client=client, url=url: client.get(url))
        assert "cases_incident" in read[REPLICA], url
        assert "cases_incident" not in read["default"], url
    # Who is asking is settled on the primary: the staff's session, the ally's key.
    read = tables_read(lambda: staff.get(JULY))
    assert "django_session" in read["default"] and "django_session" not in read[REPLICA]
    read = tables_read(lambda: ally.get("/api/v1/incidents/"))
    assert "api_apikey" in read["default"] and "api_apikey" not in read[REPLICA]
    assert july_total(staff) == 1


def test_a_page_read_on_the_replica_shows_what_the_replica_has(analyst, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 3600  # however far behind it falls here, it is used
    staff = signed_in(analyst)
    shared_incident()
    wait_for_replay()
    with replay_paused():
        shared_incident()
        assert Incident.objects.count() == 2
        assert july_total(staff) == 1  # the replica's figure, not the primary's
    eventually(lambda: july_total(staff) == 2, "the replica did not catch up")


def test_the_admin_and_writes_stay_on_the_primary(reviewer):
    shared_incident()
    wait_for_replay()
    client = signed_in(reviewer)
    with CaptureQueriesContext(connections[REPLICA]) as replica:
        assert client.get("/admin/cases/incident/").status_code == 200
        assert client.post(JULY + "publish/").status_code == 302
    assert not replica.captured_queries
    assert one("default", "SELECT count(*) FROM reports_monthlysnapshot") == 1


def test_after_a_write_the_same_browser_reads_from_the_primary(reviewer, analyst, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 3600  # the replica stays in use though paused
    writer, other = signed_in(reviewer), signed_in(analyst)
    shared_incident()
    wait_for_replay()
    with replay_paused():
        assert writer.post(JULY + "publish/").status_code == 302
        read = tables_read(lambda: writer.get(JULY))
        assert "reports_monthlysnapshot" in read["default"] and not read[REPLICA]
        assert writer.get(JULY + "report.json").json()["snapshot"]["version"] == 1
        # A browser that wrote nothing reads the replica, which has not seen the publication.
        assert other.get(JULY + "report.json").json()["snapshot"] is None
        # The pin lapses: the writer is back on the replica.
        settings.REPLICA_PIN_SECONDS = 1
        eventually(
            lambda: writer.get(JULY + "report.json").json()["snapshot"] is None,
            "the writer's reads stayed on the primary",
        )


def test_a_replica_that_has_caught_up_is_used_however_long_the_primary_is_idle(settings):
    settings.REPLICA_MAX_LAG_SECONDS = 1
    shared_incident()
    wait_for_replay()
    time.sleep(2)  # no commit for longer than the bound: the last one replayed is that old

    def verdict():
        replica_health.forget()
        return replica_health.usable()

    eventually(verdict, "a replica that had replayed everything was taken as behind")


def standby_cluster() -> list[str]:
    """The replica's Debian cluster (version, name), when this test may stop and start it."""
    name = one(REPLICA, "SHOW cluster_name")  # "15/replica" when made by pg_createcluster
    local = connections[REPLICA].settings_dict["HOST"] in ("127.0.0.1", "localhost", "::1")
    if not (local and "/" in name and shutil.which("pg_ctlcluster") and os.geteuid() == 0):
        pytest.skip("stopping the replica needs root and a pg_createcluster standby here")
    return name.split("/", 1)


def pg_ctlcluster(cluster: list[str], *action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, *action],
        check=True,
        capture_output=True,
        timeout=PATIENCE,
    )


def test_when_the_replica_is_down_reads_go_to_the_primary(analyst):
    cluster = standby_cluster()
    staff = signed_in(analyst)
    shared_incident()
    # A checkpoint replayed, then a restartpoint there: started again, it has little to redo.
    one("default", "CHECKPOINT")
    wait_for_replay()
    one(REPLICA, "CHECKPOINT")
    connections[REPLICA].close()
    pg_ctlcluster(cluster, "stop", "-m", "fast")
    try:
        shared_incident()
        read = tables_read(lambda: staff.get(JULY), aliases=["default"])
        assert "cases_incident" in read["default"]
        assert july_total(staff) == 2
    finally:
        pg_ctlcluster(cluster, "start")
        wait_for_replay()


def test_when_the_replica_lags_reads_go_to_the_primary(analyst, settings):
    settings.REPLICA_MAX_LAG_SECONDS = 1
    staff = signed_in(analyst)
    shared_incident()
    wait_for_replay()
    with replay_paused():
        late = shared_incident()
        # Once the replica is a second behind (and its verdict renewed), the primary answers.
        eventually(lambda: july_total(staff) == 2, "reads did not fall back to the primary")
        read = tables_read(lambda: staff.get(JULY))
        assert "cases_incident" in read["default"] and "cases_incident" not in read[REPLICA]
        assert not Incident.objects.using(REPLICA).filter(pk=late.pk).exists()
