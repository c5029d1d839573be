"""Reports and exports read from the replica when one is configured and fit to serve; the rest
never does. The replica here is pretended: tests/test_replica_live.py uses a real one."""

import time
from types import SimpleNamespace

import pytest
from django.core import signing
from django.core.exceptions import MiddlewareNotUsed
from django.db import router, transaction
from django.http import HttpResponse, StreamingHttpResponse

from cases.models import Incident
from core import routers
from core.routers import ReadYourWritesMiddleware, ReplicaRouter, pin_cookie_name, replica_reads
from tests.test_settings import run


@pytest.fixture
def with_replica(monkeypatch):
    """A replica configured, up and caught up. No server stands behind it: nothing may query
    it, and nothing does, since these tests only ask where a read would go."""
    monkeypatch.setattr(routers, "replica_configured", lambda: True)
    monkeypatch.setattr(routers.replica_health, "usable", lambda: True)


def test_without_a_replica_everything_reads_from_the_primary(monkeypatch):
    monkeypatch.setattr(routers, "replica_configured", lambda: False)
    with replica_reads():
        assert ReplicaRouter().db_for_read(Incident) is None


def test_inside_a_replica_block_reads_go_to_the_replica(with_replica):
    assert ReplicaRouter().db_for_read(Incident) is None
    with replica_reads():
        assert ReplicaRouter().db_for_read(Incident) == "replica"
        assert ReplicaRouter().db_for_write(Incident) == "default"
    assert ReplicaRouter().db_for_read(Incident) is None


def test_a_replica_down_or_behind_is_not_read(with_replica, monkeypatch):
    monkeypatch.setattr(routers.replica_health, "usable", lambda: False)
    with replica_reads():
        assert ReplicaRouter().db_for_read(Incident) is None


@pytest.mark.django_db
def test_inside_a_transaction_on_the_primary_reads_stay_there(with_replica):
    with transaction.atomic(), replica_reads():
        assert ReplicaRouter().db_for_read(Incident) is None


def test_the_replica_is_never_migrated():
    assert ReplicaRouter().allow_migrate("replica", "cases") is False
    assert ReplicaRouter().allow_migrate("default", "cases") is True


class Recorder:
    """Records which database each read would go to were the replica usable, then runs it
    on the test database."""

    def __init__(self, monkeypatch):
        self.reads = []
        real = ReplicaRouter.db_for_read
        monkeypatch.setattr(routers, "replica_usable", lambda: True)

        def spy(router_self, model, **hints):
            self.reads.append((model._meta.label, real(router_self, model, **hints)))
            return None

        monkeypatch.setattr(ReplicaRouter, "db_for_read", spy)


@pytest.mark.django_db
def test_reports_and_exports_read_from_the_replica_but_access_checks_do_not(
    monkeypatch, client_for, analyst
):
    client = client_for(analyst)
    recorder = Recorder(monkeypatch)
    assert client.get("/reports/monthly/2021/7/").status_code == 200
    routed = dict(recorder.reads)
    assert routed["cases.Incident"] == "replica"
    recorder.reads.clear()
    assert client.get("/api/v1/incidents/").status_code == 200
    assert ("cases.Incident", "replica") in recorder.reads
    recorder.reads.clear()
    assert client.get("/admin/cases/incident/").status_code == 200
    assert ("cases.Incident", "replica") not in recorder.reads
    assert router.db_for_read(Incident) == "default"


@pytest.mark.django_db
def test_a_revoked_key_is_checked_on_the_primary(monkeypatch, ally_client_factory):
    client, _key = ally_client_factory()
    recorder = Recorder(monkeypatch)
    assert client.get("/api/v1/perpetrators/").status_code == 200
    assert ("api.ApiKey", None) in recorder.reads
    assert ("api.ApiKey", "replica") not in recorder.reads


def where_reports_read(request):
    """A view that says where its reads went."""
    with replica_reads():
        return HttpResponse(ReplicaRouter().db_for_read(Incident) or "primary")


class TestReadYourWrites:
    def test_after_a_write_the_same_browser_reads_from_the_primary(
        self, with_replica, rf, settings
    ):
        middleware = ReadYourWritesMiddleware(where_reports_read)
        response = middleware(rf.post("/"))
        assert response.content == b"primary"
        pin = response.cookies[pin_cookie_name()]
        assert pin["max-age"] == settings.REPLICA_PIN_SECONDS and pin["httponly"]
        pinned = rf.get("/")
        pinned.COOKIES[pin_cookie_name()] = pin.value
        assert middleware(pinned).content == b"primary"
        assert middleware(rf.get("/")).content == b"replica"  # another browser
        assert pin_cookie_name() not in middleware(rf.get("/")).cookies

    def test_the_pin_lapses_after_replica_pin_seconds(self, with_replica, rf, monkeypatch):
        middleware = ReadYourWritesMiddleware(where_reports_read)
        an_hour_ago = SimpleNamespace(time=lambda: time.time() - 3600)
        with monkeypatch.context() as clock:
            clock.setattr(signing, "time", an_hour_ago)
            old = middleware(rf.post("/")).cookies[pin_cookie_name()].value
        request = rf.get("/")
        request.COOKIES[pin_cookie_name()] = old
        assert middleware(request).content == b"replica"

    def test_a_forged_pin_is_ignored(self, with_replica, rf):
        middleware = ReadYourWritesMiddleware(where_reports_read)
        request = rf.get("/")
        request.COOKIES[pin_cookie_name()] = "1:forged:signature"
        assert middleware(request).content == b"replica"

    def test_a_streamed_export_read_after_a_write_is_read_from_the_primary(self, with_replica, rf):
        def export(request):
            def rows():
                for _ in range(3):
                    yield where_reports_read(request).content + b","

            return StreamingHttpResponse(rows())

        middleware = ReadYourWritesMiddleware(export)
        pin = middleware(rf.post("/")).cookies[pin_cookie_name()].value
        request = rf.get("/")
        request.COOKIES[pin_cookie_name()] = pin
        # The rows are read as the response is sent, after the middleware has returned.
        response = middleware(request)
        assert b"".join(response.streaming_content) == b"primary," * 3
        response = middleware(rf.get("/"))
        assert b"".join(response.streaming_content) == b"replica," * 3

    def test_without_a_replica_it_sets_no_cookie(self, monkeypatch):
        monkeypatch.setattr(routers, "replica_configured", lambda: False)
        with pytest.raises(MiddlewareNotUsed):
            ReadYourWritesMiddleware(where_reports_read)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"REPLICA_MAX_LAG_SECONDS": "10", "REPLICA_PIN_SECONDS": "5"},
            "REPLICA_PIN_SECONDS=5 must be at least 12",
        ),
        (
            {"DATABASE_REPLICA_URL": "postgres://u@127.0.0.1:5433/defensores"},
            "DATABASE_REPLICA_URL needs PostgreSQL",
        ),
    ],
)
def test_settings_that_would_serve_stale_pages_are_refused(env, message):
    # DATABASE_URL unset: SQLite.
    result = run(["-c", "import config.settings"], **{"DATABASE_REPLICA_URL": "", **env})
    assert result.returncode != 0 and message in result.stderr
