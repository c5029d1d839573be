"""Webhooks for allies, against a local HTTP receiver: each entry of the changes feed the
ally may see arrives signed; a 500 is retried with backoff; a delivery is given up after
WEBHOOK_MAX_ATTEMPTS and coordinators see it; a restricted or internal case never leaves."""

import datetime
import hashlib
import hmac
import http.server
import json
import threading

import pytest
from django.utils import timezone

from api import webhooks
from api.models import Webhook, WebhookDelivery
from cases import services as case_services
from cases.models import Case
from tests.factories import SHARED, CaseFactory, DefenderFactory, IncidentFactory

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP server that records each POST and answers with the next scripted
    status (then 200)."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.received = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def entries(self) -> list[dict]:
        return [json.loads(body)["entry"] for _headers, body in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def local(settings):
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    receivers = []

    def make(statuses=()):
        receiver = Receiver(statuses)
        receivers.append(receiver)
        return receiver

    yield make
    for receiver in receivers:
        receiver.close()


@pytest.fixture
def hook(local, ally, coordinator):
    def make(statuses=()):
        receiver = local(statuses)
        webhook, secret = webhooks.webhook_create(
            ally=ally.ally if hasattr(ally, "ally") else ally, url=receiver.url, user=coordinator
        )
        return receiver, webhook, secret

    return make


def later(minutes=0):
    return timezone.now() + datetime.timedelta(minutes=minutes, seconds=1)


def test_only_what_the_ally_may_see_arrives_signed(hook):
    receiver, webhook, secret = hook()
    shared = IncidentFactory(case=CaseFactory(title="Compartido", **SHARED))
    for status, confidentiality in [
        ("published", "internal"),
        ("published", "restricted"),
        ("verified", "public"),
        ("draft", "public"),
    ]:
        IncidentFactory(
            case=CaseFactory(
                title=f"CENTINELA {status} {confidentiality}",
                status=status,
                confidentiality=confidentiality,
            ),
            description="CENTINELA",
        )
    counts = webhooks.due(later())
    assert counts["sent"] == 1
    [(headers, body)] = receiver.received
    assert b"CENTINELA" not in body
    entry = json.loads(body)["entry"]
    assert (entry["id"], entry["action"]) == (str(shared.public_id), "upsert")
    # The signature: HMAC-SHA256 of "<t>.<body>" with the webhook's secret.
    fields = dict(part.split("=", 1) for part in headers["X-Defensores-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(fields["v1"], expected.hexdigest())
    assert abs(int(fields["t"]) - timezone.now().timestamp()) < 60
    assert headers["X-Defensores-Event"] == json.loads(body)["event"]
    # Nothing new: nothing sent again (the overlapping window does not repeat an entry).
    assert webhooks.due(later())["sent"] == 0 and len(receiver.received) == 1


def test_a_500_is_retried_with_backoff(hook):
    receiver, webhook, _secret = hook(statuses=[500])
    IncidentFactory(case=CaseFactory(**SHARED))
    first = webhooks.due(later())
    assert (first["sent"], first["retry"]) == (0, 1)
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 1 and delivery.last_status == 500
    assert webhooks.due(later())["sent"] == 0  # not before its next attempt
    assert webhooks.due(later(minutes=2))["sent"] == 1
    events = {json.loads(body)["event"] for _headers, body in receiver.received}
    assert len(receiver.received) == 2 and len(events) == 1  # the same event, twice
    delivery.refresh_from_db()
    assert delivery.state == "sent"


def test_given_up_after_the_last_try_and_shown_to_coordinators(
    hook, settings, client_for, coordinator
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver, webhook, _secret = hook(statuses=[500, 503])
    IncidentFactory(case=CaseFactory(**SHARED))
    webhooks.due(later())
    webhooks.due(later(minutes=5))
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("failed", 2, 503)
    webhook.refresh_from_db()
    assert webhook.failing_since is not None
    page = client_for(coordinator).get("/admin/api/webhook/").content.decode()
    assert receiver.url in page
    listed = client_for(coordinator).get("/admin/api/webhookdelivery/?state=failed")
    assert str(delivery.event_id)[:8] in listed.content.decode() or listed.status_code == 200
    # Sent again once the receiver is back, and the webhook no longer failing.
    webhooks.delivery_retry(delivery=delivery)
    assert webhooks.due(later(minutes=6))["sent"] == 1
    webhook.refresh_from_db()
    assert webhook.failing_since is None


def test_a_retracted_case_is_sent_as_a_delete(hook, reviewer, settings):
    # Without the windows' overlap (a delete is sent once a window starts while the ally
    # held the record: with the overlap, some minutes later, as the feed itself).
    settings.API_CHANGES_OVERLAP_SECONDS = 0
    receiver, _webhook, _secret = hook()
    incident = IncidentFactory(case=CaseFactory(**SHARED))
    webhooks.due(timezone.now())
    case_services.case_retract(case=incident.case, user=reviewer, reason="Fuente desmentida")
    webhooks.due(later(minutes=1))
    assert [(e["id"], e["action"]) for e in receiver.entries()] == [
        (str(incident.public_id), "upsert"),
        (str(incident.public_id), "delete"),
    ]


def test_only_https_and_public_addresses(settings):
    settings.WEBHOOKS_ALLOW_HTTP = False
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    assert webhooks.url_problem("http://example.org/hook") is not None
    for url in (
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/hook",
        "https://localhost/hook",
    ):
        assert "privada o local" in webhooks.url_problem(url), url
    assert webhooks.url_problem("https://93.184.215.14/hook") is None


def test_a_coordinator_registers_one_and_sees_the_secret_once(client_for, coordinator, ally):
    the_ally = ally.ally if hasattr(ally, "ally") else ally
    client = client_for(coordinator)
    refused = client.post(
        "/admin/api/webhook/add/", {"ally": the_ally.pk, "url": "https://10.1.2.3/x"}
    )
    assert refused.status_code == 200 and "privada o local" in refused.content.decode()
    assert not Webhook.objects.exists()
    settings_public = "https://93.184.215.14/hook"
    created = client.post("/admin/api/webhook/add/", {"ally": the_ally.pk, "url": settings_public})
    page = created.content.decode()
    webhook = Webhook.objects.get()
    assert webhook.secret in page  # once, on this page
    assert (
        webhook.secret
        not in client.get(f"/admin/api/webhook/{webhook.pk}/change/").content.decode()
    )
    assert webhook.history.count() == 1 and not hasattr(webhook.history.first(), "secret")
    # The same form sent again (a reload) registers nothing twice.
    again = client.post("/admin/api/webhook/add/", {"ally": the_ally.pk, "url": settings_public})
    assert "ya tiene un webhook en esta dirección" in again.content.decode()
    assert Webhook.objects.count() == 1


def test_others_may_not_see_webhooks(client_for, reviewer):
    assert client_for(reviewer).get("/admin/api/webhook/").status_code == 403


def test_nothing_reaches_an_inactive_ally(hook, ally):
    receiver, webhook, _secret = hook()
    the_ally = webhook.ally
    the_ally.active = False
    the_ally.save()
    IncidentFactory(case=CaseFactory(**SHARED))
    webhooks.due(later())
    assert receiver.received == []
    assert Case.objects.count() == 1


def test_a_name_protected_while_a_delivery_waits_never_leaves(hook):
    receiver, _webhook, _secret = hook(statuses=[500])
    person = DefenderFactory(full_name="Nombre REVELADO")
    IncidentFactory(case=CaseFactory(**SHARED), defender=person)
    webhooks.due(later())  # the receiver was down
    person.identity_protected = True
    person.save()
    webhooks.due(later(minutes=3))  # the retry reads the row as it is now
    assert "REVELADO" not in receiver.received[-1][1].decode()


def test_a_case_withdrawn_soon_after_it_was_sent_is_deleted(ally, reviewer):
    start = timezone.now()
    webhook = Webhook.objects.create(
        ally=ally,
        url="https://93.184.215.14/h",
        secret="s",
        synced_until=start - datetime.timedelta(minutes=10),
    )
    case = CaseFactory(**SHARED)
    IncidentFactory(case=case)
    webhooks.collect(webhook, start + datetime.timedelta(seconds=5))
    case_services.case_retract(case=case, user=reviewer, reason="publicado por error")
    for minute in range(1, 8):  # the following runs, one a minute, overlapping
        webhooks.collect(webhook, start + datetime.timedelta(seconds=5 + 60 * minute))
    actions = [d.payload["action"] for d in WebhookDelivery.objects.order_by("pk")]
    assert actions == ["upsert", "delete"]  # once each
