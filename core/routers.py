"""Reports and exports may read from a PostgreSQL streaming replica (DATABASE_REPLICA_URL).

Only code that says so reads there — inside `replica_reads()` — because a replica lags the
primary by a moment: the admin, logins, workflow checks, the changes feed and every write
stay on the primary. Without a replica configured, everything runs on the primary."""

import contextlib
import contextvars
import functools

from django.conf import settings

REPLICA = "replica"
_reading_from_replica = contextvars.ContextVar("reading_from_replica", default=False)


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


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if _reading_from_replica.get() and replica_configured():
            return REPLICA
        return None  # the primary

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"  # a streaming replica is read-only: it follows the primary
