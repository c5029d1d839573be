"""Re-read every stored source file and archived copy and compare it with the SHA-256
recorded when it was stored: evidence altered, or lost, on disk is reported (and the command
fails, for monitoring)."""

import hashlib

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from cases.models import ArchivedCopy, Source
from core.encrypted_files import EncryptedFileError


def stored_sha256(field) -> str | None:
    """The SHA-256 of a stored file as it was given (decrypted as it is read), in chunks;
    None if it is missing."""
    digest = hashlib.sha256()
    try:
        with field.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
    except EncryptedFileError:
        return "does not decrypt"  # altered on disk (or its key is missing)
    except (FileNotFoundError, OSError):
        return None
    return digest.hexdigest()


class Command(BaseCommand):
    help = "Check every stored source file and archived copy against its recorded SHA-256."

    def handle(self, *args, **options):
        checked, problems = 0, []
        records = [
            (source, source.file, source.sha256, str(source.public_id))
            for source in Source.objects.exclude(file="").only("public_id", "file", "sha256")
        ] + [
            (copy, copy.file, copy.sha256, f"{copy.source.public_id} ({copy.url})")
            for copy in ArchivedCopy.objects.exclude(file="").select_related("source")
        ]
        for _record, field, recorded, label in records:
            checked += 1
            found = stored_sha256(field)
            if found is None:
                problems.append(
                    _("Missing: %(what)s (%(file)s)") % {"what": label, "file": field.name}
                )
            elif recorded and found != recorded:
                problems.append(
                    _("Changed since it was stored: %(what)s (%(file)s)")
                    % {"what": label, "file": field.name}
                )
        for line in problems:
            self.stderr.write(line)
        summary = _("%(checked)d files checked, %(bad)d with a problem.") % {
            "checked": checked,
            "bad": len(problems),
        }
        if problems:
            raise CommandError(summary)
        self.stdout.write(summary)
