"""Reports and exports may read from a PostgreSQL streaming replica (DATABASE_REPLICA_URL).

Only code that says so reads there — inside `replica_reads()` — because a replica lags the
primary by a moment: the admin, logins, workflow checks, the changes feed and every write
stay on the primary. Even there, reads go to the primary when the replica is down or more
than REPLICA_MAX_LAG_SECONDS behind, inside a transaction on the primary, and for a browser
that has just written (ReadYourWritesMiddleware). Without a replica, everything runs on
the primary."""

import contextlib
import contextvars
import functools
import logging
import math
import time

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, Error, connections

REPLICA = "replica"
logger = logging.getLogger(__name__)
_reading_from_replica = contextvars.ContextVar("reading_from_replica", default=False)
_pinned_to_primary = contextvars.ContextVar("pinned_to_primary", default=False)


@contextlib.contextmanager
def replica_reads():
    """Reads inside this block go to the replica when one is configured."""
    token = _reading_from_replica.set(True)
    try:
        yield
    finally:
        _reading_from_replica.reset(token)


def reads_from_replica(view):
    """A view whose queries may run on the replica. Put it innermost, under the access
    decorators: who may see what is always decided on the primary."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        with replica_reads():
            return view(*args, **kwargs)

    return wrapped


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


# Whether the replica has replayed the WAL the primary had written a moment before, and how
# long ago the last transaction it replayed was committed: on an idle primary that grows
# for ever, so it only counts while the replica is behind.
_REPLICA_STATE = """
SELECT pg_is_in_recovery(),
       pg_last_wal_replay_lsn() >= %s::pg_lsn,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())
"""


class ReplicaHealth:
    """Whether the replica is up, still a standby, and at most REPLICA_MAX_LAG_SECONDS
    behind. Each process keeps a verdict for a moment, so that a report does not pay two
    queries per read for it; an unusable replica is retried less often, since a host that
    does not answer costs a connection timeout."""

    keep_usable = 1.0
    keep_unusable = 5.0

    def __init__(self):
        self._usable = None  # not asked yet
        self._until = -math.inf

    def usable(self) -> bool:
        if time.monotonic() >= self._until:
            usable, why = self._check()
            if not usable and self._usable is not False:
                logger.warning("Replica not used, reads go to the primary: %s", why)
            elif usable and self._usable is False:
                logger.info("Replica back in use")
            self._usable = usable
            keep = self.keep_usable if usable else self.keep_unusable
            self._until = time.monotonic() + keep
        return self._usable

    def forget(self) -> None:
        """Check again at the next read (tests that stop or pause the replica)."""
        self._until = -math.inf

    def _check(self) -> tuple[bool, str]:
        # The primary's position first: a replica that has replayed up to it is caught up.
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()")
            (primary_lsn,) = cursor.fetchone()
        try:
            with connections[REPLICA].cursor() as cursor:
                cursor.execute(_REPLICA_STATE, [primary_lsn])
                standby, caught_up, lag = cursor.fetchone()
        except Error as error:
            connections[REPLICA].close()  # the next check connects anew
            return False, f"unreachable ({str(error).strip()})"
        if not standby:
            return False, "it is not a standby (promoted?)"
        if caught_up:
            return True, ""
        if lag is None:
            return False, "behind, for how long unknown"
        if lag > settings.REPLICA_MAX_LAG_SECONDS:
            return False, f"{lag:.1f} s behind"
        return True, ""


replica_health = ReplicaHealth()


def replica_usable() -> bool:
    """Whether a read asked of the replica may go there now."""
    return (
        replica_configured()
        and not _pinned_to_primary.get()
        # Inside a transaction on the primary the replica cannot see what it has written.
        and not connections[DEFAULT_DB_ALIAS].in_atomic_block
        and replica_health.usable()
    )


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if _reading_from_replica.get() and replica_usable():
            return REPLICA
        return None  # the primary

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"  # a streaming replica is read-only: it follows the primary


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_PIN_SALT = "core.routers.pin"


def pin_cookie_name() -> str:
    # "__Host-" like the session's cookie: HTTPS only, this host only.
    return "__Host-replica_pin" if settings.SESSION_COOKIE_SECURE else "replica_pin"


class ReadYourWritesMiddleware:
    """After a request that may have written (any method but GET, HEAD, OPTIONS, TRACE), the
    same browser reads from the primary for REPLICA_PIN_SECONDS, so that the next page shows
    what it has just saved, whatever the replica's lag. A signed cookie carries the pin: no
    session write, no query."""

    def __init__(self, get_response):
        if not replica_configured():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        writes = request.method not in _SAFE_METHODS
        pinned = writes or self._pinned(request)
        token = _pinned_to_primary.set(pinned)
        try:
            response = self.get_response(request)
        finally:
            _pinned_to_primary.reset(token)
        if writes:
            response.set_signed_cookie(
                pin_cookie_name(),
                "1",
                salt=_PIN_SALT,
                max_age=settings.REPLICA_PIN_SECONDS,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        if pinned and response.streaming and not response.is_async:
            response.streaming_content = _pinned_chunks(response.streaming_content)
        return response

    def _pinned(self, request) -> bool:
        value = request.get_signed_cookie(
            pin_cookie_name(), default=None, salt=_PIN_SALT, max_age=settings.REPLICA_PIN_SECONDS
        )
        return value is not None


_END = object()


def _pinned_chunks(chunks):
    """A streamed response is read after the middleware has returned (an export fetches its
    rows as it sends them): pin each step to the primary too."""
    chunks = iter(chunks)
    while True:
        token = _pinned_to_primary.set(True)
        try:
            chunk = next(chunks, _END)
        finally:
            _pinned_to_primary.reset(token)
        if chunk is _END:
            return
        yield chunk
