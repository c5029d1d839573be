from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from reports.selectors import monthly_report, parse_period


class CanSeeReports(BasePermission):
    def has_permission(self, request, view):
        return request.user.has_perm("reports.view_reports")


class MonthlyStats(APIView):
    """GET /api/v1/stats/monthly/?month=2021-07: the month's figures (as `monthly_report`)."""

    permission_classes = [*APIView.permission_classes, CanSeeReports]

    def get(self, request):
        try:
            year, month = parse_period(request.query_params.get("month", ""))
        except ValueError as error:
            raise ValidationError({"month": [str(error)]}) from None
        return Response(monthly_report(year, month))
