"""The admin site: staff get no page until they have passed the second factor.

Its login page is accounts.views.LoginView (routed at admin/login/ in config/urls.py)."""

from django.utils.translation import gettext_lazy as _
from two_factor.admin import AdminSiteOTPRequired


class OTPAdminSite(AdminSiteOTPRequired):
    site_header = _("Defensores — case documentation")
    site_title = _("Defensores")
    index_title = _("Case documentation")
    site_url = None  # no public site yet: hide the admin's "View site" link
