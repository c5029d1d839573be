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


def test_the_session_is_written_at_most_once_a_minute_not_on_every_page(client_for, analyst):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.middleware import IdleTimeoutMiddleware

    client = client_for(analyst)
    client.get("/admin/")

    def session_writes() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/admin/").status_code == 200
        return sum(
            1
            for q in captured.captured_queries
            if "django_session" in q["sql"] and not q["sql"].startswith("SELECT")
        )

    assert session_writes() == 0  # a page read a moment later writes nothing
    session = client.session
    session[IdleTimeoutMiddleware.KEY] -= 61  # a minute later
    session.save()
    assert session_writes() == 1  # the expiry moves on
    assert session_writes() == 0


def test_a_stale_or_forged_session_cookie_creates_no_session(client, settings):
    from django.contrib.sessions.models import Session

    for n in range(3):
        client.cookies[settings.SESSION_COOKIE_NAME] = f"forged{n:0>26}"
        client.get("/")
        client.get("/no-such-page/")
    assert Session.objects.count() == 0


def test_permissions_are_the_same_as_djangos_and_read_with_the_user(
    analyst, reviewer, coordinator, django_assert_num_queries
):
    from django.contrib.auth.backends import ModelBackend
    from django.contrib.auth.models import Group, Permission

    from accounts.backends import OneQueryModelBackend

    analyst.user_permissions.add(Permission.objects.get(codename="view_logentry"))
    nobody = type(analyst).objects.create(username="sin-permisos", is_staff=True)
    own_only = type(analyst).objects.create(username="solo-propios", is_staff=True)
    own_only.user_permissions.add(Permission.objects.get(codename="view_logentry"))
    groups_only = type(analyst).objects.create(username="solo-grupos", is_staff=True)
    groups_only.groups.add(*Group.objects.all())
    for user in (analyst, reviewer, coordinator, nobody, own_only, groups_only):
        django_model = ModelBackend()
        expected = [
            method(type(user).objects.get(pk=user.pk))
            for method in (
                django_model.get_all_permissions,
                django_model.get_user_permissions,
                django_model.get_group_permissions,
            )
        ]
        with django_assert_num_queries(1):
            fresh = OneQueryModelBackend().get_user(user.pk)
            backend = OneQueryModelBackend()
            assert [
                backend.get_all_permissions(fresh),
                backend.get_user_permissions(fresh),
                backend.get_group_permissions(fresh),
            ] == expected
    assert OneQueryModelBackend().get_all_permissions(coordinator)  # each role has some


def test_a_permission_taken_away_applies_at_the_next_page(client_for, analyst):
    client = client_for(analyst)
    assert client.get("/admin/cases/incident/").status_code == 200
    analyst.groups.clear()
    assert client.get("/admin/cases/incident/").status_code == 403


def test_the_async_sign_in_reads_the_permissions_with_the_user(reviewer, django_assert_num_queries):
    from asgiref.sync import async_to_sync
    from django.contrib.auth.backends import ModelBackend

    from accounts.backends import OneQueryModelBackend

    expected = ModelBackend().get_all_permissions(type(reviewer).objects.get(pk=reviewer.pk))
    with django_assert_num_queries(1):
        user = async_to_sync(OneQueryModelBackend().aget_user)(reviewer.pk)
        assert OneQueryModelBackend().get_all_permissions(user) == expected
    assert async_to_sync(OneQueryModelBackend().aget_user)(reviewer.pk + 1000) is None


def test_a_superuser_has_every_permission():
    from django.contrib.auth.models import Permission, User

    from accounts.backends import OneQueryModelBackend

    root = User.objects.create(username="raiz", is_superuser=True, is_staff=True)
    user = OneQueryModelBackend().get_user(root.pk)
    every = {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.all()}
    assert OneQueryModelBackend().get_all_permissions(user) == every
    assert user.has_perm("cases.verify_case") and user.has_module_perms("cases")


def test_an_inactive_or_removed_user_is_not_signed_in():
    from django.contrib.auth.models import User

    from accounts.backends import OneQueryModelBackend

    user = User.objects.create(username="inactivo", is_active=False)
    assert OneQueryModelBackend().get_user(user.pk) is None
    assert OneQueryModelBackend().get_user(user.pk + 1000) is None


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
