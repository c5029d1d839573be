"""Long lists of values in queries, a batch at a time."""

from collections.abc import Iterable, Iterator

from django.db import connections
from django.db.models import F, Lookup, Q, QuerySet


class AnyOf(Lookup):
    """`field = ANY(%s)`, the values as one array parameter (PostgreSQL). With thousands of
    values, Django and the driver otherwise spend longer on the list, value by value, than
    the database on the query (make bench, B1 and B4). Used as an expression, never
    registered: no URL can reach it."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection) for value in self.rhs]
        return f"{lhs} = ANY(%s)", [*lhs_params, values]


def among(field: str, values: list, vendor: str) -> Q | AnyOf:
    """`<field>__in=values`, as one array parameter on PostgreSQL."""
    return AnyOf(F(field), values) if vendor == "postgresql" else Q(**{f"{field}__in": values})


def in_batches(queryset: QuerySet, field: str, values: Iterable, size: int) -> Iterator[QuerySet]:
    """`queryset.filter(<field>__in=values)`, `size` values per query, in the order of
    `values`: a file's thousands of names or ids never make one huge statement. `values` are
    the field's values (ids, keys, uuids), not model instances."""
    values = list(values)
    vendor = connections[queryset.db].vendor
    for start in range(0, len(values), size):
        yield queryset.filter(among(field, values[start : start + size], vendor))
