"""Webhooks for allies: every entry of the changes feed an ally may see (api/changes.py) is
POSTed to its registered endpoints, signed, retried with backoff and given up after
WEBHOOK_MAX_ATTEMPTS (coordinators see which). `webhooks_due`, run every minute, collects
and sends. The ally can always re-sync from changes/.

Each POST carries a JSON body {"event", "webhook", "entry"} and the headers
`X-Defensores-Event` (the event id: deliver it once, even if it comes twice) and
`X-Defensores-Signature: t=<unix seconds>,v1=<hex>`, where v1 is HMAC-SHA256 with the
webhook's secret over "<t>.<body>". A receiver recomputes it, compares in constant time,
and refuses a t older than WEBHOOK_REPLAY_WINDOW_SECONDS (docs/api.md#webhooks)."""

import contextlib
import datetime
import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from api.base import AllyUser
from api.changes import changes_page
from api.models import Webhook, WebhookDelivery
from api.rows import incident_row, shared_incidents
from cases.disclosure import ExportPolicy
from core import safe_http
from core.records import record_save

SIGNATURE_HEADER = "X-Defensores-Signature"
EVENT_HEADER = "X-Defensores-Event"
MAX_BACKOFF = datetime.timedelta(hours=6)


def url_problem(url: str) -> str | None:
    """Why deliveries may not go to `url`, in the user's language; None if they may. HTTPS
    only, and never to a loopback, private, link-local or reserved address (checked again
    at each delivery: a name may come to point elsewhere)."""
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError:
        return _("Not a valid address.")
    allowed = ("https", "http") if settings.WEBHOOKS_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        return _("The address must start with https://.")
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return None
    try:
        safe_http.checked_address(parts.hostname, port)
    except safe_http.Refused:
        return _("The address points to a private or local network: refused.")
    except safe_http.Unreachable:
        return _("The address's host name could not be found.")
    return None


def webhook_create(*, ally, url: str, user: AbstractBaseUser) -> tuple[Webhook, str]:
    """Register an ally's endpoint. Returns the webhook and its secret (shown only now)."""
    problem = url_problem(url)
    if problem:
        raise ValidationError({"url": problem})
    secret = secrets.token_urlsafe(32)
    webhook = Webhook(ally=ally, url=url, secret=secret, synced_until=timezone.now())
    record_save(webhook, user=user, reason=_("Webhook registered"))
    return webhook, secret


def _bookkeep(webhook: Webhook, **fields) -> None:
    """Where collection and delivery have got to: fields kept out of the history (Webhook's
    excluded_fields), so written without a history row each minute."""
    Webhook._base_manager.filter(pk=webhook.pk).update(**fields)
    for name, value in fields.items():
        setattr(webhook, name, value)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _digest(entry: dict) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()


def _last_queued(webhook: Webhook, record_ids: list[str]) -> dict[str, tuple[str, str]]:
    """The action and digest of the last entry queued for each record (what the ally holds
    of it), in one query."""
    last = {}
    for record_id, payload, digest in (
        WebhookDelivery.objects.filter(webhook=webhook, record_id__in=record_ids)
        .order_by("pk")
        .values_list("record_id", "payload", "digest")
    ):
        last[record_id] = (payload.get("action"), digest)
    return last


def collect(webhook: Webhook, now: datetime.datetime) -> int:
    """Queue the feed's entries since the last collection. The window overlaps the last one
    (API_CHANGES_OVERLAP_SECONDS, so that a slow transaction is never missed); an entry equal
    to the last one queued for its record is not queued twice. A record that left the
    ally's export is deleted when its last entry sent was an upsert, however soon it left.
    Only the record and its action are kept: the row itself is read when it is sent."""
    user = AllyUser.for_ally(webhook.ally)

    def held(gone):
        last = _last_queued(webhook, [str(public_id) for _pk, public_id in gone])
        return {pk for pk, public_id in gone if last.get(str(public_id), ("",))[0] == "upsert"}

    since, until, after, queued = webhook.synced_until, now, None, 0
    with transaction.atomic():
        while True:
            entries, after = changes_page(user, since, until, after, held=held)
            last = _last_queued(webhook, [entry["id"] for entry in entries])
            for entry in entries:
                digest = _digest(entry)
                action, previous = last.get(entry["id"], ("", ""))
                if previous == digest or (entry["action"] == "delete" and action == "delete"):
                    continue
                WebhookDelivery.objects.create(
                    webhook=webhook,
                    record_id=entry["id"],
                    payload={key: entry[key] for key in ("id", "record", "action")},
                    digest=digest,
                    next_attempt_at=now,
                )
                last[entry["id"]] = (entry["action"], digest)
                queued += 1
            if after is None:
                break
        overlap = datetime.timedelta(seconds=settings.API_CHANGES_OVERLAP_SECONDS)
        _bookkeep(webhook, synced_until=max(since, until - overlap))
    return queued


def entry_now(webhook: Webhook, delivery: WebhookDelivery) -> dict:
    """The entry as the ally may receive it now: an incident's row is read when it is sent
    (a name protected, a case withdrawn since it was queued is never sent); one that left
    the ally's export is a delete."""
    stored = delivery.payload
    if stored.get("record") != "incident":
        return {**stored, "incident": None}
    policy = ExportPolicy(AllyUser.for_ally(webhook.ally))
    incident = shared_incidents(policy).filter(public_id=stored["id"]).first()
    if incident is None:
        return {"id": stored["id"], "record": "incident", "action": "delete", "incident": None}
    return {
        "id": stored["id"],
        "record": "incident",
        "action": "upsert",
        "incident": incident_row(incident, policy),
    }


def post(webhook: Webhook, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST one delivery to the address that was checked; (HTTP status or None, error)."""
    problem = url_problem(webhook.url)
    if problem:
        return None, problem
    body = json.dumps(
        {
            "event": str(delivery.event_id),
            "webhook": str(webhook.pk),
            "entry": entry_now(webhook, delivery),
        },
        default=str,
    ).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Defensores-Webhooks/1",
        EVENT_HEADER: str(delivery.event_id),
        SIGNATURE_HEADER: f"t={timestamp},v1={signature(webhook.secret, timestamp, body)}",
    }
    try:
        status = safe_http.post(
            webhook.url,
            body,
            headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            trusted_private=settings.WEBHOOKS_ALLOW_PRIVATE,
        )
    except (safe_http.Refused, safe_http.Unreachable) as error:
        return None, str(error)[:300]
    return status, "" if 200 <= status < 300 else f"HTTP {status}"


def backoff(attempts: int) -> datetime.timedelta:
    """1, 2, 4, 8… minutes after each failure, at most six hours."""
    return min(datetime.timedelta(minutes=2 ** (attempts - 1)), MAX_BACKOFF)


def send_due(now: datetime.datetime) -> dict[str, int]:
    """Send what is due, in order, per webhook: a delivery waiting for its retry holds back
    the later ones of its webhook (a receiver gets each record's entries in order)."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    due = (
        WebhookDelivery.objects.filter(
            state=WebhookDelivery.State.PENDING,
            webhook__active=True,
            webhook__ally__active=True,
        )
        .select_related("webhook")
        .order_by("webhook_id", "pk")
    )
    held = set()
    for delivery in due.iterator():
        webhook = delivery.webhook
        if webhook.pk in held:
            continue
        if delivery.next_attempt_at > now:
            held.add(webhook.pk)
            continue
        later = WebhookDelivery.objects.filter(
            webhook=webhook, record_id=delivery.record_id, pk__gt=delivery.pk
        ).exclude(state=WebhookDelivery.State.REPLACED)
        if later.exists():  # a newer entry for the record will carry its state
            delivery.state = WebhookDelivery.State.REPLACED
            delivery.save(update_fields=["state"])
            continue
        status, error = post(webhook, delivery)
        delivery.attempts += 1
        delivery.last_status, delivery.last_error = status, error
        if status is not None and 200 <= status < 300:
            delivery.state, delivery.sent_at = WebhookDelivery.State.SENT, now
            _bookkeep(webhook, failing_since=None)
            counts["sent"] += 1
        elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.state = WebhookDelivery.State.FAILED
            if webhook.failing_since is None:
                _bookkeep(webhook, failing_since=now)
            counts["failed"] += 1
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
            held.add(webhook.pk)
            counts["retry"] += 1
        delivery.save()
    return counts


LOCK = 0x64656677  # one webhooks_due at a time (PostgreSQL advisory lock)


@contextlib.contextmanager
def _alone():
    """True while this is the only run (PostgreSQL); SQLite, the demo's, writes one at a
    time anyway."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK])
        alone = cursor.fetchone()[0]
    try:
        yield alone
    finally:
        if alone:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK])


def due(now: datetime.datetime | None = None) -> dict[str, int]:
    """Collect and send for every active webhook of an active ally; nothing if another run
    is at work (cron's run of a minute ago, still waiting on a slow receiver)."""
    now = now or timezone.now()
    with _alone() as alone:
        if not alone:
            return {"queued": 0, "sent": 0, "retry": 0, "failed": 0}
        queued = sum(
            collect(webhook, now)
            for webhook in Webhook.objects.filter(active=True, ally__active=True).select_related(
                "ally"
            )
        )
        return {"queued": queued, **send_due(now)}


def delivery_retry(*, delivery: WebhookDelivery) -> None:
    """A coordinator sends a given-up delivery again (its webhook's receiver is back)."""
    delivery.state, delivery.attempts = WebhookDelivery.State.PENDING, 0
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["state", "attempts", "next_attempt_at"])
