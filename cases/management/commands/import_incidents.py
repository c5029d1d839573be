import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.services import system_user
from cases.intake import write
from cases.intake.plan import counts_sentence, error_file
from cases.intake.read import BLOCK
from cases.intake.template import ImportFileError
from cases.models import ImportBatch

# Exit codes: 0 everything imported; 1 imported, but rows were rejected (--skip-invalid);
# 2 nothing imported.
PARTIAL, NOTHING = 1, 2


class Command(BaseCommand):
    help = (
        "Imports incidents from a CSV (UTF-8, comma or semicolon) or XLSX file in the template. "
        "By default nothing is written if any row is wrong; exits non-zero when rows were "
        "rejected. Acts as the system user unless --user is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check and report; write nothing."
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the good rows; list the bad ones (and keep them in an error file).",
        )
        parser.add_argument(
            "--origin",
            default="",
            help="The spreadsheet the rows come from (references are unique within it). "
            "Default: the file name without its extension.",
        )
        parser.add_argument(
            "--status",
            default=ImportBatch.CaseStatus.IN_REVIEW,
            choices=ImportBatch.CaseStatus.values,
            help="Status of the new cases (default in_review: counted once a reviewer verifies).",
        )
        parser.add_argument("--user", default="", help="Username recorded in the history.")
        parser.add_argument(
            "--errors", default="", help="Write the rejected rows to this CSV file."
        )

    def handle(self, *args, **options):
        path = Path(options["file"])
        user = self._user(options["user"])
        try:
            source = self._seekable(path.open("rb"))  # read a block at a time, never whole
        except OSError as error:
            raise CommandError(
                _("Cannot read %(file)s: %(error)s") % {"file": path, "error": error},
                returncode=NOTHING,
            ) from None
        started = self.started = time.monotonic()
        self.verbosity = options["verbosity"]
        batch = None
        try:
            with transaction.atomic():
                with source:  # kept with the batch once planned
                    batch, plan = write.import_batch_prepare(
                        user=user,
                        data=source,
                        file_name=path.name,
                        origin=options["origin"],
                        case_status=options["status"],
                        trusted=True,
                        lock=True,  # planned once: the plan holds until this transaction ends
                        progress=self._progress,
                    )
                writes = not options["dry_run"] and (not plan.rejected or options["skip_invalid"])
                if writes:
                    plan = write.import_batch_run(
                        batch=batch,
                        user=user,
                        skip_invalid=options["skip_invalid"],
                        trusted=True,
                        plan=plan,
                        progress=self._progress,
                    )
                else:
                    transaction.set_rollback(True)
        except ImportFileError as error:
            raise CommandError(str(error), returncode=NOTHING) from None
        except ValidationError as error:  # write.ImportConflict too: run it again
            self._forget(batch)
            raise CommandError(" ".join(error.messages), returncode=NOTHING) from None
        except OSError as error:  # the file (or the copy kept of it) read or written halfway
            self._forget(batch)
            raise CommandError(
                _("Cannot import %(file)s: %(error)s") % {"file": path, "error": error},
                returncode=NOTHING,
            ) from None
        finally:
            source.close()  # closed once planned; here if planning never began
        if not writes:
            self._forget(batch)
        self._report(plan, time.monotonic() - started, options)
        if plan.rejected:
            if options["errors"]:
                Path(options["errors"]).write_bytes(error_file(plan))
            written = options["skip_invalid"] and not options["dry_run"]
            count = len(plan.rejected)
            message = (
                ngettext(
                    "%(count)d row rejected and not imported; the other rows were imported.",
                    "%(count)d rows rejected and not imported; the other rows were imported.",
                    count,
                )
                if written
                else ngettext(
                    "%(count)d row rejected: nothing was imported.",
                    "%(count)d rows rejected: nothing was imported.",
                    count,
                )
            ) % {"count": count}
            raise CommandError(message, returncode=PARTIAL if written else NOTHING)

    @staticmethod
    def _seekable(source):
        """The file, or for a pipe (`<(zcat base.csv.gz)`, /dev/stdin), its bytes copied aside
        a block at a time: as far as one byte past the size limit, which read_table refuses."""
        if source.seekable():
            return source
        copy = tempfile.TemporaryFile()  # returned open: handle closes it
        limit = settings.IMPORT_MAX_MEGABYTES * 1024 * 1024 + 1
        with source:
            while copy.tell() < limit and (block := source.read(BLOCK)):
                copy.write(block[: limit - copy.tell()])
        copy.seek(0)
        return copy

    @staticmethod
    def _forget(batch) -> None:
        """Delete the kept files of a batch that was rolled back."""
        write.import_batch_discard_files(batch)

    def _user(self, username: str):
        if not username:
            return system_user()
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(
                _("No user %(name)s.") % {"name": username}, returncode=NOTHING
            ) from None

    def _progress(self, what: str, done: int, total: int) -> None:
        """How far the import is, on stderr (stdout keeps the summary): a line per step, one
        line rewritten in a terminal. Quiet with --verbosity 0."""
        if self.verbosity < 1:
            return
        line = _("%(what)s: %(done)d of %(total)d (%(seconds).0f s)") % {
            "what": what,
            "done": done,
            "total": total,
            "seconds": time.monotonic() - self.started,
        }
        plain = str  # not in the red of errors, which stderr is styled with in a terminal
        if self.stderr.isatty():
            ending = "\n" if done >= total else ""
            self.stderr.write(f"\r{line}\033[K", style_func=plain, ending=ending)
        else:
            self.stderr.write(line, style_func=plain)

    def _report(self, plan, seconds: float, options) -> None:
        for row in plan.rejected[:200]:
            for column, message in row.errors:
                self.stderr.write(
                    _("line %(line)d, column %(column)s: %(message)s")
                    % {"line": row.line, "column": column or "—", "message": message}
                )
        if len(plan.rejected) > 200:
            self.stderr.write(
                ngettext(
                    "… and %(count)d more rejected row.",
                    "… and %(count)d more rejected rows.",
                    len(plan.rejected) - 200,
                )
                % {"count": len(plan.rejected) - 200}
            )
        counts = plan.counts()
        prefix = _("Dry run, nothing written: ") if options["dry_run"] else ""
        self.stdout.write(prefix + counts_sentence(counts))
        rate = counts["rows_total"] / seconds if seconds else 0
        self.stdout.write(
            _("%(seconds).1f s (%(rate).0f rows/s).") % {"seconds": seconds, "rate": rate}
        )
