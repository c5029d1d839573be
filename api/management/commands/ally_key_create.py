from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models.functions import Lower

from api.models import Ally
from api.services import api_key_create
from core.records import record_save


class Command(BaseCommand):
    help = (
        "Create an API key for an allied organization (created if new) and print it once: "
        "only its hash is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("ally", help="The ally's name, e.g. “Red de Defensores del Sur”.")
        parser.add_argument("--days", type=int, default=365, help="Validity (default 365).")
        parser.add_argument("--label", default="", help="What the key is for.")
        parser.add_argument(
            "--by", required=True, help="The coordinator creating it (recorded in the history)."
        )

    def handle(self, *args, ally, days, label, by, **options):
        user = get_user_model().objects.filter(username=by, is_active=True).first()
        if user is None or not user.has_perm("api.add_apikey"):
            raise CommandError(f"{by!r} is not an active user who may create API keys.")
        if days < 1:
            raise CommandError("--days must be at least 1.")
        existing = Ally.objects.annotate(lower=Lower("name")).filter(lower=ally.lower()).first()
        if existing is None:
            existing = Ally(name=ally)
            record_save(existing, user=user, reason="Created with ally_key_create")
            self.stderr.write(f"Created the ally {existing.name}.")
        if not existing.active:
            raise CommandError(f"{existing.name} is inactive: reactivate it in the admin first.")
        key, secret = api_key_create(ally=existing, user=user, name=label, days=days)
        self.stderr.write(
            f"Key {key} for {existing.name}, valid until {key.expires_at:%Y-%m-%d}. "
            "Store it now: it cannot be shown again."
        )
        self.stdout.write(secret)
