import sys

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "config.admin.OTPAdminSite"

    def ready(self):
        super().ready()
        from config import startup  # (importing it registers the deploy check)

        startup.assert_safe_command_line(sys.argv)
