from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

admin.site.site_header = _("Defensores — case documentation")
admin.site.site_title = _("Defensores")
admin.site.index_title = _("Case documentation")
admin.site.site_url = None  # no public site yet: hide the admin's "View site" link

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("nested_admin/", include("nested_admin.urls")),
]
