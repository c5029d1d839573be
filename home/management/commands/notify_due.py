"""Tell people what is due now: no contact 24 hours after an arrest, hearings tomorrow, the
two-year limit 30 days ahead, and the reviewers' daily digest. Run it hourly (cron or a
systemd timer); each notification is made once, however often it runs."""

from django.core.management.base import BaseCommand
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import notices as case_notices
from legal import notices as legal_notices


class Command(BaseCommand):
    help = "Make the notifications that are due now (run hourly)."

    def handle(self, *args, **options):
        now = timezone.now()
        made = legal_notices.due(now) + case_notices.review_digest(timezone.localdate(now))
        self.stdout.write(_("%(count)d notifications made.") % {"count": made})
