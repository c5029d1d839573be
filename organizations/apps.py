from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def seed_profiles(sender=None, using="default", **kwargs) -> None:
    """post_migrate: one Profile row per code of the vocabulary (Profile.Code)."""
    from organizations.models import Profile

    for code in Profile.Code.values:
        Profile.objects.using(using).get_or_create(code=code)


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = _("People and organizations")

    def ready(self):
        from django.db.models.signals import post_migrate

        post_migrate.connect(seed_profiles, sender=self, dispatch_uid="organizations.profiles")
