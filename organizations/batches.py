"""Long lists of values in queries, a batch at a time."""

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet


def in_batches(queryset: QuerySet, field: str, values: Iterable, size: int) -> Iterator[QuerySet]:
    """`queryset.filter(<field>__in=values)`, `size` values per query, in the order of
    `values`: a file's thousands of names or ids never make one huge statement."""
    values = list(values)
    for start in range(0, len(values), size):
        yield queryset.filter(**{f"{field}__in": values[start : start + size]})
