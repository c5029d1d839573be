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
        # COUNT over a LIMITed subquery: stops after CAP + 1 rows, whatever the table size.
        capped = queryset.order_by()[: CAP + 1]
        if not queryset.query.where and connections[queryset.db].vendor == "postgresql":
            estimate, found = self._estimate_or_count(capped)
            if found is None:
                self.estimated = True
                return estimate
        else:
            found = capped.count()
        if found > CAP:
            self.capped = True
            return CAP
        return found

    @staticmethod
    def _estimate_or_count(capped) -> tuple[int, int | None]:
        """The planner's estimate of the table's rows, and — in the same statement, only
        when that is below ESTIMATE_FROM or unknown (-1, never analyzed) — the capped
        count. PostgreSQL runs the CASE's subquery only if its branch is taken."""
        # The list's own query, as it is (a DISTINCT or grouped list counts its rows).
        connection = connections[capped.db]
        sql, params = capped.query.get_compiler(connection=connection).as_sql()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT estimate, CASE WHEN estimate >= %s THEN NULL"
                f" ELSE (SELECT COUNT(*) FROM ({sql}) AS capped) END"  # nosec B608: compiled ORM
                " FROM (SELECT reltuples::bigint AS estimate FROM pg_class"
                " WHERE oid = %s::regclass) AS planner",
                [ESTIMATE_FROM, *params, capped.model._meta.db_table],
            )
            estimate, found = cursor.fetchone()
        return int(estimate), found
