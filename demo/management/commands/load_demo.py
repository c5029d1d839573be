from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from demo.data import base32_secret, demo_password, demo_totp_key
from demo.loader import DemoLoader


class Command(BaseCommand):
    help = (
        "Loads the demo data (CDJ figures for January–July 2021, the Tarazona case) and one "
        "account per role. Idempotent: a second run changes nothing. Development only."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                _("load_demo creates accounts with known passwords: it only runs with DEBUG=1.")
            )
        loader = DemoLoader(log=self.stdout.write)
        accounts = loader.accounts()
        created = loader.load()
        if created:
            summary = ", ".join(
                f"{count} {model._meta.verbose_name_plural}" for model, count in created.items()
            )
            self.stdout.write(self.style.SUCCESS(_("Created: %(summary)s.") % {"summary": summary}))
        else:
            self.stdout.write(
                self.style.SUCCESS(_("The demo was already loaded: nothing changed."))
            )
        self.stdout.write("\n" + _("Demo accounts (for the demo only):"))
        for username, group, description, _created in accounts:
            self.stdout.write(
                f"  {username:<15} {demo_password(username):<28} {group} — {description}"
            )
        self.stdout.write(
            self.style.WARNING(
                "\n"
                + _(
                    "Every login asks for a second-factor code. Get the current one with\n"
                    "  DEBUG=1 .venv/bin/python manage.py demo_code <user>\n"
                    "or add the account's secret to an authenticator app:"
                )
            )
        )
        for username, *_rest in accounts:
            self.stdout.write(f"  {username:<15} {base32_secret(demo_totp_key(username))}")
