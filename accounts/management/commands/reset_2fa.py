from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from accounts.services import user_reset_second_factor


class Command(BaseCommand):
    help = (
        "Removes a staff member's second-factor devices (lost phone): they enroll again, with "
        "a new QR code, at their next login. Run by a coordinator, who is named in the log."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="whose devices to remove")
        parser.add_argument("--by", required=True, help="the coordinator doing it")

    def handle(self, *args, username, by, **options):
        users = get_user_model().objects
        try:
            user = users.get(username=username)
        except users.model.DoesNotExist:
            raise CommandError(_("There is no user “%(name)s”.") % {"name": username}) from None
        coordinator = users.filter(username=by, is_active=True).first()
        if coordinator is None or not (
            coordinator.is_superuser or coordinator.groups.filter(name="Coordinador").exists()
        ):
            raise CommandError(_("“%(name)s” is not an active coordinator.") % {"name": by})
        removed = user_reset_second_factor(user=user, by=coordinator)
        self.stdout.write(
            _("%(count)d device(s) removed: %(name)s will enroll again at the next login.")
            % {"count": removed, "name": username}
        )
