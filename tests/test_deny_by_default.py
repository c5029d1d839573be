"""Every URL requires a signed-in, second-factor-verified user (an ally's key for the API)
unless it is listed here. The walk fills each route's parameters with the keys of records
that exist, so every request reaches its view: a 404 for a record that is not there would
prove nothing."""

import datetime
import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SecurityEvent
from api.models import ApiRequest, Webhook, WebhookDelivery
from api.services import api_key_create
from cases.models import DuplicatePair, ImportBatch, IncidentExport
from legal import services as legal_services
from legal.models import Detention, LegalAction, Proceeding
from reports.services import month_publish
from tests.factories import (
    SHARED,
    CaseFactory,
    IncidentFactory,
    OrganizationFactory,
    PerpetratorFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db

# Pages a stranger may open: the login wizard, the root (a redirect to the admin) and the
# icon browsers ask for.
PUBLIC = {
    "/",
    "/admin/login/",
    "/account/login/",
    "/admin/logout/",
    "/favicon.ico",
    "/i18n/setlang/",  # the language switch: a cookie, nothing read
}
# A capability address: the secret token is the credential (a lawyer's calendar feed). With
# the real token it answers; the walk sends a guessed one, which must find nothing.
CAPABILITIES = {"legal/calendar/<str:token>.ics": "un-token-adivinado"}


def routes(patterns=None, prefix=""):
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            route = route.replace("^", "").replace("$", "").replace("\\Z", "")
            yield route.replace("\\.", ".")


@pytest.fixture
def world(coordinator, ally):
    """A record of every kind an address can name, and the value of each parameter."""
    incident = IncidentFactory(case=CaseFactory(**SHARED), type="arbitrary_detention")
    other = IncidentFactory(case=incident.case, defender=incident.defender)
    SourceFactory(case=incident.case).file.save("acta.pdf", ContentFile(b"%PDF acta"))
    detention = Detention.objects.create(incident=incident, arrested_on=datetime.date(2021, 7, 2))
    proceeding = Proceeding.objects.create(court="Tribunal")
    proceeding.incidents.add(incident)
    LegalAction.objects.create(
        kind="habeas_corpus", filed_on=datetime.date(2021, 7, 3), body="TSJ", detention=detention
    )
    batch = ImportBatch.objects.create(
        origin="Base", file_name="base.csv", sha256="0" * 64, created_by=coordinator
    )
    DuplicatePair.objects.create(first=incident, second=other)
    export = IncidentExport.objects.create(created_by=coordinator, format="csv", state="done")
    export.file.save("incidentes.csv", ContentFile(b"referencia\n"))
    OrganizationFactory()
    PerpetratorFactory()
    api_key_create(ally=ally, user=coordinator, name="pruebas")
    webhook = Webhook.objects.create(ally=ally, url="https://93.184.215.14/hook", secret="s")
    WebhookDelivery.objects.create(webhook=webhook, record_id="x", payload={}, digest="0")
    ApiRequest.objects.create(endpoint="incidents", path="/api/v1/incidents/", status_code=200)
    SecurityEvent.objects.create(kind=SecurityEvent.Kind.LOGIN_FAILED, username="x")
    TOTPDevice.objects.create(user=coordinator, name="default")
    StaticDevice.objects.create(user=coordinator, name="backup")
    AccessAttempt.objects.create(username="x", ip_address="10.0.0.1", failures_since_start=1)
    AccessLog.objects.create(username="x", ip_address="10.0.0.1")
    AccessFailureLog.objects.create(username="x", ip_address="10.0.0.1")
    month_publish(year=2021, month=7, user=coordinator)
    legal_services.calendar_token_create(user=coordinator)
    source = incident.case.sources.get()
    return {
        "importbatch/<uuid:public_id>": str(batch.public_id),
        "export/<uuid:public_id>": str(export.public_id),
        "detentions/<uuid:public_id>": str(detention.public_id),
        "<int:pk>": str(TOTPDevice.objects.get().pk),
        "<id>": str(User.objects.first().pk),
        "<int:year>": "2021",
        "<int:month>": "7",
        "<str:fmt>": "csv",
        "<slug:name>": "trend",
        "<int:version>": "1",
        "<str:status>": "in_review",
        "<path:name>": source.file.name,
        "<path:content_type_id>": str(ContentType.objects.get_for_model(incident).pk),
        "incidents/(?P<id>": str(incident.public_id),
        "cases/(?P<id>": str(incident.case.public_id),
        "defenders/(?P<id>": str(incident.defender.public_id),
        "organizations/(?P<id>": str(OrganizationFactory(name="Compartida").public_id),
        "perpetrators/(?P<id>": str(PerpetratorFactory(name="Compartido").public_id),
    }


def concrete(route: str, values: dict) -> str | None:
    """`route` with each parameter replaced by a real key; None for the admin's catch-all."""
    if "(?P<url>" in route:
        return None
    url = re.sub(r"\(\?P<app_label>[^)]*\)", "cases", route)
    for token, value in CAPABILITIES.items():
        url = url.replace(token, f"legal/calendar/{value}.ics")
    admin_object = re.match(r"admin/(\w+)/(\w+)/<path:object_id>/", url)
    if admin_object:
        model = apps.get_model(*admin_object.groups())
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"the walk has no {model._meta.label} for {route}"
        url = url.replace("<path:object_id>", str(obj.pk))
    if url.startswith("admin/r/"):
        url = url.replace("<path:object_id>", str(IncidentFactory._meta.model.objects.first().pk))
    for token, value in sorted(values.items(), key=lambda item: -len(item[0])):
        if token.startswith(("importbatch", "detentions", "export")) or "(?P<id>" in token:
            head = token.split("<")[0].split("(")[0]
            url = re.sub(
                re.escape(head) + r"(<uuid:public_id>|\(\?P<id>[^)]*\))", head + value, url
            )
        else:
            url = url.replace(token, value)
    assert "<" not in url and "(?P" not in url, f"the walk has no value for {route}"
    return "/" + url


@pytest.fixture
def urls(world):
    found = {concrete(route, world) for route in routes()}
    found.discard(None)
    return sorted(found)


def test_the_walk_reaches_every_kind_of_page(urls):
    assert "/admin/cases/case/" in urls and "/account/login/" in urls
    assert any(re.fullmatch(r"/admin/legal/detention/\d+/change/", url) for url in urls)
    assert any(re.fullmatch(r"/legal/detentions/[0-9a-f-]{36}/", url) for url in urls)
    assert any(re.fullmatch(r"/api/v1/incidents/[0-9a-f-]{36}/", url) for url in urls)
    assert len(urls) > 150


def test_a_stranger_gets_nothing(client, urls):
    answers = {}
    for url in urls:
        if url in PUBLIC:
            continue
        response = client.get(url)
        answers[url] = response.status_code
        if response.status_code in (301, 302):
            assert "/login/" in response["Location"], f"{url} → {response['Location']}"
    calendar = [url for url in answers if url.endswith(".ics")]
    assert calendar and all(answers[url] == 404 for url in calendar)
    let_through = {
        url: code
        for url, code in answers.items()
        if code not in (301, 302, 401, 403, 405) and url not in calendar
    }
    assert let_through == {}
