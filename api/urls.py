"""The API under /api/v1/: read-only, for allies (API keys) and staff (two-factor sessions)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from api.changes import ChangesView
from api.stats import MonthlyStats
from api.views import (
    CaseViewSet,
    DefenderViewSet,
    IncidentViewSet,
    OrganizationViewSet,
    PerpetratorViewSet,
)

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="api-incident")
router.register("cases", CaseViewSet, basename="api-case")
router.register("perpetrators", PerpetratorViewSet, basename="api-perpetrator")
router.register("organizations", OrganizationViewSet, basename="api-organization")
router.register("defenders", DefenderViewSet, basename="api-defender")

urlpatterns = [
    path("", include(router.urls)),
    path("changes/", ChangesView.as_view(), name="api-changes"),
    path("stats/monthly/", MonthlyStats.as_view(), name="api-stats-monthly"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view loads its script from a file, so the CSP needs no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
