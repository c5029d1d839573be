from django.conf import settings
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from two_factor.views import (
    BackupTokensView,
    ProfileView,
    QRGeneratorView,
    SetupCompleteView,
    SetupView,
)

from accounts.views import LoginView
from cases.views import search_view, source_file

# two-factor-auth's pages, without its "disable two-factor" view: nobody turns it off.
two_factor_patterns = [
    path("account/login/", LoginView.as_view(), name="login"),
    path("account/two_factor/setup/", SetupView.as_view(), name="setup"),
    path("account/two_factor/qrcode/", QRGeneratorView.as_view(), name="qr"),
    path("account/two_factor/setup/complete/", SetupCompleteView.as_view(), name="setup_complete"),
    path("account/two_factor/backup/tokens/", BackupTokensView.as_view(), name="backup_tokens"),
    path("account/two_factor/", ProfileView.as_view(), name="profile"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # The language switch in every page's header (a cookie; the browser's language otherwise).
    path("i18n/", include("django.conf.urls.i18n")),
    # Browsers ask for it at the root, whatever the page says.
    path("favicon.ico", RedirectView.as_view(url=static("defensores/favicon.ico"), permanent=True)),
    path("", include((two_factor_patterns, "two_factor"))),
    # The admin's own login page would take a password alone: the wizard replaces it.
    path("admin/login/", LoginView.as_view()),
    path("admin/", admin.site.urls),
    path("nested_admin/", include("nested_admin.urls")),
    path("reports/", include("reports.urls")),
    path("legal/", include("legal.urls")),
    path("notifications/", include("notifications.urls")),
    path("sources/files/<path:name>", source_file, name="source_file"),
    path("search/", search_view, name="search"),
    path("api/v1/", include("api.urls")),
]

if settings.PUBLIC_BULLETIN:  # published months only, for anyone (reports/public.py)
    urlpatterns.append(path("boletin/", include("reports.public_urls")))
