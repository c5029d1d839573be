from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.demo import DemoLoader, demo_password


class Command(BaseCommand):
    help = (
        "Loads the demo data (CDJ figures for January–July 2021, the Tarazona case) and one "
        "account per role. Idempotent: a second run changes nothing. Development only."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "load_demo crea cuentas con contraseñas conocidas: solo se ejecuta con DEBUG=1."
            )
        loader = DemoLoader(log=self.stdout.write)
        created = loader.load()
        accounts = loader.accounts()
        if created:
            summary = ", ".join(f"{count} {name}" for name, count in sorted(created.items()))
            self.stdout.write(self.style.SUCCESS(f"Creado: {summary}."))
        else:
            self.stdout.write(self.style.SUCCESS("La demostración ya estaba cargada: sin cambios."))
        self.stdout.write("\nCuentas de demostración (solo para la demo):")
        for username, group, description, _created in accounts:
            self.stdout.write(
                f"  {username:<15} {demo_password(username):<28} {group} — {description}"
            )
