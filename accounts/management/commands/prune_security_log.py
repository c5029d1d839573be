from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from accounts.services import security_log_prune


class Command(BaseCommand):
    help = "Deletes security-log events older than SECURITY_LOG_RETENTION_DAYS (run daily)."

    def handle(self, *args, **options):
        deleted = security_log_prune()
        self.stdout.write(
            ngettext(
                "%(count)d event older than %(days)d days deleted.",
                "%(count)d events older than %(days)d days deleted.",
                deleted,
            )
            % {"count": deleted, "days": settings.SECURITY_LOG_RETENTION_DAYS}
        )
