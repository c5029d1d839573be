"""Reports and exports read from the replica when one is configured; the rest never does."""

import pytest
from django.db import router

from cases.models import Incident
from core.routers import ReplicaRouter, replica_reads

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_replica(monkeypatch):
    monkeypatch.setattr("core.routers.replica_configured", lambda: True)


def test_without_a_replica_everything_reads_from_the_primary():
    with replica_reads():
        assert ReplicaRouter().db_for_read(Incident) is None


def test_inside_a_replica_block_reads_go_to_the_replica(with_replica):
    assert ReplicaRouter().db_for_read(Incident) is None
    with replica_reads():
        assert ReplicaRouter().db_for_read(Incident) == "replica"
        assert ReplicaRouter().db_for_write(Incident) == "default"
    assert ReplicaRouter().db_for_read(Incident) is None


def test_the_replica_is_never_migrated():
    assert ReplicaRouter().allow_migrate("replica", "cases") is False
    assert ReplicaRouter().allow_migrate("default", "cases") is True


class Recorder:
    """Records which database each read would go to, then runs it on the test database."""

    def __init__(self, monkeypatch):
        self.reads = []
        real = ReplicaRouter.db_for_read

        def spy(router_self, model, **hints):
            self.reads.append((model._meta.label, real(router_self, model, **hints)))
            return None

        monkeypatch.setattr(ReplicaRouter, "db_for_read", spy)


def test_reports_and_exports_read_from_the_replica_but_access_checks_do_not(
    with_replica, monkeypatch, client_for, analyst
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


def test_a_revoked_key_is_checked_on_the_primary(with_replica, monkeypatch, ally_client_factory):
    client, _key = ally_client_factory()
    recorder = Recorder(monkeypatch)
    assert client.get("/api/v1/perpetrators/").status_code == 200
    assert ("api.ApiKey", None) in recorder.reads
    assert ("api.ApiKey", "replica") not in recorder.reads
