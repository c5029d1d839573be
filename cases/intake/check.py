"""Checking a file's rows: each parsed into its fields, every problem collected with its
line, column and reason."""

import datetime
import functools
import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.intake.template import (
    CASE_WITH_ID,
    COLUMNS,
    ERROR_COLUMNS,
    LIST_SEPARATOR,
    MAX_REF,
    NAME_WITH_ACRONYM,
    REQUIRED,
    XLSX_MAX_COLUMNS,
    ImportFileError,
    column_name,
    parse_date,
    pseudonym_code,
    vocabularies,
)
from cases.models import Incident
from core.middleware import CONTROL_CHARACTERS
from core.spreadsheets import FORMULA_STARTS
from organizations.names import fold, organization_key, person_key


def header_columns(header: list[str]) -> list[str]:
    """The template column of each header cell; ImportFileError naming the columns that are
    missing, unknown or repeated."""
    columns = [column_name(cell) for cell in header]
    while columns and not columns[-1]:
        columns.pop()
    if len(columns) > XLSX_MAX_COLUMNS:
        raise ImportFileError(
            _("The first row has %(count)d columns: the template has %(expected)d.")
            % {"count": len(columns), "expected": len(COLUMNS)}
        )
    unknown = [
        cell
        for cell, column in zip(header, columns, strict=False)
        if column not in COLUMNS and column not in ERROR_COLUMNS
    ]
    missing = [column for column in REQUIRED if column not in columns]
    repeated = sorted(column for column, count in Counter(columns).items() if count > 1)
    problems = []
    if missing:
        problems.append(_("missing columns: %(columns)s") % {"columns": ", ".join(missing)})
    if unknown:
        problems.append(
            _("unknown columns: %(columns)s")
            % {"columns": ", ".join(c or "(vacía)" for c in unknown)}
        )
    if repeated:
        problems.append(_("repeated columns: %(columns)s") % {"columns": ", ".join(repeated)})
    if "victima" not in columns and "organizacion_victima" not in columns:
        problems.append(_("a “victima” or “organizacion_victima” column is needed"))
    if problems:
        raise ImportFileError(
            _(
                "The first row must hold the template's column names: %(problems)s. "
                "Expected: %(expected)s."
            )
            % {"problems": "; ".join(problems), "expected": ", ".join(COLUMNS)}
        )
    return columns


@dataclass(frozen=True, slots=True)
class PerpetratorRef:
    """A perpetrator as a row names it (one object for the rows that name it alike), with
    its keys folded once: the plan and the write look it up many times per row."""

    name: str
    acronym: str
    category: str  # "" if not given
    role: str
    key: str = field(init=False, repr=False)  # fold(name)
    full_key: str = field(init=False, repr=False)  # fold("name (acronym)"), "" without one
    # The plan's lookups: by name, then by "name (acronym)" — or, with no acronym in the
    # cell, by the name as an acronym (perpetrator_id).
    lookups: tuple[str, str] = field(init=False, repr=False)

    def __post_init__(self):
        key = fold(self.name)
        full_key = fold(f"{self.name} ({self.acronym})") if self.acronym else ""
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "full_key", full_key)
        object.__setattr__(
            self, "lookups", (f"n:{key}", f"n:{full_key}" if full_key else f"a:{key}")
        )


# One object per perpetrator as the file names it, for all its rows (without: +28 % of B1's
# Python allocations at 20,000 rows).
_perpetrator = functools.lru_cache(maxsize=4096)(PerpetratorRef)


class Cells:
    """A row's cells by column name: a tuple in the file's column order and the columns'
    places, one dict for every row of the file (a dict per row: +19 % of B1's Python
    allocations at 20,000 rows). A column the file lacks reads as "" until the plan fills it
    in; a cell changed (or filled in) is kept beside the tuple."""

    __slots__ = ("_cells", "_more", "_places")

    def __init__(self, places: dict[str, int], cells: tuple[str, ...]):
        self._places, self._cells, self._more = places, cells, None

    def get(self, column: str, default: str = "") -> str:
        if self._more is not None and column in self._more:
            return self._more[column]
        place = self._places.get(column)
        if place is None or place >= len(self._cells):
            return default
        return self._cells[place]

    def __getitem__(self, column: str) -> str:  # templates: {{ row.values.fecha }}
        if column in self._places or (self._more is not None and column in self._more):
            return self.get(column)
        raise KeyError(column)

    def __setitem__(self, column: str, value: str) -> None:
        if self._more is None:
            self._more = {}
        self._more[column] = value


@dataclass(slots=True)
class Row:
    line: int
    values: Cells
    errors: list[tuple[str, str]] = field(default_factory=list)
    ref: str = ""
    occurred_on: datetime.date | None = None
    precision: str = Incident.DatePrecision.DAY
    type: str = ""
    target_kind: str = ""  # "defender" or "organization"
    target_name: str = ""
    # (kind, the name's key), as the plan looks the target up.
    target_key: tuple[str, str] = ("organization", "")
    perpetrators: tuple[PerpetratorRef, ...] = ()
    # The file's columns: one it does not have leaves that field of an incident unchanged.
    columns: frozenset = frozenset(COLUMNS)
    keep_perpetrators: bool = False
    state: str = ""
    case_title: str = ""
    case_id: uuid.UUID | None = None
    # "Defensor/a protegido/a #3F2A9C" (an export's pseudonym): its code, or "?" if malformed.
    pseudonym: str = ""
    # On a defender's row, their organization: (name, key), recorded as a membership.
    member_of: tuple[str, str] | None = None
    case_key: str = ""  # _case_key, once the row is checked
    # Filled by the plan:
    action: str = ""  # create / update / unchanged / reject
    incident: Incident | None = None
    changes: list[str] = field(default_factory=list)

    def error(self, column: str, message: str) -> None:
        self.errors.append((column, message))

    def get(self, column: str) -> str:
        return self.values.get(column, "")


def _case_key(row: Row) -> str:
    """What groups rows into one case (stored as the case's import_ref, ≤ 100 chars): made
    once, when the row is checked (the plan and the write ask for it in every pass; folding
    the title each time was most of an import's folding)."""
    if row.case_id is not None:
        return f"id:{row.case_id}"
    key = fold(row.case_title) if row.case_title else f"#{row.ref}"
    if len(key) > MAX_REF:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        key = f"{key[: MAX_REF - 17]}~{digest}"
    return key


def _read_target(row: Row, vocab: dict) -> None:
    """Who was attacked, as spreadsheets write it: `tipo_victima` says what `victima` names
    (a person, the default, or an organization); on a person's row `organizacion_victima` is
    their organization (a membership, not a second target); with `victima` empty it is the
    organization attacked."""
    named, organization = row.get("victima"), row.get("organizacion_victima")
    kind_text = row.get("tipo_victima")
    kind = vocab["tipo_victima"].get(fold(kind_text)) if kind_text else None
    if kind_text and kind is None:
        row.error(
            "tipo_victima",
            _("unknown value “%(value)s”: use defensor or organización") % {"value": kind_text},
        )
        return
    if not named and not organization:
        row.error("victima", _("no target: fill “victima” or “organizacion_victima”"))
        return
    if kind == "defender" and not named:
        row.error(
            "victima",
            _("“tipo_victima” says defensor: write the person’s name in “victima”"),
        )
        return
    if kind == "organization" and named and organization:
        if organization_key(named) != organization_key(organization):
            row.error(
                "organizacion_victima",
                _(
                    "“victima” already names the organization attacked: an incident has one "
                    "target; write one row for each"
                ),
            )
            return
    column = "victima" if named else "organizacion_victima"
    actual = "organization" if kind == "organization" or not named else "defender"
    row.target_kind, row.target_name = actual, (named or organization)
    key = person_key if actual == "defender" else organization_key
    row.target_key = (actual, key(row.target_name))
    _too_long(row, column, 255)
    if not fold(row.target_name):
        row.error(column, _("the name has no letters"))
    if actual == "defender":
        row.pseudonym = pseudonym_code(named)
        if organization:
            _too_long(row, "organizacion_victima", 255)
            if not fold(organization):
                row.error("organizacion_victima", _("the name has no letters"))
            else:
                row.member_of = (organization, organization_key(organization))


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(LIST_SEPARATOR)] if value.strip() else []


def _nth(values: list[str], i: int) -> str:
    """The i-th perpetrator's category or role: its own, or the one given for all ("" if a
    miscounted list has none for it: check_row rejects the row)."""
    if len(values) > 1:
        return values[i] if i < len(values) else ""
    return values[0] if values else ""


def _too_long(row: Row, column: str, limit: int) -> None:
    if len(row.get(column)) > limit:
        row.error(column, _("longer than %(max)d characters") % {"max": limit})


def check_row(row: Row, vocab: dict, today: datetime.date) -> Row:
    """Parse one row into its fields, collecting every problem (column, reason). `today`:
    the file's reading day (asked once per file, not per row)."""
    for column in row.columns:
        if CONTROL_CHARACTERS.search(row.get(column)):
            row.error(
                column,
                _(
                    "holds an invisible control character (copied from another program?): "
                    "delete it and retype the text around it"
                ),
            )
    row.ref = row.get("referencia")
    if not row.ref:
        row.error("referencia", _("empty: every row needs its own reference"))
    _too_long(row, "referencia", MAX_REF)

    if not row.get("fecha"):
        row.error("fecha", _("empty"))
    elif (parsed := parse_date(row.get("fecha"))) is None:
        row.error(
            "fecha",
            _("“%(value)s” is not a date: use dd/mm/aaaa, aaaa-mm-dd, “julio 2021” or 2021")
            % {"value": row.get("fecha")},
        )
    else:
        row.occurred_on, row.precision = parsed
        if row.occurred_on > today:
            row.error("fecha", _("%(value)s is in the future") % {"value": row.get("fecha")})
        elif row.occurred_on.year < 1900:
            row.error("fecha", _("%(value)s is before 1900") % {"value": row.get("fecha")})

    for column, attribute in (("tipo", "type"), ("estado", "state")):
        value = row.get(column)
        if not value:
            if column == "tipo":
                row.error(column, _("empty"))
            continue
        folded = fold(value)  # "ESTADO TÁCHIRA", "Edo. Táchira" → "tachira"
        code = vocab[column].get(folded)
        if code is None and column == "estado":
            words = folded.split(" ", 1)
            if len(words) == 2 and words[0] in ("estado", "edo"):
                code = vocab[column].get(words[1])
        if code is None:
            row.error(column, _("unknown value “%(value)s”") % {"value": value})
        else:
            setattr(row, attribute, code)

    _read_target(row, vocab)

    names = _split(row.get("perpetrador"))
    categories = _split(row.get("categoria_perpetrador"))
    roles = _split(row.get("rol_perpetrador"))
    for column, values in (("categoria_perpetrador", categories), ("rol_perpetrador", roles)):
        if len(values) > 1 and len(values) != len(names):
            row.error(
                column,
                _("%(count)d values for %(names)d perpetrators: give one for each, or one for all")
                % {"count": len(values), "names": len(names)},
            )
    if not names and (categories or roles):
        row.error("perpetrador", _("empty, but a category or role is given"))
    perpetrators = []
    for i, name in enumerate(names):
        category_text, role_text = _nth(categories, i), _nth(roles, i)
        category = vocab["categoria_perpetrador"].get(fold(category_text), "")
        if category_text and not category:
            row.error(
                "categoria_perpetrador", _("unknown value “%(value)s”") % {"value": category_text}
            )
        role = vocab["rol_perpetrador"].get(fold(role_text), "") if role_text else "perpetrated"
        if not role:
            row.error("rol_perpetrador", _("unknown value “%(value)s”") % {"value": role_text})
        if not fold(name) or len(name) > 255:
            row.error("perpetrador", _("“%(value)s” is not a name") % {"value": name[:50]})
            continue
        match = NAME_WITH_ACRONYM.match(name)
        acronym = match["acronym"] if match else ""
        perpetrators.append(_perpetrator(match["name"] if match else name, acronym, category, role))
    row.perpetrators = tuple(perpetrators)
    if len({p.key for p in row.perpetrators}) != len(row.perpetrators):
        row.error("perpetrador", _("the same perpetrator is named twice"))

    row.case_title = row.get("caso")
    if match := CASE_WITH_ID.match(row.case_title):
        row.case_title, row.case_id = match["title"], uuid.UUID(match["id"])
    if not fold(row.case_title):  # "—", "-", "?": a spreadsheet's "no case"
        row.case_title = ""
    if len(row.case_title) > 300:
        row.error("caso", _("longer than %(max)d characters") % {"max": 300})
    _too_long(row, "municipio", 255)
    _too_long(row, "fuente_medio", 255)
    url = row.get("fuente_url")
    if url:
        if "://" not in url:
            url = row.values["fuente_url"] = f"https://{url}"
        if not _is_web_address(url):
            row.error("fuente_url", _("“%(value)s” is not a web address") % {"value": url[:80]})
        _too_long(row, "fuente_url", 2000)
    row.case_key = _case_key(row)
    return row


_URL_VALIDATOR = URLValidator(schemes=["http", "https"])


def _is_web_address(url: str) -> bool:
    try:
        _URL_VALIDATOR(url)
    except ValidationError:
        return False
    return True


def _unquote(cell: str) -> str:
    """ "'=1+1" → "=1+1": the ' that exports put before what would be a formula."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def parse_table(table: list[tuple[int, list[str]]]) -> list[Row]:
    """Every data row checked; raises ImportFileError for a bad header or no data. Empties
    `table` as it goes, each line let go once its row is made (holding both: +11 % of B1's
    Python allocations at 20,000 rows)."""
    columns = header_columns(table[0][1])
    if len(table) < 2:
        raise ImportFileError(_("The file holds the column names but no rows."))
    vocab, today = vocabularies(), timezone.localdate()
    present = frozenset(columns) - set(ERROR_COLUMNS)
    places = {column: i for i, column in enumerate(columns) if column not in ERROR_COLUMNS}
    rows, seen = [], {}
    table.reverse()  # popped from the end: the file's order, each line freed once read
    table.pop()  # the header
    while table:
        line, cells = table.pop()
        extra = [cell for cell in cells[len(columns) :] if cell]
        values = Cells(places, tuple(map(_unquote, cells[: len(columns)])))
        row = check_row(Row(line=line, values=values, columns=present), vocab, today)
        if extra:
            row.error("", _("%(count)d cells beyond the last column") % {"count": len(extra)})
        if row.ref:
            if row.ref in seen:
                row.error(
                    "referencia",
                    _("“%(ref)s” is repeated: line %(line)d has it already")
                    % {"ref": row.ref, "line": seen[row.ref]},
                )
            else:
                seen[row.ref] = line
        rows.append(row)
    return rows
