from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.utils.translation import gettext as _

from core.audit import REWRITER_ROLE
from core.encrypted_files import EncryptedFileError, EncryptedFileSystemStorage
from core.encryption import EncryptedTextField


def encrypted_file_fields() -> list[tuple[type[models.Model], str]]:
    """Every file field whose storage encrypts (core.encrypted_files), history aside (its
    rows name the same files)."""
    return [
        (model, field.name)
        for model in apps.get_models()
        if not hasattr(model, "instance_type")
        for field in model._meta.concrete_fields
        if isinstance(field, models.FileField)
        and isinstance(field.storage, EncryptedFileSystemStorage)
    ]


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
        "Re-encrypts every encrypted value (history included) and every stored file with the "
        "first key of FIELD_ENCRYPTION_KEYS. Put the new key first, keep the old ones after "
        "it, run this, then remove the old keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size, **options):
        self.reencrypt_values(batch_size)
        # Files after the values have committed: a file is replaced whole, its contents
        # unchanged, and one that no longer decrypts is named rather than stopping the rest.
        problems = self.reencrypt_files()
        if problems:
            raise CommandError(
                _("%(n)d stored files could not be re-encrypted; see above.") % {"n": problems}
            )
        self.stdout.write(self.style.SUCCESS(_("Every encrypted value now uses the first key.")))

    @transaction.atomic
    def reencrypt_values(self, batch_size):
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

    def reencrypt_files(self) -> int:
        """Stored files (sources', archived copies, imports): each under the first key, one
        frame at a time; a file stored before encryption is encrypted now. Files only the
        history names (a source's earlier file) too. Returns how many could not be."""
        problems = 0
        for model, name in encrypted_file_fields():
            storage = model._meta.get_field(name).storage
            stored = set(model._default_manager.exclude(**{name: ""}).values_list(name, flat=True))
            history = getattr(model, "history", None)
            if history is not None:
                stored |= set(
                    history.model._default_manager.exclude(**{name: ""})
                    .exclude(**{f"{name}__isnull": True})
                    .values_list(name, flat=True)
                )
            stored = sorted(stored)
            for done, file_name in enumerate(stored, 1):
                try:
                    if storage.exists(file_name):
                        storage.reencrypt(file_name)
                    else:
                        self.stderr.write(_("Missing: %(file)s") % {"file": file_name})
                except EncryptedFileError as error:
                    problems += 1
                    self.stderr.write(f"{file_name}: {error}")
                if done % 100 == 0 or done == len(stored):
                    self.stdout.write(f"  {model._meta.label} ({name}): {done}/{len(stored)}")
        return problems
