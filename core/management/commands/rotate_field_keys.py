from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.utils.translation import gettext as _

from core.audit import REWRITER_ROLE
from core.encryption import EncryptedTextField


def encrypted_fields() -> list[tuple[type[models.Model], list[str]]]:
    """Every model (history models included) with encrypted fields, and those fields."""
    found = []
    for model in apps.get_models():
        names = [
            f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)
        ]
        if names:
            found.append((model, names))
    return found


class Command(BaseCommand):
    help = (
        "Re-encrypts every encrypted value (history included) with the first key of "
        "FIELD_ENCRYPTION_KEYS. Put the new key first, keep the old ones after it, run this, "
        "then remove the old keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    @transaction.atomic
    def handle(self, *args, batch_size, **options):
        if connection.vendor == "postgresql":
            # History tables refuse UPDATE (append-only trigger) except for this command, run
            # by a member of the rewriter role: the plaintext, and so the chain, is unchanged.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) "
                    "AND pg_has_role(current_user, %s, 'MEMBER')",
                    [REWRITER_ROLE, REWRITER_ROLE],
                )
                if not cursor.fetchone()[0]:
                    raise CommandError(
                        _(
                            "History rows are re-encrypted only by a database role that is a "
                            "member of %(role)s, never by the application's own: run this "
                            "command with DATABASE_URL naming such a role."
                        )
                        % {"role": REWRITER_ROLE}
                    )
                cursor.execute("SET LOCAL defensores.history_rewrite = 'rotate_field_keys'")
        for model, names in encrypted_fields():
            # A plain QuerySet: rewriting ciphertext changes no data, so it is not a history
            # event (and the audited managers refuse update()).
            rows = models.QuerySet(model).order_by("pk").values_list("pk", *names)
            total = rows.count()
            for done, (pk, *values) in enumerate(rows.iterator(chunk_size=batch_size), 1):
                models.QuerySet(model).filter(pk=pk).update(**dict(zip(names, values, strict=True)))
                if done % batch_size == 0 or done == total:
                    self.stdout.write(f"  {model._meta.label}: {done}/{total}")
        self.stdout.write(self.style.SUCCESS(_("Every encrypted value now uses the first key.")))
