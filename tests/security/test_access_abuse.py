"""Findings 9–13: lockout as a weapon, development keys, proxies, pseudonyms that link back,
secrets in request logs."""

import datetime
import json
import sys
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import SecurityEvent
from api.models import ApiRequest
from cases.models import Case
from organizations.models import Defender
from organizations.services import defender_save
from tests.factories import CaseFactory, DefenderFactory, IncidentFactory
from tests.rest import pages
from tests.test_settings import PRODUCTION, run

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "contraseña-de-prueba"


def enter_password(client, username, password=PASSWORD, address="10.0.0.1"):
    return client.post(
        LOGIN,
        {"login_view-current_step": "auth", "auth-username": username, "auth-password": password},
        REMOTE_ADDR=address,
    )


def reaches_second_step(response) -> bool:
    return 'name="token-otp_token"' in response.content.decode()


@pytest.fixture
def enrolled(coordinator, documentalist):
    for user in (coordinator, documentalist):
        TOTPDevice.objects.create(user=user, name="default", confirmed=True)


def age_attempts(minutes: int) -> None:
    """Make every recorded failure `minutes` older, as if that time had passed."""
    from axes.models import AccessAttempt

    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= datetime.timedelta(minutes=minutes)
        attempt.save(update_fields=["attempt_time"])


class TestLockout:
    def test_an_outsider_cannot_lock_a_coordinator_out(self, client, enrolled):
        for _ in range(8):
            enter_password(client, "coordinadora", "equivocada", address="203.0.113.9")
        assert (
            enter_password(client, "coordinadora", "equivocada", "203.0.113.9").status_code == 429
        )
        assert reaches_second_step(enter_password(client, "coordinadora", address="10.0.0.1"))

    def test_a_lock_cools_off_after_15_minutes_then_twice_as_long(self, client, enrolled):
        for _ in range(5):
            enter_password(client, "coordinadora", "equivocada")
        assert enter_password(client, "coordinadora").status_code == 429
        age_attempts(16)
        assert reaches_second_step(enter_password(client, "coordinadora"))
        client.logout()
        for _ in range(5):
            enter_password(client, "coordinadora", "equivocada")
        age_attempts(16)
        assert enter_password(client, "coordinadora").status_code == 429  # 30 minutes now
        age_attempts(15)
        assert reaches_second_step(enter_password(client, "coordinadora"))

    def test_colleagues_behind_one_address_are_not_locked_by_someone_elses_typos(
        self, client, enrolled
    ):
        for n in range(6):
            enter_password(client, f"nadie{n}", "equivocada", address="10.0.0.5")
        assert reaches_second_step(enter_password(client, "documentalista", address="10.0.0.5"))
        assert not SecurityEvent.objects.filter(
            kind="login_failed", username="documentalista"
        ).exists()

    def test_behind_a_proxy_each_client_is_counted_by_its_own_address(
        self, client, enrolled, settings
    ):
        settings.TRUSTED_PROXY_COUNT = 1

        def via_proxy(password, client_address):
            return client.post(
                LOGIN,
                {
                    "login_view-current_step": "auth",
                    "auth-username": "coordinadora",
                    "auth-password": password,
                },
                REMOTE_ADDR="10.0.0.1",  # the proxy
                HTTP_X_FORWARDED_FOR=f"192.0.2.1, {client_address}",  # the first part is forged
            )

        for _ in range(8):
            via_proxy("equivocada", "203.0.113.9")
        assert via_proxy("equivocada", "203.0.113.9").status_code == 429
        assert reaches_second_step(via_proxy(PASSWORD, "198.51.100.7"))
        logged = SecurityEvent.objects.filter(kind__in=["login_failed", "lockout"])
        assert set(logged.values_list("ip_address", flat=True)) == {"203.0.113.9"}

    def test_rotating_through_an_ipv6_network_does_not_escape_the_lock(self, client, enrolled):
        codes = [
            enter_password(client, "coordinadora", "equivocada", f"2001:db8::{n:x}").status_code
            for n in range(8)
        ]
        assert codes[-1] == 429
        assert reaches_second_step(enter_password(client, "coordinadora", address="2001:db9::1"))
        failed = SecurityEvent.objects.filter(kind="login_failed").values_list("ip_address")
        assert ("2001:db8::7",) in set(failed)  # the log keeps the full address

    def test_a_coordinator_unlocks_from_the_admin(self, client, client_for, enrolled, coordinator):
        from axes.models import AccessAttempt

        for _ in range(5):
            enter_password(client, "documentalista", "equivocada")
        attempt = AccessAttempt.objects.get(username="documentalista")
        admin = client_for(coordinator)
        page = admin.get("/admin/axes/accessattempt/")
        assert "Desbloquear" in page.content.decode()
        admin.post(
            "/admin/axes/accessattempt/",
            {"action": "unlock", "_selected_action": [attempt.pk]},
        )
        assert not AccessAttempt.objects.exists()
        event = SecurityEvent.objects.get(kind="unlock")
        assert event.details["by"] == "coordinadora"
        client.logout()
        assert reaches_second_step(enter_password(client, "documentalista"))


class TestDevelopmentKeys:
    def test_commands_refuse_the_development_encryption_key_when_debug_is_off(self):
        env = {**PRODUCTION}
        del env["FIELD_ENCRYPTION_KEYS"]
        result = run(["manage.py", "verify_audit"], **env)
        assert result.returncode != 0
        assert "FIELD_ENCRYPTION_KEYS" in result.stderr

    @pytest.mark.parametrize(
        "start", [["-m", "django"], [str(Path(sys.executable).parent / "django-admin")]]
    )
    def test_so_do_commands_started_without_manage_py(self, start):
        env = {**PRODUCTION, "PYTHONPATH": "."}
        del env["AUDIT_CHAIN_KEYS"]
        result = run([*start, "verify_audit"], **env)
        assert result.returncode != 0
        assert "AUDIT_CHAIN_KEYS" in result.stderr

    def test_the_deploy_check_reports_them(self):
        env = {**PRODUCTION}
        del env["FIELD_ENCRYPTION_KEYS"]
        result = run(["manage.py", "check", "--deploy"], **env)
        assert "FIELD_ENCRYPTION_KEYS" in result.stdout + result.stderr


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


SHARED = {"status": Case.Status.PUBLISHED, "confidentiality": Case.Confidentiality.PUBLIC}


def export(client) -> dict:
    response = client.get("/api/v1/incidents/export/", {"format": "json"})
    return {row["id"]: row for row in json.loads(b"".join(response.streaming_content))}


class TestPseudonyms:
    def test_protecting_a_defender_later_gives_allies_an_id_that_does_not_link_back(
        self, ally_client, reviewer
    ):
        defender = DefenderFactory(full_name="Ana Visible")
        incident = IncidentFactory(case=CaseFactory(**SHARED), defender=defender)
        before = export(ally_client)[str(incident.public_id)]
        assert before["target_name"] == "Ana Visible"
        since = timezone.now().isoformat()

        defender.identity_protected = True
        defender_save(defender=defender, user=reviewer)

        after = export(ally_client)[str(incident.public_id)]
        assert after["target_protected"]
        assert after["target_id"] != before["target_id"]
        old_code = Defender.pseudonym_code(uuid.UUID(before["target_id"]))
        assert old_code not in after["target_name"]
        listed = {row["id"] for row in pages(ally_client, "/api/v1/defenders/")}
        assert before["target_id"] not in listed and after["target_id"] in listed
        events = ally_client.get("/api/v1/changes/", {"since": since}).json()["results"]
        assert {"id": before["target_id"], "action": "delete"}.items() <= next(
            e for e in events if e["id"] == before["target_id"]
        ).items()
