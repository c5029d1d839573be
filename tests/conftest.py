import pytest
from django.contrib.auth.models import Group, User


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"


def _staff(username: str, group: str | None) -> User:
    user = User.objects.create_user(username, password="contraseña-de-prueba", is_staff=True)
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


@pytest.fixture
def client_for(client):
    """A test client logged in as the given user."""

    def login(user):
        client.force_login(user)
        return client

    return login
