"""The admin site: staff get no page until they have passed the second factor.

Its login page is accounts.views.LoginView (routed at admin/login/ in config/urls.py). Its
index is each role's home page (home.selectors); the full list of sections is at
admin/sections/, where the security internals are one "Security" section."""

from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from two_factor.admin import AdminSiteOTPRequired

from accounts.roles import role_of
from home.selectors import HOMES, reviewer_home

SECURITY_APPS = ("accounts", "axes", "otp_totp", "otp_static")
# The security section's entries, in Spanish through the catalogue (the packages have none).
SECURITY_NAMES = {
    "securityevent": _("Security log"),
    "accessattempt": _("Failed logins and locked accounts"),
    "accessfailurelog": _("Failed logins, one by one"),
    "accesslog": _("Logins"),
    "totpdevice": _("Authenticator apps"),
    "staticdevice": _("Backup codes"),
}


HOME_SECTIONS = (
    "sent_back", "drafts", "imports", "duplicates", "queue", "months", "activity",
)  # fmt: skip


class OTPAdminSite(AdminSiteOTPRequired):
    site_header = _("Defensores — case documentation")
    site_title = _("Defensores")
    index_title = _("Case documentation")
    site_url = None  # no public site yet: hide the admin's "View site" link
    # The lists need the width (the case list is cut at 1366 px beside it); the home page
    # and "All sections" lead everywhere.
    enable_nav_sidebar = False

    def get_urls(self):
        return [
            path("sections/", self.admin_view(self.sections), name="sections"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        """The role's home page: what waits for them. A lawyer's is the legal dashboard."""
        role = role_of(request.user)
        if role == "Abogado":
            return redirect("legal:dashboard")
        home = HOMES.get(role)
        context = {
            **self.each_context(request),
            **dict.fromkeys(HOME_SECTIONS),  # the template shows the sections given a value
            "title": _("Home"),
            "role": role,
            **(home(request.user) if home else {}),
            **(extra_context or {}),
        }
        if role == "Coordinador":  # coordinators review too
            context.update(reviewer_home(request.user))
        request.current_app = self.name
        return TemplateResponse(request, "admin/home.html", context)

    def sections(self, request):
        """The admin's own index: every section the user may open."""
        return super().index(request, extra_context={"title": _("All sections")})

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        security = [app for app in apps if app["app_label"] in SECURITY_APPS]
        if not security:
            return apps
        models = []
        for app in security:
            for model in app["models"]:
                model["name"] = SECURITY_NAMES.get(model["object_name"].lower(), model["name"])
                models.append(model)
        if app_label is not None:
            return apps
        section = {
            "name": _("Security"),
            "app_label": "security",
            "app_url": models[0]["admin_url"] or "",
            "has_module_perms": True,
            "models": sorted(models, key=lambda model: str(model["name"])),
        }
        return [app for app in apps if app["app_label"] not in SECURITY_APPS] + [section]
