"""Keeps "nothing lost, everything audited" true for writes made through the ORM.

django-simple-history writes a history row from the model's save/delete signals.
QuerySet.update(), bulk_create() and bulk_update() send no such signal, so on an
audited model they would change data without a trace. Audited models use this
queryset, which refuses them; write through the services instead.
"""

import datetime
import functools
import hashlib
import hmac
import json
import uuid

from django.conf import settings
from django.db import connection, connections, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class AuditBypassError(RuntimeError):
    pass


class Versioned(models.Model):
    """A record people edit: every save raises its version, and a save of an older copy is
    refused (core.records.record_save), so nobody silently overwrites a colleague."""

    version = models.PositiveIntegerField(
        gettext_lazy("version"),
        default=1,
        editable=False,
        help_text=gettext_lazy("Raised by every save."),
    )

    class Meta:
        abstract = True


def is_versioned(model) -> bool:
    """Whether `model` (a class or an instance) is a Versioned record."""
    return issubclass(model if isinstance(model, type) else type(model), Versioned)


class AuditedQuerySet(models.QuerySet):
    def _refuse(self, operation: str):
        raise AuditBypassError(
            f"{self.model.__name__}.objects.{operation}() would skip the audit history. "
            "Save each object through its service (e.g. cases.services) instead."
        )

    def update(self, **kwargs):
        self._refuse("update")

    def bulk_create(self, objs, *args, **kwargs):
        self._refuse("bulk_create")

    def bulk_update(self, objs, fields, *args, **kwargs):
        self._refuse("bulk_update")


_AS_THEY_ARE = frozenset({str, int, bool, type(None)})
# What json.dumps(…, sort_keys=True, default=str, ensure_ascii=False) would make per call, made
# once. sort_keys sorts every level: a snapshot's nested figures too.
_PAYLOAD_ENCODER = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False)


def _canonical(value):
    """The same text for a value whether it was just written or read back: datetimes in UTC
    (a form gives local time, the database returns UTC), files by name."""
    if type(value) in _AS_THEY_ARE:
        return value
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.UTC).isoformat()
    if hasattr(value, "name") and hasattr(value, "storage"):  # FieldFile
        return value.name or ""
    return value


def chain_keys() -> list[bytes]:
    """AUDIT_CHAIN_KEYS, newest first: the first chains new rows, all verify old ones."""
    return [key.encode() for key in settings.AUDIT_CHAIN_KEYS]


def _newest_hash(model) -> str:
    rows = model._default_manager.order_by(f"-{model._meta.pk.attname}")
    return rows.values_list("history_hash", flat=True).first() or ""


class ChainedHistoryQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        """Chains the rows as save() would, in one table lock: simple-history writes a
        many-to-many field's history rows (a case's team, a court case's defendants) this
        way."""
        objs = list(objs)
        if not objs:
            return objs
        model = self.model
        with transaction.atomic(using=self.db):
            _lock_history_table(model._meta.db_table)
            previous = _newest_hash(model)
            for obj in objs:
                obj.history_previous_hash = previous
                obj.history_hash = previous = obj.chain_hash(previous)
            created = super().bulk_create(objs, *args, **kwargs)
            _refuse_unordered([obj.pk for obj in created])
        return created


def _refuse_unordered(ids: list) -> None:
    # The chain is read in key order: the database must have numbered the rows in the order
    # they were chained, or the write is refused (and rolled back).
    if None in ids or ids != sorted(ids) or len(set(ids)) != len(ids):
        raise AuditBypassError("History rows were not numbered in order: batch refused.")


class ChainedHistory(models.Model):
    """Base of every history model (many-to-many ones included): each row carries an
    HMAC-SHA-256, under a key kept outside the database (AUDIT_CHAIN_KEYS), over its values
    and the previous row's hash. A row changed, removed or inserted by someone without the
    key breaks the chain; rows removed from the end are found against the heads
    `verify_audit` anchors in the security log. Values are hashed decrypted, so rotating
    the field encryption keys keeps the chain intact."""

    history_previous_hash = models.CharField(max_length=64, editable=False, default="")
    history_hash = models.CharField(max_length=64, editable=False, default="")

    NOT_HASHED = frozenset({"history_hash", "history_previous_hash"})

    objects = ChainedHistoryQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditBypassError("History rows are never changed.")
        # One writer at a time per history table, or two rows would claim the same parent.
        with transaction.atomic():
            _lock_history_table(self._meta.db_table)
            previous = _newest_hash(type(self))
            self.history_previous_hash = previous
            self.history_hash = self.chain_hash(previous)
            super().save(*args, **kwargs)

    def chain_payload(self) -> bytes:
        return self.payload_of(
            {field.attname: field.value_from_object(self) for field in self._meta.concrete_fields}
        )

    def chain_hash(self, previous: str, key: bytes | None = None) -> str:
        return self.hash_of(self.chain_payload(), previous, key)

    def chain_holds(self, previous: str, keys: list[bytes]) -> bool:
        """Whether this row's hash is its values' and `previous`'s under one of `keys`."""
        payload = self.chain_payload()
        return any(
            hmac.compare_digest(self.history_hash, self.hash_of(payload, previous, key))
            for key in keys
        )

    @classmethod
    def payload_of(cls, values: dict) -> bytes:
        """The hashed text of a row given as {attname: value} (every concrete field but the
        key and the hashes): its values as JSON, keys sorted at every level — the text of
        json.dumps(…, sort_keys=True, default=str, ensure_ascii=False), made with one
        encoder."""
        hashed = {name: _canonical(values[name]) for name in cls._hashed_attnames()}
        for name, older in cls._added_later().items():
            if hashed.get(name) == older:
                del hashed[name]
        return _PAYLOAD_ENCODER.encode(hashed).encode()

    @classmethod
    @functools.cache
    def _added_later(cls) -> dict[str, object]:
        """Fields the tracked model gained after rows of this history were chained, with the
        value those rows were given (the model's HISTORY_ADDED_LATER): hashed only when they
        hold something else, so that the older rows still verify."""
        added = getattr(getattr(cls, "instance_type", None), "HISTORY_ADDED_LATER", {})
        return {name: _canonical(value) for name, value in added.items()}

    @classmethod
    @functools.cache
    def _hashed_attnames(cls) -> tuple[str, ...]:
        skipped = cls.NOT_HASHED | {cls._meta.pk.attname}
        return tuple(f.attname for f in cls._meta.concrete_fields if f.attname not in skipped)

    @staticmethod
    def hash_of(payload: bytes, previous: str, key: bytes | None = None) -> str:
        message = previous.encode() + b"\n" + payload
        return hmac.new(key or chain_keys()[0], message, hashlib.sha256).hexdigest()


def _lock_history_table(table: str) -> None:
    """One writer at a time per history table (PostgreSQL; SQLite writes one at a time)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [table])


@transaction.atomic
def bulk_create_with_history(
    objs: list[models.Model], *, user, reason: str, batch_size: int = 1000
) -> list[models.Model]:
    """Insert many new objects of one audited model and their "created" history rows, the
    chain computed here for the whole batch under one table lock: the only bulk path, for
    imports. On PostgreSQL both go in with COPY (ids reserved from the sequences first, the
    history's in chain order); elsewhere two INSERTs per `batch_size` objects. The values
    written, hashed and read back are the same either way.

    The caller has validated the objects (full_clean without the per-object queries)."""
    if not objs:
        return []
    model = type(objs[0])
    if any(type(obj) is not model or obj.pk is not None for obj in objs):
        raise AuditBypassError("bulk_create_with_history takes new objects of one model.")
    if hasattr(model, "set_name_keys"):  # what save() would have done (NameKeysModel)
        for obj in objs:
            obj.set_name_keys()
    if connection.vendor == "postgresql":
        _copy_objects(model, objs)
    else:
        # The plain QuerySet: AuditedQuerySet refuses bulk_create to everyone else.
        models.QuerySet(model).bulk_create(objs, batch_size=batch_size)
    if any(obj.pk is None for obj in objs):
        raise AuditBypassError("The database returned no keys: the history cannot be written.")

    history_model = model.history.model
    given = {
        "history_date": timezone.now(),
        "history_type": "+",
        "history_user_id": user.pk if user is not None else None,
        "history_change_reason": reason,
    }
    tracked = [field.attname for field in history_model.tracked_fields]
    # What the history model's __init__ gives the fields it is not passed.
    defaults = {
        field.attname: field.get_default()
        for field in history_model._meta.concrete_fields
        if field.attname not in given and field.attname not in tracked
    }
    _lock_history_table(history_model._meta.db_table)
    previous, key = _newest_hash(history_model), chain_keys()[0]
    rows = []
    for obj in objs:
        values = {**defaults, **given, **{name: getattr(obj, name) for name in tracked}}
        values["history_previous_hash"] = previous
        payload = history_model.payload_of(values)
        values["history_hash"] = previous = history_model.hash_of(payload, previous, key)
        rows.append(values)
    if connection.vendor == "postgresql":
        _copy_rows(history_model, rows)
        return objs
    written = models.QuerySet(history_model).bulk_create(
        [history_model(**values) for values in rows], batch_size=batch_size
    )
    _refuse_unordered([row.history_id for row in written])
    return objs


# Values psycopg writes exactly as Django's own conversion on PostgreSQL would: passed as
# they are (a datetime only with its time zone).
_PLAIN_FIELDS = (
    models.AutoField,
    models.BigAutoField,
    models.BigIntegerField,
    models.BooleanField,
    models.CharField,
    models.DateField,
    models.DateTimeField,
    models.ForeignKey,
    models.IntegerField,
    models.PositiveIntegerField,
    models.TextField,
    models.UUIDField,
)
_PLAIN_VALUES = (str, int, bool, type(None), datetime.date, uuid.UUID)


def _writer(field):
    """field's value → what COPY writes (Django's conversion, unless the value is plain)."""
    real = connections[connection.alias]  # not the proxy: one attribute lookup less per value
    if type(field) not in _PLAIN_FIELDS:
        return lambda value: field.get_db_prep_save(value, real)

    timestamps = isinstance(field, models.DateTimeField)

    def write(value):
        if type(value) in _PLAIN_VALUES:
            return value
        if timestamps and type(value) is datetime.datetime and value.tzinfo is not None:
            return value
        return field.get_db_prep_save(value, real)

    return write


def _reserve_ids(model, pk_field, count: int) -> list[int]:
    """`count` ids from the table's sequence, ascending, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, pk_field.column, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def _copy(model, fields, rows) -> None:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    # psycopg's own cursor (Django's has no copy()); its errors as Django's (IntegrityError).
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.connection.cursor().copy(
            f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)


def _copy_objects(model, objs: list[models.Model]) -> None:
    """PostgreSQL: what QuerySet.bulk_create does (pre_save, e.g. auto_now; conversions),
    with ids reserved first and the rows sent with COPY."""
    meta = model._meta
    fields = meta.concrete_fields
    pre_save = [type(f).pre_save is not models.Field.pre_save for f in fields]
    writers = [_writer(field) for field in fields]
    for obj, pk in zip(objs, _reserve_ids(model, meta.pk, len(objs)), strict=True):
        obj._prepare_related_fields_for_save(operation_name="bulk_create")
        obj.pk = pk

    def rows():
        for obj in objs:
            yield [
                write(field.pre_save(obj, True) if saved else getattr(obj, field.attname))
                for field, saved, write in zip(fields, pre_save, writers, strict=True)
            ]
            obj._state.adding, obj._state.db = False, connection.alias

    _copy(model, fields, rows())


def _copy_rows(history_model, rows: list[dict]) -> None:
    """PostgreSQL: history rows given as {attname: value}, numbered in their order."""
    meta = history_model._meta
    fields = meta.concrete_fields
    writers = [_writer(field) for field in fields]
    for values, pk in zip(rows, _reserve_ids(history_model, meta.pk, len(rows)), strict=True):
        values[meta.pk.attname] = pk
    _copy(
        history_model,
        fields,
        (
            [write(values[f.attname]) for f, write in zip(fields, writers, strict=True)]
            for values in rows
        ),
    )


def chained_history_models() -> list[type[ChainedHistory]]:
    from django.apps import apps

    return [model for model in apps.get_models() if issubclass(model, ChainedHistory)]


def first_broken_row(
    model: type[ChainedHistory], *, after: tuple[int, str] | None = None
) -> tuple[int, str] | None:
    """The first row of a history table whose chain does not hold, and why; None if intact.
    `after`: (key, hash) of a row already verified (an anchored head): only the rows after
    it are read."""
    keys = chain_keys()
    pk = model._meta.pk.attname
    rows = model._default_manager.order_by(pk)
    previous = ""
    if after is not None:
        rows = rows.filter(**{f"{pk}__gt": after[0]})
        previous = after[1]
    for row in rows.iterator(chunk_size=2000):
        if row.history_previous_hash != previous:
            return row.pk, _("a row before it was removed, added or reordered")
        if not row.chain_holds(previous, keys):
            return row.pk, _("its values were changed after it was written")
        previous = row.history_hash
    return None


def table_heads() -> dict[str, dict]:
    """Each history table's size and newest row: what an anchor records."""
    heads = {}
    for model in chained_history_models():
        pk = model._meta.pk.attname
        newest = model._default_manager.order_by(f"-{pk}").values_list(pk, "history_hash").first()
        heads[model._meta.db_table] = {
            "rows": model._default_manager.count(),
            "last_id": newest[0] if newest else None,
            "last_hash": newest[1] if newest else "",
        }
    return heads


def anchor_signature(heads: dict, at: str, key: bytes | None = None) -> str:
    """HMAC of an anchor (its heads and its time) under the chain's key: an anchor written
    into the security log by anyone without the key does not verify."""
    text = json.dumps({"at": at, "heads": heads}, sort_keys=True).encode()
    return hmac.new(key or chain_keys()[0], text, hashlib.sha256).hexdigest()


def anchor_holds(heads: dict, at: str, signature: str) -> bool:
    return any(
        hmac.compare_digest(signature, anchor_signature(heads, at, key)) for key in chain_keys()
    )


def lost_tail(model: type[ChainedHistory], anchored: dict) -> tuple[int, str] | None:
    """Whether rows the table had when it was anchored are gone: its newest row then must
    still be there, unchanged, with as many rows up to it."""
    if anchored.get("last_id") is None:
        return None
    pk = model._meta.pk.attname
    rows = model._default_manager
    stored = rows.filter(**{pk: anchored["last_id"]}).values_list("history_hash", flat=True)
    stored = stored.first()
    if stored is None:
        return anchored["last_id"], _(
            "this row, the newest when the chain was last anchored, is missing: rows at the "
            "end of the table were removed"
        )
    if stored != anchored["last_hash"]:
        return anchored["last_id"], _("this row differs from the one anchored")
    if rows.filter(**{f"{pk}__lte": anchored["last_id"]}).count() < anchored["rows"]:
        return anchored["last_id"], _("rows up to this one were removed since it was anchored")
    return None


# PostgreSQL: the role whose members alone may rewrite history rows in place (re-encryption by
# rotate_field_keys); the append-only triggers refuse everyone else, the application included
# (core/migrations/0001_postgresql.py).
REWRITER_ROLE = "defensores_history_rewriter"


def database_role_warnings() -> list[str]:
    """On PostgreSQL, whether the account this runs as could undo the protections: a
    superuser or a role that creates roles can switch the triggers off or grant itself the
    rewriter role, and a table's owner can drop its trigger."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        powerful = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE tableowner = current_user AND tablename LIKE %s",
            ["%historical%"],
        )
        owns = cursor.fetchone()[0]
    if not (powerful or owns):
        return []
    return [
        _(
            "The database account %(role)s can switch off the history's protections (it is a "
            "superuser, creates roles or owns the history tables): run the application as an "
            "account that owns no table, and migrations as another (see docs/security.md)."
        )
        % {"role": connection.settings_dict["USER"] or "?"}
    ]
