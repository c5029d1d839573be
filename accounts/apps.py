from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Staff accounts and security")

    def ready(self):
        from django.db.models.signals import post_migrate

        from accounts import signals  # noqa: F401  (connects the security-log receivers)
        from accounts.roles import apply_roles

        post_migrate.connect(apply_roles, sender=self, dispatch_uid="accounts.apply_roles")
