import pytest
from django.core.cache import cache

from api.models import Ally
from api.services import api_key_create
from tests.conftest import bearer


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


def pages(client, url, **params):
    """Every row of a cursor-paginated list, following `next` to the end."""
    rows, response = [], client.get(url, params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        if not body["next"]:
            return rows
        response = client.get(body["next"])
