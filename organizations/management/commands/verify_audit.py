from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from organizations.audit import chained_history_models, first_broken_row


class Command(BaseCommand):
    help = "Checks the hash chain of every history table; exits 1 at the first broken row."

    def handle(self, *args, **options):
        for model in chained_history_models():
            broken = first_broken_row(model)
            if broken is not None:
                history_id, why = broken
                raise CommandError(
                    _("Audit chain broken in %(table)s at history_id %(id)d: %(why)s.")
                    % {"table": model._meta.db_table, "id": history_id, "why": why}
                )
            rows = model._default_manager.count()
            self.stdout.write(f"  {model._meta.db_table}: {rows} ✓")
        self.stdout.write(self.style.SUCCESS(_("Every history table is intact.")))
