import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from tests.test_settings import PRODUCTION, run

pytestmark = pytest.mark.django_db


def test_pages_are_never_cached(client_for, analyst):
    response = client_for(analyst).get("/admin/cases/case/")
    assert response.status_code == 200
    cache_control = response["Cache-Control"]
    assert "no-store" in cache_control and "private" in cache_control


def test_the_login_page_is_never_cached_either(client):
    assert "no-store" in client.get("/admin/login/")["Cache-Control"]


def test_the_content_security_policy_forbids_plugins_base_and_framing(client):
    policy = client.get("/admin/login/")["Content-Security-Policy"]
    for directive in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]:
        assert directive in policy
    assert (
        "script-src 'self'" in policy
        and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )


def test_each_request_extends_the_session_and_an_idle_one_expires(client_for, analyst):
    import datetime

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    client = client_for(analyst)
    key = client.session.session_key
    client.get("/admin/")
    expires = Session.objects.get(session_key=key).expire_date
    assert expires - timezone.now() > datetime.timedelta(minutes=29)
    assert expires - timezone.now() <= datetime.timedelta(minutes=30)
    session = Session.objects.get(session_key=key)
    session.expire_date = timezone.now() - datetime.timedelta(seconds=1)  # 30 idle minutes
    session.save()
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_production_cookies_are_host_only_and_secure():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME, s.SESSION_COOKIE_SECURE, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS)"
    )
    result = run(["-W", "ignore", "-c", code], **PRODUCTION)
    assert result.stdout.split() == [
        "__Host-sessionid",
        "__Host-csrftoken",
        "True",
        "True",
        "31536000",
    ]


@pytest.mark.parametrize("password", ["corta-1", "12345678901234", "password1234"])
def test_weak_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_long_passphrase_is_accepted():
    validate_password("caballo correcto batería grapa")
