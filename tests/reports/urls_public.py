"""The project's addresses with the public bulletin mounted, as PUBLIC_BULLETIN=1 does."""

from django.urls import include, path

from config.urls import urlpatterns as project

urlpatterns = [*project, path("boletin/", include("reports.public_urls"))]
