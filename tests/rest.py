"""Talking to the ally API as a client would."""

from rest_framework.test import APIClient


def bearer(secret: str) -> APIClient:
    """A REST client that sends `secret` as its API key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


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
