"""Collect the changes feed's new entries for each ally's webhooks and send what is due
(retries included). Run it every minute (cron or a systemd timer)."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from api import webhooks


class Command(BaseCommand):
    help = "Collect and send the allies' webhook deliveries (run every minute)."

    def handle(self, *args, **options):
        counts = webhooks.due()
        self.stdout.write(
            _("%(queued)d queued, %(sent)d delivered, %(retry)d to retry, %(failed)d given up.")
            % counts
        )
