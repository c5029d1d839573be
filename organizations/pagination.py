"""Admin lists over tables of a million rows.

Django's admin counts the rows of every list it shows: a full `COUNT(*)`, which at a million
incidents costs more than the page itself. Here an unfiltered list on PostgreSQL takes the
planner's estimate (pg_class.reltuples, kept fresh by autovacuum), and a filtered list counts
at most CAP matching rows; the page says "about …" or "more than …" rather than pretend."""

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

CAP = 10_000
# Below this many rows an exact count is cheap: estimates are only used above it.
ESTIMATE_FROM = 50_000


class LargeTablePaginator(Paginator):
    estimated = False  # the count is the planner's estimate
    capped = False  # more than `count` rows match

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not hasattr(queryset, "query"):
            return super().count
        if not queryset.query.where:
            estimate = self._estimate(queryset)
            if estimate is not None and estimate >= ESTIMATE_FROM:
                self.estimated = True
                return estimate
        # COUNT over a LIMITed subquery: stops after CAP + 1 rows, whatever the table size.
        found = queryset.order_by()[: CAP + 1].count()
        if found > CAP:
            self.capped = True
            return CAP
        return found

    @staticmethod
    def _estimate(queryset) -> int | None:
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
        return int(row[0]) if row and row[0] >= 0 else None  # -1: never analyzed
