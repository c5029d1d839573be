from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "config.admin.OTPAdminSite"

    def ready(self):
        super().ready()
        from config import startup  # noqa: F401  (registers the deploy check)
