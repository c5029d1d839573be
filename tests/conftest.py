import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from api.models import Ally
from api.services import api_key_create
from tests.hidden import Hidden, make_hidden, make_keeper
from tests.rest import bearer

MD5 = "django.contrib.auth.hashers.MD5PasswordHasher"


@pytest.fixture(scope="session")
def demo(django_db_setup, django_db_blocker):
    """The demo (load_demo), loaded once per test session. The tests that use it run last
    (pytest_collection_modifyitems below), inside one transaction rolled back at the end, so
    no other test ever sees it."""
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(DEBUG=True, PASSWORD_HASHERS=[MD5]):
            call_command("load_demo", stdout=io.StringIO())
        yield
        transaction.set_rollback(True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    # After any shuffling: the tests on the demo last, in their order.
    items.sort(key=lambda item: "demo" in getattr(item, "fixturenames", ()))


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = [MD5]
    settings.MEDIA_ROOT = tmp_path / "media"
    # Production settings redirect http:// to https://; the test client speaks plain HTTP.
    settings.SECURE_SSL_REDIRECT = False
    # Background work runs at once, when its transaction commits (capture_on_commit in the
    # tests that need it); tests/cases/intake/test_tasks.py runs it through the real queues.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _staff(username: str, group: str | None) -> User:
    # get_or_create: modules that load the demo already have its accounts.
    user = User.objects.filter(username=username).first() or User.objects.create_user(
        username, password="contraseña-de-prueba", is_staff=True
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def documentalist(db):
    return _staff("documentalista", "Documentalista")


@pytest.fixture
def reviewer(db):
    return _staff("revisora", "Revisor")


@pytest.fixture
def lawyer(db):
    return _staff("abogada", "Abogado")


@pytest.fixture
def analyst(db):
    return _staff("analista", "Analista")


@pytest.fixture
def coordinator(db):
    return _staff("coordinadora", "Coordinador")


@pytest.fixture
def outsider(db):
    return User.objects.create_user("ajeno", password="contraseña-de-prueba")


def verified_login(client, user):
    """Sign `user` in as the login wizard would after password and TOTP: a session that has
    passed the second factor."""
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="default", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def client_for(client):
    """A test client signed in (password and second factor) as the given user."""
    return lambda user: verified_login(client, user)


@pytest.fixture(autouse=True)
def _fresh_throttle():
    # Throttle counters live in the cache, which outlives a test.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ally(db):
    return Ally.objects.create(name="Red Aliada de Prueba")


@pytest.fixture
def ally_secret(ally, coordinator):
    _key, secret = api_key_create(ally=ally, user=coordinator, name="pruebas")
    return secret


@pytest.fixture
def ally_client(ally_secret):
    return bearer(ally_secret)


@pytest.fixture
def ally_client_factory(db, coordinator):
    """A REST client holding a new ally key: returns (client, key)."""

    def make(name: str = "Aliada de prueba"):
        ally = Ally.objects.filter(name=name).first() or Ally.objects.create(name=name)
        key, secret = api_key_create(ally=ally, user=coordinator)
        return bearer(secret), key

    return make


@pytest.fixture
def keeper(db):
    return make_keeper()


@pytest.fixture
def hidden(keeper) -> Hidden:
    """Something hidden from each role (tests.hidden)."""
    return make_hidden(keeper)
