from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def seed_charges(sender=None, using="default", **kwargs) -> None:
    """post_migrate: one Charge row per code of the vocabulary (Charge.Code)."""
    from legal.models import Charge

    for code in Charge.Code.values:
        Charge.objects.using(using).get_or_create(code=code)


class LegalConfig(AppConfig):
    """The lawyers' tracker: detentions, court cases, hearings, legal actions, calendar."""

    name = "legal"
    verbose_name = _("Detentions and court cases")

    def ready(self):
        from django.db.models.signals import post_migrate

        post_migrate.connect(seed_charges, sender=self, dispatch_uid="legal.charges")
