"""Who may call the API: an ally's valid key, or staff with a two-factor session."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from api.base import AllyUser
from api.models import ApiKey, ApiRequest
from api.services import api_key_create, api_key_revoke
from core.records import record_save
from tests.factories import (
    SHARED,
    CaseFactory,
    IncidentFactory,
)
from tests.rest import bearer

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/v1/incidents/",
    "/api/v1/incidents/export/",
    "/api/v1/cases/",
    "/api/v1/perpetrators/",
    "/api/v1/organizations/",
    "/api/v1/defenders/",
    "/api/v1/changes/?since=2000-01-01T00:00:00Z",
    "/api/v1/stats/monthly/?month=2021-07",
    "/api/v1/schema/",
    "/api/v1/docs/",
]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_it_refuses_anonymous_callers_with_401(url):
    response = APIClient().get(url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("url", ENDPOINTS)
def test_it_answers_a_valid_key(ally_client, url):
    assert ally_client.get(url).status_code in (200, 404)  # 404: month not published


def test_it_refuses_a_revoked_key(ally_secret, coordinator):
    key = ApiKey.objects.get()
    assert bearer(ally_secret).get("/api/v1/incidents/").status_code == 200
    api_key_revoke(key=key, user=coordinator)
    response = bearer(ally_secret).get("/api/v1/incidents/")
    assert response.status_code == 401
    # The refusal is logged with the key's prefix, so coordinators see who still tries it.
    refused = ApiRequest.objects.filter(status_code=401).get()
    assert refused.filters["refused_key_prefix"] == key.lookup


def test_it_refuses_an_expired_key(ally, coordinator):
    key, secret = api_key_create(ally=ally, user=coordinator, days=1)
    assert bearer(secret).get("/api/v1/incidents/").status_code == 200
    key.expires_at = timezone.now() - datetime.timedelta(seconds=1)
    record_save(key, user=coordinator, update_fields=["expires_at"])
    assert bearer(secret).get("/api/v1/incidents/").status_code == 401


def test_it_refuses_every_key_of_an_inactive_ally(ally, ally_secret, coordinator):
    ally.active = False
    record_save(ally, user=coordinator, update_fields=["active"])
    assert bearer(ally_secret).get("/api/v1/incidents/").status_code == 401


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer dfs_nope_nope", "Bearer ñandú", "Token dfs_x_y"],
)
def test_it_refuses_malformed_or_unknown_keys(ally_secret, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/incidents/").status_code == 401


def test_a_key_that_differs_only_after_its_prefix_is_refused(ally_secret):
    forged = ally_secret[:-4] + ("AAAA" if not ally_secret.endswith("AAAA") else "BBBB")
    assert bearer(forged).get("/api/v1/incidents/").status_code == 401


def test_only_the_hash_of_a_key_is_stored(ally_secret):
    key = ApiKey.objects.get()
    stored = [str(value) for value in key.__dict__.values()]
    assert ally_secret not in " ".join(stored)
    assert key.hashed == ApiKey.hash(ally_secret)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_allies_cannot_write(ally_client, method):
    response = getattr(ally_client, method)("/api/v1/incidents/", {})
    assert response.status_code == 405


def test_staff_with_a_verified_session_use_the_same_api(client_for, analyst):
    assert client_for(analyst).get("/api/v1/incidents/").status_code == 200


def test_a_password_only_session_is_refused(client, analyst):
    client.force_login(analyst)
    assert client.get("/api/v1/incidents/").status_code == 403


def test_a_verified_account_without_case_rights_is_refused(client_for, outsider):
    assert client_for(outsider).get("/api/v1/incidents/").status_code == 403


def test_the_command_prints_a_working_key_once(coordinator, capsys):
    call_command("ally_key_create", "Relatoría Aliada", "--by", coordinator.username)
    secret = capsys.readouterr().out.strip()
    assert bearer(secret).get("/api/v1/incidents/").status_code == 200
    assert ApiKey.objects.get().ally.name == "Relatoría Aliada"


def test_the_command_refuses_someone_who_may_not_create_keys(analyst):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("ally_key_create", "Otra", "--by", analyst.username)
    assert not ApiKey.objects.exists()


def test_a_coordinator_creates_a_key_in_the_admin_and_sees_it_once(client_for, coordinator, ally):
    client = client_for(coordinator)
    response = client.post("/admin/api/apikey/add/", {"ally": ally.pk, "name": "Uwazi", "days": 30})
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret.startswith("dfs_") and secret in response.content.decode()
    assert bearer(secret).get("/api/v1/cases/").status_code == 200
    key = ApiKey.objects.get()
    assert key.created_by == coordinator
    assert key.expires_at.date() == (timezone.now() + datetime.timedelta(days=30)).date()
    # Never again: not on the key's page.
    page = client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert secret not in page


def test_a_coordinator_revokes_keys_from_the_list(client_for, coordinator, ally_secret):
    key = ApiKey.objects.get()
    client_for(coordinator).post(
        "/admin/api/apikey/",
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    assert bearer(ally_secret).get("/api/v1/incidents/").status_code == 401
    assert key.history.first().history_user == coordinator


def test_every_request_is_logged_and_coordinators_read_the_log(
    ally_client, client_for, coordinator, analyst
):
    ally_client.get("/api/v1/incidents/", {"type": "raid", "page_size": 5})
    entry = ApiRequest.objects.get()
    assert entry.ally.name == "Red Aliada de Prueba"
    assert entry.endpoint == "incidents" and entry.status_code == 200 and entry.rows == 0
    assert entry.filters == {"type": "raid", "page_size": "5"}
    assert client_for(coordinator).get("/admin/api/apirequest/").status_code == 200
    assert client_for(analyst).get("/admin/api/apirequest/").status_code == 403


def test_it_throttles_per_key(settings, ally_client, ally, coordinator):
    settings.API_THROTTLE_RATE = "3/minute"
    codes = [ally_client.get("/api/v1/perpetrators/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    # Another key of the same ally has its own budget.
    _key, other = api_key_create(ally=ally, user=coordinator)
    assert bearer(other).get("/api/v1/perpetrators/").status_code == 200


def test_the_docs_load_their_assets_from_us_not_a_cdn(ally_client):
    page = ally_client.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "https://" not in page
    schema = ally_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/incidents/" in schema["paths"]


def test_an_ally_key_opens_no_drf_view_but_the_exports():
    from accounts.permissions import IsVerified
    from api.models import Ally

    key = ApiKey(ally=Ally(name="x"))

    class Request:
        user = AllyUser(key)

    assert IsVerified().has_permission(Request(), None) is False
    from django.conf import settings

    assert (
        "organizations.api.ApiKeyAuthentication"
        not in settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]
    )


def test_options_is_not_offered(ally_client):
    IncidentFactory(case=CaseFactory(**SHARED))
    for url in ["/api/v1/incidents/?format=csv", "/api/v1/changes/", "/api/v1/stats/monthly/"]:
        assert ally_client.options(url).status_code == 405
