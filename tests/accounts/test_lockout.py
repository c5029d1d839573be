"""Lockout that cannot be turned against staff: per username and address, behind proxies,
across an IPv6 network; cool-off and unlock."""

import datetime

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SecurityEvent

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
