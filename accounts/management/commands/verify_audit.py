import json
import logging

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
    first_broken_row,
    lost_tail,
    table_heads,
)

logger = logging.getLogger("defensores.audit")


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
        problems, anchored = [], {}
        anchor = SecurityEvent.objects.filter(kind=SecurityEvent.Kind.AUDIT_ANCHOR).first()
        if anchor is not None:
            details = anchor.details
            heads, at = details.get("heads", {}), details.get("at", "")
            if anchor_holds(heads, at, details.get("signature", "")):
                anchored = heads
            else:
                problems.append(
                    _(
                        "The newest anchor in the security log (%(at)s) does not hold: it was "
                        "not written by this application, or was changed."
                    )
                    % {"at": at or anchor.occurred_at}
                )
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
            raise CommandError("\n".join(problems))
        self.anchor()
        self.stdout.write(self.style.SUCCESS(_("Every history table is intact.")))

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
