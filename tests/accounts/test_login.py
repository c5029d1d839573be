import base64
import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SecurityEvent

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "contraseña-de-prueba"


def code(device) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def enter_password(client, username, password=PASSWORD):
    return client.post(
        LOGIN,
        {"login_view-current_step": "auth", "auth-username": username, "auth-password": password},
    )


def enter_code(client, token):
    return client.post(LOGIN, {"login_view-current_step": "token", "token-otp_token": token})


@pytest.fixture
def enrolled(coordinator):
    return TOTPDevice.objects.create(user=coordinator, name="default", confirmed=True)


class TestSecondFactor:
    def test_a_password_only_session_gets_no_admin_page(self, client, coordinator, settings):
        # client.login() is a password check alone (axes' backend needs a request; the
        # plain one is used here so that the login itself succeeds).
        settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
        assert client.login(username="coordinadora", password=PASSWORD)
        for url in ["/admin/", "/admin/cases/case/", "/admin/accounts/securityevent/"]:
            response = client.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith("/admin/login/")

    def test_password_then_code_opens_the_admin(self, client, enrolled):
        response = enter_password(client, "coordinadora")
        assert response.status_code == 200
        assert 'name="token-otp_token"' in response.content.decode()
        response = enter_code(client, code(enrolled))
        assert response.status_code == 302 and response["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200
        assert SecurityEvent.objects.filter(kind="login", username="coordinadora").exists()

    def test_a_wrong_code_is_refused_and_logged(self, client, enrolled):
        enter_password(client, "coordinadora")
        wrong = f"{(int(code(enrolled)) + 1) % 1_000_000:06d}"
        response = enter_code(client, wrong)
        assert response.status_code == 200
        assert "token-otp_token" in response.content.decode()
        assert client.get("/admin/").status_code == 302
        assert SecurityEvent.objects.filter(kind="otp_failed", username="coordinadora").exists()

    def test_a_new_staff_member_enrolls_with_a_qr_code_then_gets_in(self, client, documentalist):
        response = enter_password(client, "documentalista")
        assert response["Location"].startswith("/account/two_factor/setup/")
        assert (
            client.get("/admin/", follow=True)
            .redirect_chain[-1][0]
            .startswith("/account/two_factor/setup/")
        )
        page = client.post(
            "/account/two_factor/setup/?next=/admin/", {"setup_view-current_step": "welcome"}
        ).content.decode()
        assert "/account/two_factor/qrcode/" in page
        qr = client.get("/account/two_factor/qrcode/")
        assert qr.status_code == 200 and qr["Content-Type"].startswith("image/svg+xml")
        secret = base64.b32decode(client.session["django_two_factor-qr_secret_key"])
        token = f"{totp(secret):06d}"
        client.post(
            "/account/two_factor/setup/?next=/admin/",
            {"setup_view-current_step": "generator", "generator-token": token},
        )
        assert TOTPDevice.objects.filter(user=documentalist, confirmed=True).exists()
        assert client.get("/admin/").status_code == 200

    def test_backup_codes_can_be_printed_and_used(self, client, client_for, coordinator):
        client_for(coordinator).post("/account/two_factor/backup/tokens/")
        device = StaticDevice.objects.get(user=coordinator)
        backup = device.token_set.first().token
        client.post("/admin/logout/")
        enter_password(client, "coordinadora")
        client.post(LOGIN, {"wizard_goto_step": "backup"})
        response = client.post(
            LOGIN, {"login_view-current_step": "backup", "backup-otp_token": backup}
        )
        assert response.status_code == 302
        assert client.get("/admin/").status_code == 200
        assert not device.token_set.filter(token=backup).exists()  # each code works once

    def test_nobody_can_switch_the_second_factor_off(self, client_for, coordinator):
        client = client_for(coordinator)
        assert client.get("/account/two_factor/disable/").status_code == 404
        profile = client.get("/account/two_factor/")
        assert profile.status_code == 200
        assert "/account/two_factor/backup/tokens/" in profile.content.decode()
        assert "/account/two_factor/" in client.get("/admin/").content.decode()

    def test_a_coordinator_resets_a_lost_device(self, enrolled, documentalist, coordinator):
        TOTPDevice.objects.create(user=documentalist, name="default", confirmed=True)
        out = io.StringIO()
        call_command("reset_2fa", "documentalista", by="coordinadora", stdout=out)
        assert not TOTPDevice.objects.filter(user=documentalist).exists()
        event = SecurityEvent.objects.get(kind="device_reset")
        assert event.user == documentalist and event.details["by"] == "coordinadora"

    def test_only_a_coordinator_may_reset_a_device(self, documentalist, reviewer):
        from django.core.management import CommandError

        with pytest.raises(CommandError):
            call_command("reset_2fa", "documentalista", by="revisora")


class TestLockout:
    def test_five_failures_lock_the_account_even_for_the_right_password(self, client, enrolled):
        for _ in range(5):
            enter_password(client, "coordinadora", "equivocada")
        response = enter_password(client, "coordinadora")
        assert response.status_code == 429
        assert "Cuenta bloqueada" in response.content.decode()
        assert 'name="token-otp_token"' not in response.content.decode()
        assert SecurityEvent.objects.filter(kind="lockout", username="coordinadora").exists()
        assert SecurityEvent.objects.filter(kind="login_failed").count() >= 5

    def test_a_coordinator_unlocks_it(self, client, enrolled):
        for _ in range(5):
            enter_password(client, "coordinadora", "equivocada")
        call_command("axes_reset_username", "coordinadora", stdout=io.StringIO())
        assert SecurityEvent.objects.filter(kind="unlock", username="coordinadora").exists()
        response = enter_password(client, "coordinadora")
        assert 'name="token-otp_token"' in response.content.decode()


class TestSecurityLog:
    def test_a_good_login_after_a_typo_is_not_logged_as_an_unlock(self, client, enrolled):
        enter_password(client, "coordinadora", "equivocada")
        enter_password(client, "coordinadora")
        enter_code(client, code(enrolled))
        assert not SecurityEvent.objects.filter(kind="unlock").exists()

    def test_permission_changes_are_logged(self, documentalist):
        documentalist.groups.add(Group.objects.get(name="Revisor"))
        event = SecurityEvent.objects.filter(kind="permission_change", user=documentalist).latest(
            "occurred_at"
        )
        assert event.details == {"action": "add", "items": ["Revisor"]}

    def test_coordinators_read_the_log_and_nobody_edits_it(self, client_for, coordinator):
        client = client_for(coordinator)
        assert client.get("/admin/accounts/securityevent/").status_code == 200
        event = SecurityEvent.objects.first()
        assert client.get(f"/admin/accounts/securityevent/{event.pk}/delete/").status_code == 403

    def test_others_cannot_read_it(self, client_for, documentalist):
        response = client_for(documentalist).get("/admin/accounts/securityevent/")
        assert response.status_code == 403

    def test_old_events_are_pruned_after_the_retention_period(self, settings, coordinator):
        import datetime

        from django.utils import timezone

        settings.SECURITY_LOG_RETENTION_DAYS = 30
        old = SecurityEvent.objects.create(
            kind="login", occurred_at=timezone.now() - datetime.timedelta(days=31)
        )
        recent = SecurityEvent.objects.create(kind="login")
        call_command("prune_security_log", stdout=io.StringIO())
        assert not SecurityEvent.objects.filter(pk=old.pk).exists()
        assert SecurityEvent.objects.filter(pk=recent.pk).exists()


class TestAccounts:
    def test_staff_accounts_are_never_deleted(self, client_for, coordinator, documentalist):
        client = client_for(coordinator)
        url = f"/admin/auth/user/{documentalist.pk}/delete/"
        assert client.post(url, {"post": "yes"}).status_code == 403
        client.post(
            "/admin/auth/user/",
            {"action": "deactivate", "_selected_action": [documentalist.pk]},
        )
        documentalist.refresh_from_db()
        assert not documentalist.is_active
        event = SecurityEvent.objects.get(kind="deactivated")
        assert event.user == documentalist and event.details["by"] == "coordinadora"

    def test_a_coordinator_cannot_make_anyone_superuser(self, client_for, coordinator):
        client = client_for(coordinator)
        page = client.get(f"/admin/auth/user/{coordinator.pk}/change/")
        assert "is_superuser" not in page.context["adminform"].form.fields
        assert User.objects.filter(is_superuser=True).count() == 0
