from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def seed_profiles(sender=None, using="default", **kwargs) -> None:
    """post_migrate: one Profile row per code of the vocabulary (Profile.Code)."""
    from organizations.models import Profile

    for code in Profile.Code.values:
        Profile.objects.using(using).get_or_create(code=code)


def protect_in_notifications(sender, instance, **kwargs) -> None:
    """post_save of a defender under protection: notifications that named them show each
    reader the name that reader may see now (the pseudonym, unless on the case team)."""
    if instance.identity_protected:
        from notifications.services import names_refresh

        names_refresh(subject=str(instance.public_id), name_for=instance.name_for)


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = _("People and organizations")

    def ready(self):
        from django.db.models.signals import post_migrate, post_save

        post_migrate.connect(seed_profiles, sender=self, dispatch_uid="organizations.profiles")
        post_save.connect(
            protect_in_notifications,
            sender=self.get_model("Defender"),
            dispatch_uid="organizations.protect_in_notifications",
        )
