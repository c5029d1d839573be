"""Fetch again the archived copies whose site was down (run every few minutes)."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from cases.archiving import archive_due


class Command(BaseCommand):
    help = "Fetch the source links whose next try is due (run every few minutes)."

    def handle(self, *args, **options):
        self.stdout.write(_("%(count)d links tried.") % {"count": archive_due()})
