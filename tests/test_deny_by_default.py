"""Every URL requires a signed-in, second-factor-verified user unless it is listed here."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# Pages a stranger may open: the login wizard (and the root, which redirects to the admin).
PUBLIC = {"/", "/admin/login/", "/account/login/", "/admin/logout/"}


def concrete_urls(patterns=None, prefix=""):
    """One concrete URL per route, with each parameter replaced by a plausible value."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from concrete_urls(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            route = route.lstrip("^").rstrip("$").replace("\\Z", "")
            route = re.sub(r"<(?:\w+:)?(\w+)>", "1", route)
            route = re.sub(r"\(\?P<\w+>[^)]*\)", "1", route)
            if not re.search(r"[\\()\[\]*+?]", route):
                yield "/" + route


URLS = sorted(set(concrete_urls()))


def test_the_walk_finds_the_admin_and_the_login():
    assert "/admin/cases/case/" in URLS and "/account/login/" in URLS
    assert len(URLS) > 50


@pytest.mark.parametrize("url", URLS)
def test_a_stranger_gets_nothing(client, url):
    response = client.get(url)
    if url in PUBLIC:
        return
    assert response.status_code in (301, 302, 401, 403, 404, 405), url
    if response.status_code in (301, 302):
        location = response["Location"]
        assert "/login/" in location, f"{url} → {location}"
