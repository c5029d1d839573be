from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import is_ally
from api.base import LoggedMixin
from core.routers import replica_reads
from reports.selectors import (
    latest_snapshot,
    monthly_report,
    parse_period,
    still_public,
)


class CanSeeReports(BasePermission):
    """Staff who read reports (with a verified session), and allies (published months only)."""

    def has_permission(self, request, view):
        user = request.user
        if is_ally(user):
            return True
        return bool(
            user.is_authenticated and user.is_verified() and user.has_perm("reports.view_reports")
        )


class MonthlyStats(LoggedMixin, APIView):
    """GET /api/v1/stats/monthly/?month=2021-07. Staff get the month's live figures with the
    published snapshot and its revision (as `monthly_report`); allies get the figures as the
    month was last published, and 404 for a month not yet published."""

    permission_classes = [CanSeeReports]
    log_name = "stats-monthly"

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "month",
                str,
                required=True,
                pattern=r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$",
                description="YYYY-MM",
            )
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        try:
            year, month = parse_period(request.query_params.get("month", ""))
        except ValueError as error:
            raise ValidationError({"month": [str(error)]}) from None
        with replica_reads():
            return Response(self._figures(request, year, month))

    def _figures(self, request, year: int, month: int) -> dict:
        if not is_ally(request.user):
            return monthly_report(year, month)
        snapshot = latest_snapshot(year, month)
        if snapshot is None:
            raise NotFound(
                _("%(month)s has not been published.") % {"month": f"{year:04d}-{month:02d}"}
            )
        # The published bulletin, without who published it (staff names never leave). Its
        # totals include restricted and internal cases (never listed). What has stopped
        # being public since (a retracted case, a defender now protected, a perpetrator no
        # shared case names) is left out, as on the public bulletin.
        figures = still_public(snapshot.figures, year, month)
        return {
            "version": snapshot.version,
            "published_at": snapshot.published_at.isoformat(),
            "figures": figures,
        }
