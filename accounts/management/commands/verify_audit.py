import datetime
import json
import logging
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import SecurityEvent
from accounts.services import security_event_record
from core.audit import (
    anchor_holds,
    anchor_signature,
    chained_history_models,
    database_role_warnings,
    first_broken_row,
    lost_tail,
    table_heads,
)

logger = logging.getLogger("defensores.audit")


def _holds(details: dict) -> bool:
    try:
        return anchor_holds(details["heads"], details["at"], details["signature"])
    except (KeyError, TypeError):
        return False


def _signed_time(at: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(at)


def _last_line(path: str) -> dict | None:
    """The newest anchor written to the anchor file, if there is one."""
    if not path or not os.path.exists(path):
        return None
    last = None
    with open(path, encoding="utf-8") as anchors:
        for line in anchors:
            if line.strip():
                last = line
    if last is None:
        return None
    try:
        return json.loads(last)
    except ValueError:
        return {}


class Command(BaseCommand):
    help = (
        "Checks the keyed hash chain of every history table, and that no row anchored before "
        "is gone; then anchors each table's newest row in the security log (and in "
        "AUDIT_ANCHOR_FILE). Exits 1 naming each table and row where the history does not "
        "hold. Run it daily (--since-anchor checks only what was written since the last "
        "anchor)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since-anchor",
            action="store_true",
            help="Check only the rows written since the last anchor (quick, for a daily run).",
        )

    def handle(self, *args, since_anchor=False, **options):
        anchored, problems = self.newest_anchor()
        for model in chained_history_models():
            table = model._meta.db_table
            head = anchored.get(table)
            after = None
            if since_anchor and head and head.get("last_id") is not None:
                after = (head["last_id"], head["last_hash"])
            found = [first_broken_row(model, after=after), head and lost_tail(model, head)]
            for row_id, why in filter(None, found):
                problems.append(
                    _("Audit chain broken in %(table)s at row %(id)s: %(why)s.")
                    % {"table": table, "id": row_id, "why": why}
                )
            if not any(found):
                self.stdout.write(f"  {table}: {model._default_manager.count()} ✓")
        if problems:
            for problem in problems:
                logger.error(problem)
            # For the coordinators' home page: the last check, and what it found.
            security_event_record(kind=SecurityEvent.Kind.AUDIT_BROKEN, problems=problems[:20])
            raise CommandError("\n".join(problems))
        self.anchor()
        self.stdout.write(self.style.SUCCESS(_("Every history table is intact.")))
        for warning in database_role_warnings():
            logger.warning(warning)
            self.stderr.write(self.style.WARNING(warning))

    def newest_anchor(self) -> tuple[dict, list[str]]:
        """The heads of the newest anchor that holds, by the time it signed (not the log's
        own timestamp, which anyone with the database can set), from the security log and
        AUDIT_ANCHOR_FILE; and what is wrong with the anchors: one that does not hold, the
        file's newest missing from the log (anchors were removed from the database), a table
        whose anchored head went backwards from one anchor to the next."""
        problems = []
        logged = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.AUDIT_ANCHOR)
        valid = []
        for number, details in enumerate(logged.values_list("details", flat=True)):
            if _holds(details):
                valid.append(details)
            elif number == 0:
                problems.append(
                    _(
                        "The newest anchor in the security log (%(at)s) does not hold: it was "
                        "not written by this application, or was changed."
                    )
                    % {"at": details.get("at", "?")}
                )
        in_file = _last_line(settings.AUDIT_ANCHOR_FILE)
        if in_file is not None:
            if not _holds(in_file):
                problems.append(
                    _("The last anchor in %(file)s does not hold: it was changed.")
                    % {"file": settings.AUDIT_ANCHOR_FILE}
                )
            elif all(details["at"] != in_file["at"] for details in valid):
                problems.append(
                    _(
                        "The anchor of %(at)s in %(file)s is missing from the security log: "
                        "anchors were removed from the database."
                    )
                    % {"at": in_file["at"], "file": settings.AUDIT_ANCHOR_FILE}
                )
                valid.append(in_file)
        valid.sort(key=lambda details: _signed_time(details["at"]))
        for earlier, later in zip(valid, valid[1:], strict=False):
            for table, head in earlier["heads"].items():
                after = later["heads"].get(table) or {"rows": 0, "last_id": None}
                if head["rows"] > after["rows"] or (head["last_id"] or 0) > (after["last_id"] or 0):
                    problems.append(
                        _(
                            "%(table)s had fewer rows when anchored at %(later)s than at "
                            "%(earlier)s: rows were removed between the two."
                        )
                        % {"table": table, "earlier": earlier["at"], "later": later["at"]}
                    )
        return (valid[-1]["heads"] if valid else {}), problems

    def anchor(self) -> None:
        """Record each table's size and newest row, signed with the chain's key, where later
        runs find it: removing rows at the end of a table is then seen."""
        heads, at = table_heads(), timezone.now().isoformat()
        signature = anchor_signature(heads, at)
        security_event_record(
            kind=SecurityEvent.Kind.AUDIT_ANCHOR, at=at, heads=heads, signature=signature
        )
        line = json.dumps({"at": at, "heads": heads, "signature": signature}, sort_keys=True)
        if settings.AUDIT_ANCHOR_FILE:
            with open(settings.AUDIT_ANCHOR_FILE, "a", encoding="utf-8") as anchors:
                anchors.write(line + "\n")
