"""Throttles per key, per address and for exports; the request log: bounded, and never a secret."""

import json
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connections
from rest_framework.test import APIClient

from api.models import ApiRequest
from tests.factories import (
    SHARED,
    CaseFactory,
    IncidentFactory,
)

pytestmark = pytest.mark.django_db


def test_refused_keys_are_throttled_by_address(settings):
    settings.API_FAILED_KEY_RATE = "3/minute"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer dfs_000000000000_nope")
    codes = [client.get("/api/v1/incidents/").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]


def test_anonymous_callers_are_throttled_too(settings):
    settings.API_THROTTLE_RATE = "2/minute"
    codes = [APIClient().get("/api/v1/incidents/").status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_the_log_keeps_a_bounded_record_of_filters(ally_client):
    ally_client.get("/api/v1/incidents/", {"municipality": "x" * 50_000})
    entry = ApiRequest.objects.get()
    assert len(entry.filters["municipality"]) == 200


def test_only_our_keys_leave_a_prefix_in_the_log():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ghp_secretofsomeoneelse_123")
    client.get("/api/v1/incidents/")
    assert "refused_key_prefix" not in ApiRequest.objects.get().filters


def test_exports_have_their_own_throttle(settings, ally_client):
    settings.API_EXPORT_THROTTLE_RATE = "2/hour"
    codes = [
        ally_client.get("/api/v1/incidents/export/", {"format": "json"}).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert ally_client.get("/api/v1/incidents/").status_code == 200


def test_an_export_cut_short_logs_what_left(ally_client):
    for _ in range(3):
        IncidentFactory(case=CaseFactory(**SHARED))
    response = ally_client.get("/api/v1/incidents/export/", {"format": "csv"})
    stream = iter(response.streaming_content)
    next(stream)  # the header line, then the client hangs up
    # close() ends the request; the test's own database connection must survive it.
    with mock.patch.object(connections["default"], "close_if_unusable_or_obsolete"):
        response.close()
    assert ApiRequest.objects.filter(endpoint="incidents").get().rows == 0


class TestProxies:
    @pytest.fixture(autouse=True)
    def _fresh(self):
        cache.clear()
        yield
        cache.clear()

    def test_a_rotating_forwarded_for_header_does_not_escape_the_throttle(self, settings):
        settings.API_FAILED_KEY_RATE = "3/minute"
        codes = []
        for n in range(5):
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION="Bearer dfs_nope_nope")
            response = client.get("/api/v1/incidents/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
            codes.append(response.status_code)
        assert codes[-1] == 429

    def test_requests_without_a_key_are_throttled_and_their_log_bounded(self, settings):
        settings.API_ANONYMOUS_RATE = "3/minute"
        for n in range(8):
            APIClient().get("/api/v1/incidents/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        assert ApiRequest.objects.count() <= 3

    def test_a_secret_in_the_query_string_is_not_logged(self, ally_client):
        secret = "dfs_abcdef123456_" + "s" * 40
        ally_client.get("/api/v1/incidents/", {"key": secret, "api_key": secret})
        logged = json.dumps([r.filters for r in ApiRequest.objects.all()])
        assert secret not in logged and "s" * 40 not in logged

    def test_a_secret_anywhere_in_a_value_or_in_the_path_is_not_logged(self, ally_client):
        secret = "dfs_abcdef123456_" + "s" * 40
        ally_client.get("/api/v1/incidents/", {"q": f"Bearer {secret}"})
        ally_client.get(f"/api/v1/incidents/{secret}/")
        logged = json.dumps([(r.path, r.filters) for r in ApiRequest.objects.all()])
        assert ApiRequest.objects.count() == 2
        assert "s" * 40 not in logged and "[redacted]" in logged
