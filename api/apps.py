from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """The allies' read-only API: allies, their keys, the request log, the export."""

    name = "api"
    verbose_name = _("Allies' API")
