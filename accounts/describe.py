"""The security log in sentences: what each event's details mean, in the reader's language
and time zone, instead of its raw JSON."""

import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import SecurityEvent

Kind = SecurityEvent.Kind


def _when(value: str) -> str:
    try:
        moment = datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


def _list(items) -> str:
    return ", ".join(str(item) for item in items) if items else "—"


def describe(event: SecurityEvent) -> str:
    details = event.details or {}
    by = details.get("by")
    kind = event.kind
    if kind == Kind.PERMISSION_CHANGE:
        action = details.get("action")
        items = _list(details.get("items"))
        text = {
            "add": _("Given: %(items)s."),
            "remove": _("Taken away: %(items)s."),
            "clear": _("All taken away."),
        }.get(action, _("Changed: %(items)s.")) % {"items": items}
    elif kind == Kind.TEAM_CHANGE:
        text = _("Case %(case)s: added %(added)s; removed %(removed)s.") % {
            "case": details.get("case", "—"),
            "added": _list(details.get("added")),
            "removed": _list(details.get("removed")),
        }
    elif kind == Kind.UNLOCK:
        if details.get("cooled_off"):
            text = _("Unlocked when the lock expired, after %(failures)s failed logins.")
        else:
            text = _("Unlocked after %(failures)s failed logins.")
        text %= {"failures": details.get("failures", "?")}
    elif kind == Kind.LOCKOUT:
        text = _("Locked after repeated failed logins from %(address)s.") % {
            "address": details.get("counted_as") or event.ip_address or "—"
        }
    elif kind == Kind.OTP_FAILED:
        text = _("A wrong code at the second step.")
    elif kind == Kind.EXPORT:
        parts = [
            f"{label}: {details[key]}"
            for key, label in (
                ("report", _("report")),
                ("format", _("format")),
                ("incidents", _("incidents")),
                ("filters", _("filters")),
                ("source", _("source")),
                ("import_batch", _("import")),
            )
            if details.get(key) not in (None, "")
        ]
        text = _("Exported (%(what)s).") % {"what": "; ".join(parts) or "—"}
    elif kind == Kind.AUDIT_ANCHOR:
        heads = details.get("heads") or {}
        rows = sum(head.get("rows", 0) for head in heads.values())
        text = ngettext(
            "History checked and anchored at %(at)s: %(tables)d table, %(rows)d rows.",
            "History checked and anchored at %(at)s: %(tables)d tables, %(rows)d rows.",
            len(heads),
        ) % {"at": _when(details.get("at")), "tables": len(heads), "rows": rows}
    elif kind == Kind.AUDIT_BROKEN:
        text = _("History altered: %(problems)s") % {
            "problems": " ".join(details.get("problems") or [])
        }
    elif details:
        text = "; ".join(f"{key}: {value}" for key, value in details.items() if key != "by")
    else:
        text = ""
    if by:
        text = (_("By %(user)s.") % {"user": by}) + (" " + text if text else "")
    return text
