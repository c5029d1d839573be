"""Spreadsheet imports, the read-only half: reading a CSV or XLSX file in the template, checking
every row, and planning what an import would create, update, leave alone or reject.
Nothing here writes; cases.services.import_batch_run carries a plan out.

The template (the same columns that the admin's export writes) is documented in TEMPLATE_HELP
and downloadable from the admin. Labels are matched without regard to case, accents or
punctuation ("Táchira", "tachira", "TACHIRA").
"""

import codecs
import csv
import datetime
import functools
import hashlib
import io
import re
import uuid
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.models import Case, ImportBatch, Incident, Involvement, Source
from cases.models.core import sees_everything
from organizations.api import FORMULA_STARTS, csv_safe
from organizations.batches import in_batches
from organizations.models import Defender, Organization, Perpetrator
from organizations.names import fold, organization_key, person_key
from organizations.vocabularies import PerpetratorCategory, State

COLUMNS = (
    "referencia",
    "fecha",
    "tipo",
    "tipo_victima",
    "victima",
    "organizacion_victima",
    "perpetrador",
    "categoria_perpetrador",
    "rol_perpetrador",
    "estado",
    "municipio",
    "caso",
    "descripcion",
    "fuente_url",
    "fuente_medio",
)
REQUIRED = ("referencia", "fecha", "tipo")
# The error file's own columns, before the template's: ignored when it is imported again.
ERROR_COLUMNS = ("linea", "columna", "error")
# What each column holds (the downloadable template's second sheet, and the README).
TEMPLATE_HELP = {
    "referencia": gettext_lazy(
        "Required. The row's own id in your spreadsheet (a number or code), unique within the "
        "origin: importing a corrected file updates the incident with the same reference."
    ),
    "fecha": gettext_lazy(
        "Required. dd/mm/yyyy or yyyy-mm-dd (exact day); a month such as “julio 2021” or "
        "07/2021 (month only); 2021 (year only)."
    ),
    "tipo": gettext_lazy("Required. Type of attack, e.g. “Estigmatización”, “Amenazas”."),
    "tipo_victima": gettext_lazy(
        "“defensor” or “organización”; may be left empty if only one of the next two columns "
        "is filled."
    ),
    "victima": gettext_lazy("Name of the defender attacked (person)."),
    "organizacion_victima": gettext_lazy(
        "Name of the organization attacked. One target per row: a defender or an organization."
    ),
    "perpetrador": gettext_lazy(
        "Who did it, e.g. “Servicio Bolivariano de Inteligencia Nacional (SEBIN)” or “SEBIN”. "
        "Several: separate them with |."
    ),
    "categoria_perpetrador": gettext_lazy(
        "Needed for perpetrators not yet recorded, e.g. “Cuerpo de seguridad”, “Medio estatal”. "
        "One per perpetrator, separated with |, or one for all."
    ),
    "rol_perpetrador": gettext_lazy(
        "Optional: “Lo ejecutó” (default), “Lo ordenó”, “Participó”, “Lo amplificó”, “Sospechoso”."
    ),
    "estado": gettext_lazy("Venezuelan state, e.g. “Táchira”, “Distrito Capital”."),
    "municipio": gettext_lazy("Municipality or town."),
    "caso": gettext_lazy(
        "Rows with the same text here form one case (its title); a row without it (or with "
        "only a dash or other punctuation) becomes a case of its own."
    ),
    "descripcion": gettext_lazy("What happened."),
    "fuente_url": gettext_lazy("Address of the source (news item, post)."),
    "fuente_medio": gettext_lazy("Outlet or author of the source."),
}
LIST_SEPARATOR = "|"
MAX_REF = 100
# A case title exported with its id, "Title [uuid]": re-imports find the same case by it.
CASE_WITH_ID = re.compile(
    r"^(?P<title>.*?)\s*\[(?P<id>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\]\s*$"
)
# "Servicio Bolivariano de Inteligencia Nacional (SEBIN)": the acronym in capitals.
NAME_WITH_ACRONYM = re.compile(
    r"^(?P<name>.+?)\s*\((?P<acronym>[A-ZÁÉÍÓÚÑ0-9][A-ZÁÉÍÓÚÑ0-9.\-]{1,19})\)$"
)
SOCIAL_MEDIA = ("twitter.com", "x.com", "facebook.com", "instagram.com", "t.me", "tiktok.com")

MONTHS = {
    "enero": 1, "ene": 1, "january": 1, "jan": 1,
    "febrero": 2, "feb": 2, "february": 2,
    "marzo": 3, "mar": 3, "march": 3,
    "abril": 4, "abr": 4, "april": 4, "apr": 4,
    "mayo": 5, "may": 5,
    "junio": 6, "jun": 6, "june": 6,
    "julio": 7, "jul": 7, "july": 7,
    "agosto": 8, "ago": 8, "august": 8, "aug": 8,
    "septiembre": 9, "setiembre": 9, "sep": 9, "sept": 9, "set": 9, "september": 9,
    "octubre": 10, "oct": 10, "october": 10,
    "noviembre": 11, "nov": 11, "november": 11,
    "diciembre": 12, "dic": 12, "december": 12, "dec": 12,
}  # fmt: skip
MONTH_NAMES = dict(
    enumerate(
        "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
        "diciembre".split(),
        start=1,
    )
)

# Common spellings besides the codes and the English and Spanish labels.
TYPE_SYNONYMS = {
    "stigmatization": ["estigmatizacion", "difamacion", "estigmatizacion y difamacion"],
    "intimidation": ["intimidacion", "hostigamiento", "intimidacion y hostigamiento", "acoso"],
    "threat": ["amenaza", "amenazas"],
    "judicial_harassment": ["judicializacion", "criminalizacion", "acoso judicial"],
    "arbitrary_detention": ["detencion arbitraria", "detencion", "detenciones arbitrarias"],
    "raid": ["allanamiento", "allanamientos"],
    "digital_attack": ["ataque digital", "ataques digitales", "ciberataque", "hackeo"],
    "other": ["otro", "otros", "otra", "otras"],
    "enforced_disappearance": ["desaparicion forzada", "desaparicion forzosa"],
    "physical_assault": ["agresion fisica", "agresion"],
    "torture": ["tortura", "tortura y tratos crueles"],
    "killing": ["asesinato", "homicidio", "ejecucion extrajudicial"],
    "travel_restriction": ["restriccion de viaje", "prohibicion de salida del pais"],
    "administrative_closure": ["cierre administrativo", "cierre"],
}
CATEGORY_SYNONYMS = {
    "security_force": ["cuerpo de seguridad", "cuerpos de seguridad", "fuerzas de seguridad"],
    "armed_forces": ["fuerza armada", "fanb", "militares", "ejercito"],
    "public_official": ["funcionario", "funcionaria", "funcionario publico", "funcionarios"],
    "state_media": ["medio estatal", "medios estatales", "medios del estado", "medio publico"],
    "public_institution": ["institucion publica", "instituciones publicas", "institucion"],
    "pro_government_group": ["colectivo", "colectivos", "grupo progubernamental"],
    "non_state_armed_group": ["grupo armado", "grupo armado no estatal", "guerrilla"],
    "unknown": ["desconocido", "no identificado", "sin identificar", "desconocida"],
}
ROLE_SYNONYMS = {
    "perpetrated": ["ejecuto", "lo ejecuto", "autor", "perpetrador", "perpetro"],
    "ordered": ["ordeno", "lo ordeno"],
    "participated": ["participo", "participante"],
    "amplified": ["amplifico", "lo amplifico", "difundio", "difusion"],
    "suspected": ["sospechoso", "sospechosa", "presunto", "presunta"],
}
STATE_SYNONYMS = {
    "VE-A": ["caracas", "dtto capital", "dc"],
    "VE-X": ["vargas"],
    "VE-W": ["dependencias"],
}
TARGET_SYNONYMS = {
    "defender": ["defensor", "defensora", "defensor a", "defensores", "persona", "individual"],
    "organization": ["organizacion", "organizaciones", "org", "ong", "colectivo"],
}


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (encoding, format, headers, size)."""


def _vocabulary(choices, synonyms: dict[str, list[str]]) -> dict[str, str]:
    """folded label or spelling → code, for codes, English and Spanish labels and synonyms."""
    index = {}
    for code, label in choices.choices:
        index[fold(code)] = code
        for language in ("en", "es"):
            with translation.override(language):
                index[fold(str(label))] = code
        for spelling in synonyms.get(code, ()):
            index[fold(spelling)] = code
    return index


def vocabularies() -> dict[str, dict[str, str]]:
    targets = {fold(s): code for code, spellings in TARGET_SYNONYMS.items() for s in spellings}
    states = _vocabulary(State, STATE_SYNONYMS)
    states.update({fold(code.removeprefix("VE-")): code for code in State.values})
    return {
        "tipo": _vocabulary(Incident.Type, TYPE_SYNONYMS),
        "categoria_perpetrador": _vocabulary(PerpetratorCategory, CATEGORY_SYNONYMS),
        "rol_perpetrador": _vocabulary(Involvement.Role, ROLE_SYNONYMS),
        "estado": states,
        "tipo_victima": targets,
    }


def parse_date(value: str) -> tuple[datetime.date, str] | None:
    """(date, precision) for dd/mm/aaaa, aaaa-mm-dd (or aaaa/mm/dd, either with a time),
    "julio 2021", 07/2021, 2021-07, 2021; None if it is none of them."""
    text = value.strip()
    P = Incident.DatePrecision
    try:
        # A time after the day ("02/07/2021 0:00", as spreadsheets write dates) is ignored.
        if match := re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T][\d:.]+)?", text):
            day, month, year = map(int, match.groups())
            return datetime.date(year, month, day), P.DAY
        if match := re.fullmatch(r"(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})(?:[ T][\d:.]+)?", text):
            year, month, day = map(int, match.groups())
            return datetime.date(year, month, day), P.DAY
        if match := re.fullmatch(r"(\d{1,2})[/\-](\d{4})", text):
            month, year = map(int, match.groups())
            return datetime.date(year, month, 1), P.MONTH
        if match := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
            year, month = map(int, match.groups())
            return datetime.date(year, month, 1), P.MONTH
        if re.fullmatch(r"\d{4}", text):
            return datetime.date(int(text), 1, 1), P.YEAR
        words = fold(text).replace(" de ", " ").split()
        if len(words) == 2 and words[0] in MONTHS and re.fullmatch(r"\d{4}", words[1]):
            return datetime.date(int(words[1]), MONTHS[words[0]], 1), P.MONTH
    except ValueError:  # 31/02/2021
        return None
    return None


def format_date(day: datetime.date, precision: str) -> str:
    """The export's form of a date, which parse_date reads back."""
    if precision == Incident.DatePrecision.YEAR:
        return f"{day:%Y}"
    if precision == Incident.DatePrecision.MONTH:
        return f"{MONTH_NAMES[day.month]} {day:%Y}"
    return f"{day:%d/%m/%Y}"


@functools.cache
def _pseudonym_prefixes() -> tuple[str, ...]:
    """The folded words before the code of a pseudonym, in every language it is written in."""
    prefixes = set()
    for language in ("es", "en"):
        with translation.override(language):
            prefixes.add(fold(_("Protected defender #%(code)s") % {"code": ""}))
    return tuple(prefixes)


def pseudonym_code(name: str) -> str:
    """The code of a protected defender's pseudonym ("3F2A9C"), "?" for a name that looks
    like one with a code that cannot be, "" for any other name."""
    folded = fold(name)
    for prefix in _pseudonym_prefixes():
        if folded == prefix or folded.startswith(prefix + " "):
            code = folded.removeprefix(prefix).strip()
            return code.upper() if re.fullmatch(r"[0-9a-f]{6}", code) else "?"
    return ""


# Reading the file ---------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# Cells read from each XLSX row: the template's columns and room for the extra ones that a
# row is rejected for. A sheet's declared <dimension> may claim 16,384 columns: never trusted.
XLSX_MAX_COLUMNS = 2 * len(COLUMNS)


# Columns whose cells are each their row's own (a reference repeated is an error): one entry
# each in the dict of shared texts, for nothing.
OWN_COLUMNS = frozenset({"referencia"})


class _Shared:
    """One copy of each text a file repeats (its states, types, dates, outlets, cases), the
    columns in OWN_COLUMNS left out: a file's rows, once read, share them."""

    def __init__(self):
        self.texts, self.own = {}, None  # own: the places of OWN_COLUMNS, from the header

    def cells(self, cells: list[str]) -> list[str]:
        if self.own is None:
            if not any(cells):  # blank lines before the header
                return cells
            names = map(column_name, cells)
            self.own = frozenset(i for i, name in enumerate(names) if name in OWN_COLUMNS)
        texts, own = self.texts, self.own
        return [cell if i in own else texts.setdefault(cell, cell) for i, cell in enumerate(cells)]


MB = 1024 * 1024
# The most a part of a real workbook expands, and the most that is decompressed at all: a
# 100,000-row sheet (the most rows read) is about 100 MB of XML, 17 times its compressed size.
XLSX_MAX_RATIO = 100
XLSX_MAX_PARTS = 10_000


def _check_expansion(source: BinaryIO) -> None:
    """ImportFileError for a workbook that would expand far beyond its size (a decompression
    bomb), told by the ZIP's central directory before anything is decompressed. The sizes it
    declares are the most zipfile (and so openpyxl) will ever decompress."""
    try:
        with zipfile.ZipFile(source) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise ImportFileError(
            _("The file is not a readable XLSX workbook (%(error)s). Save it again as XLSX or CSV.")
            % {"error": type(error).__name__}
        ) from None
    finally:
        source.seek(0)
    limit = settings.IMPORT_MAX_UNCOMPRESSED_MEGABYTES
    total = sum(part.file_size for part in parts)
    if len(parts) > XLSX_MAX_PARTS or total > limit * MB:
        raise ImportFileError(
            _(
                "Decompressed, this workbook would take %(size)d MB, and at most %(max)d MB are "
                "read: split it into several files, or save it as CSV."
            )
            % {"size": total // MB, "max": limit}
        )
    for part in parts:
        if part.file_size > MB and part.file_size > XLSX_MAX_RATIO * max(part.compress_size, 1):
            raise ImportFileError(
                _(
                    "A part of this workbook (%(part)s) decompresses to %(ratio)d times its "
                    "size: it is not an ordinary spreadsheet. Save it again as XLSX or CSV."
                )
                % {
                    "part": part.filename[:100],
                    "ratio": part.file_size // max(part.compress_size, 1),
                }
            )


def _read_xlsx(source: BinaryIO) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    _check_expansion(source)
    try:
        book = load_workbook(source, read_only=True, data_only=True)
    except Exception as error:  # a hostile or broken file: say so, never a 500
        raise ImportFileError(
            _("The file is not a readable XLSX workbook (%(error)s). Save it again as XLSX or CSV.")
            % {"error": type(error).__name__}
        ) from None
    try:
        if not book.worksheets:
            raise ImportFileError(_("The XLSX workbook has no sheet with rows (only charts)."))
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # read the rows there are, not the ones the file claims
        rows, shared = [], _Shared()
        limit = settings.IMPORT_MAX_ROWS + 1
        cells = sheet.iter_rows(values_only=True, max_col=XLSX_MAX_COLUMNS)
        for number, row in enumerate(cells, start=1):
            if number > limit:
                raise ImportFileError(_too_many_rows())
            rows.append((number, shared.cells([_cell(value) for value in row])))
        return rows
    except ImportFileError:
        raise
    except Exception as error:  # truncated XML, odd sheets: say so, never a 500
        raise ImportFileError(
            _("The XLSX workbook could not be read (%(error)s). Save it again as XLSX or CSV.")
            % {"error": type(error).__name__}
        ) from None
    finally:
        book.close()


def _too_many_rows() -> str:
    return _("The file has more than %(max)d rows: split it into several files.") % {
        "max": settings.IMPORT_MAX_ROWS
    }


BLOCK = 1024 * 1024  # bytes of a file read at a time


def _check_text(source: BinaryIO) -> None:
    """ImportFileError unless the file is UTF-8 text (a byte order mark aside), read a block
    at a time: neither the file nor its decoded text is held whole."""
    if source.read(3) != codecs.BOM_UTF8:
        source.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    done, nul = 0, False  # bytes read after the mark; a NUL byte seen
    while True:
        block = source.read(BLOCK)
        pending = len(decoder.getstate()[0])  # a character's first bytes, from the last block
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as error:
            raise ImportFileError(
                _(
                    "The file is not in UTF-8 (byte %(position)d): save it as “CSV UTF-8” or "
                    "as XLSX. Spreadsheets saved as plain “CSV” use another encoding."
                )
                % {"position": done - pending + error.start + 1}
            ) from None
        if not block:
            break
        nul = nul or b"\x00" in block  # in UTF-8, only the NUL character has a zero byte
        done += len(block)
    if nul:
        raise ImportFileError(_("The file is not a text CSV file: use CSV UTF-8 or XLSX."))


def _read_csv(source: BinaryIO) -> list[tuple[int, list[str]]]:
    if source.read(2) in (b"\xff\xfe", b"\xfe\xff"):
        raise ImportFileError(
            _("The file is in UTF-16: save it as “CSV UTF-8 (delimitado por comas)”.")
        )
    source.seek(0)
    _check_text(source)
    source.seek(0)
    # The separator the header uses: the first line with something on it (blank lines above
    # the table would say ",").
    first_line = b""
    while not first_line.strip() and (line := source.readline()):
        first_line = line
    source.seek(0)
    delimiter = ";" if first_line.count(b";") > first_line.count(b",") else ","
    # Decoded a block at a time: neither the whole text nor a StringIO's copy of it (four
    # bytes a character) is held beside the cells.
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    rows, start, shared = [], 1, _Shared()
    try:
        for row in reader:
            if len(rows) > settings.IMPORT_MAX_ROWS:
                raise ImportFileError(_too_many_rows())
            rows.append((start, shared.cells(list(map(str.strip, row)))))
            start = reader.line_num + 1
    except csv.Error as error:
        raise ImportFileError(
            _("Line %(line)d: the CSV file is malformed (%(error)s).")
            % {"line": reader.line_num, "error": error}
        ) from None
    finally:
        text.detach()  # the caller's file stays open
    return rows


def _blank(source: BinaryIO) -> bool:
    """Nothing but spaces and line ends (bytes.strip's), a block at a time."""
    while block := source.read(BLOCK):
        if block.strip():
            return False
    return True


def as_file(data: bytes | BinaryIO) -> BinaryIO:
    """A file's bytes as a file to read (not copied); a file as it is."""
    return io.BytesIO(data) if isinstance(data, bytes | bytearray) else data


def read_table(data: bytes | BinaryIO, file_name: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) for every line of the first sheet or the CSV, header included.
    Raises ImportFileError for a file that cannot be read at all. `data`: the file's bytes,
    or the file itself (opened in binary, seekable), read a block at a time."""
    source = as_file(data)
    size = source.seek(0, io.SEEK_END)
    if size > settings.IMPORT_MAX_MEGABYTES * 1024 * 1024:
        raise ImportFileError(
            _("The file is larger than %(max)d MB: split it into several files.")
            % {"max": settings.IMPORT_MAX_MEGABYTES}
        )
    source.seek(0)
    if _blank(source):
        raise ImportFileError(_("The file is empty."))
    source.seek(0)
    is_zip = source.read(4) == b"PK\x03\x04"
    source.seek(0)
    if file_name.lower().endswith((".xlsx", ".xlsm")) or is_zip:
        if not is_zip:
            raise ImportFileError(
                _("The file is named .xlsx but is not an XLSX workbook: save it again as XLSX.")
            )
        rows = _read_xlsx(source)
    elif file_name.lower().endswith(".xls"):
        raise ImportFileError(_("Old Excel files (.xls) are not read: save it as XLSX."))
    else:
        rows = _read_csv(source)
    rows = [(line, cells) for line, cells in rows if any(cells)]
    if not rows:
        raise ImportFileError(_("The file is empty."))
    return rows


def column_name(cell: str) -> str:
    """The template column a header cell names ("Fuente URL" → "fuente_url")."""
    return fold(cell).replace(" ", "_")


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


# Checking rows ------------------------------------------------------------------------------


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


# Rows name a file's few perpetrators over and over: one object each, its keys folded once.
_perpetrator = functools.lru_cache(maxsize=4096)(PerpetratorRef)


class Cells:
    """A row's cells by column name: a tuple in the file's column order (one allocation; a
    list is two), and the columns' places, one dict for every row of the file (a dict of its
    own per row was a quarter of what an import held). A column the file lacks reads as ""
    until the plan fills it in; a cell changed (or filled in) is kept beside the tuple."""

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

    __iter__ = None  # not a sequence: iter() must not try 0, 1, 2… for ever

    def __setitem__(self, column: str, value: str) -> None:
        if self._more is None:
            self._more = {}
        self._more[column] = value


class _NoneYet(list):
    """The errors or changes of a row that has none: one empty list every such row shares
    (two of their own were a tenth of what an import held); it refuses to grow, so a row's
    first one makes its own list (Row.error)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("a row's shared empty list: give the row a list of its own")

    append = extend = insert = __setitem__ = __iadd__ = _refuse


_NONE_YET = _NoneYet()


@dataclass(slots=True)
class Row:
    line: int
    values: Cells
    errors: list[tuple[str, str]] = field(default_factory=lambda: _NONE_YET)
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
    case_key: str = ""  # _case_key, once the row is checked
    # Filled by the plan:
    action: str = ""  # create / update / unchanged / reject
    incident: Incident | None = None
    changes: list[str] = field(default_factory=lambda: _NONE_YET)

    def error(self, column: str, message: str) -> None:
        if self.errors is _NONE_YET:
            self.errors = []
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

    defender, organization = row.get("victima"), row.get("organizacion_victima")
    kind_text = row.get("tipo_victima")
    kind = vocab["tipo_victima"].get(fold(kind_text)) if kind_text else None
    if kind_text and kind is None:
        row.error(
            "tipo_victima",
            _("unknown value “%(value)s”: use defensor or organización") % {"value": kind_text},
        )
    elif defender and organization:
        row.error(
            "organizacion_victima",
            _(
                "names both a defender and an organization: an incident has one target; "
                "write one row for each"
            ),
        )
    elif not defender and not organization:
        row.error("victima", _("no target: fill “victima” or “organizacion_victima”"))
    else:
        actual = "defender" if defender else "organization"
        if kind is not None and kind != actual:
            row.error(
                "tipo_victima",
                _("says “%(kind)s” but the name is in “%(column)s”")
                % {"kind": kind_text, "column": "victima" if defender else "organizacion_victima"},
            )
        row.target_kind, row.target_name = actual, (defender or organization)
        key = person_key if defender else organization_key
        row.target_key = (actual, key(row.target_name))
        if defender:
            row.pseudonym = pseudonym_code(defender)
        _too_long(row, "victima" if defender else "organizacion_victima", 255)
        if not fold(row.target_name):
            row.error("victima", _("the name has no letters"))

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


# A case's rows, side by side, repeat its source's address. Kept for the process's life: a
# few recent addresses (10,000 of up to 2,000 characters was up to 20 MB in every worker).
@functools.lru_cache(maxsize=1024)
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
    `table` as it goes: a line's cells are let go once its row is made, so the file's cells
    and its rows are not both held whole."""
    columns = header_columns(table[0][1])
    if len(table) < 2:
        raise ImportFileError(_("The file holds the column names but no rows."))
    vocab, today = vocabularies(), timezone.localdate()
    present = frozenset(columns) - set(ERROR_COLUMNS)
    places = {column: i for i, column in enumerate(columns) if column not in ERROR_COLUMNS}
    rows, seen = [], {}
    # One copy of each target and case key as rows name them (perpetrators: _perpetrator; the
    # cells were shared as the file was read, _Shared).
    same = {}
    table.reverse()  # popped from the end: the file's order, each line freed once read
    table.pop()  # the header
    while table:
        line, cells = table.pop()
        extra = [cell for cell in cells[len(columns) :] if cell]
        values = Cells(places, tuple(map(_unquote, cells[: len(columns)])))
        row = check_row(Row(line=line, values=values, columns=present), vocab, today)
        row.target_key = same.setdefault(row.target_key, row.target_key)
        row.case_key = same.setdefault(row.case_key, row.case_key)  # a case's rows: one key
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


# Planning against the database ----------------------------------------------------------------


@dataclass
class Plan:
    rows: list[Row]
    origin: str
    case_status: str
    # Names to create: target key / perpetrator folded name → the name as first written.
    new_defenders: dict[str, str] = field(default_factory=dict)
    new_organizations: dict[str, str] = field(default_factory=dict)
    new_perpetrators: dict[str, PerpetratorRef] = field(default_factory=dict)
    defenders: dict[str, int] = field(default_factory=dict)
    organizations: dict[str, int] = field(default_factory=dict)
    perpetrators: dict[str, int] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    # Writing: every case the rows name, key → id (those there before, then those written,
    # whose objects are let go chunk by chunk).
    case_ids: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0  # likely duplicates the user may know of
    user: object = None
    sees_all: bool = True

    def of(self, action: str) -> list[Row]:
        return [row for row in self.rows if row.action == action]

    @property
    def rejected(self) -> list[Row]:
        return self.of("reject")

    def counts(self) -> dict[str, int]:
        return {
            "rows_total": len(self.rows),
            "rows_created": len(self.of("create")),
            "rows_updated": len(self.of("update")),
            "rows_unchanged": len(self.of("unchanged")),
            "rows_rejected": len(self.rejected),
            "records_created": (
                len(self.new_defenders) + len(self.new_organizations) + len(self.new_perpetrators)
            ),
            "duplicates_flagged": self.duplicates,
        }


def survivor_id(pk: int, merged_into: dict[int, int | None]) -> int:
    """The record `pk` was merged into, at the end of a chain of merges (A into B, then B into
    C: C); a cycle, which merges never make, stops where it closes."""
    seen = {pk}
    while (parent := merged_into.get(pk)) is not None and parent not in seen:
        seen.add(parent)
        pk = parent
    return pk


LOOKUP_BATCH = 2000  # keys or ids per query


def _matching(queryset, keys_by_field: dict[str, set[str]], *extra: str) -> list[dict]:
    """The records of `queryset` holding one of the keys in the stored key field it is given
    for (e.g. name_key), in id order: the names a file holds, never every name recorded."""
    found = {}
    for field_name, keys in keys_by_field.items():
        wanted = sorted(key for key in keys if key)
        for chunk in in_batches(queryset, field_name, wanted, LOOKUP_BATCH):
            for row in chunk.order_by().values("id", *keys_by_field, *extra):
                found[row["id"]] = row
    return [found[pk] for pk in sorted(found)]


def _merged_into(queryset, rows: list[dict]) -> dict[int, int | None]:
    """id → merged_into_id for these records and, as far as `queryset` holds them, the
    records they were merged into, to the end of each chain."""
    merged_into = {row["id"]: row["merged_into_id"] for row in rows}
    asked = set(merged_into)
    while parents := sorted({pk for pk in merged_into.values() if pk is not None} - asked):
        asked.update(parents)
        for chunk in in_batches(queryset.order_by(), "pk", parents, LOOKUP_BATCH):
            merged_into.update(chunk.values_list("id", "merged_into_id"))
    return merged_into


def _index(queryset, keys: set[str], fields: tuple[str, ...]) -> dict[str, int]:
    """key → id of the record it names (a merged record leads to its survivor), for the keys
    given: the first record by id that has the key in one of `fields`, in their order."""
    rows = _matching(queryset, dict.fromkeys(fields, keys), "merged_into_id")
    merged_into = _merged_into(queryset, rows)
    index = {}
    for row in rows:
        target = survivor_id(row["id"], merged_into)
        for name in fields:
            if row[name] in keys:
                index.setdefault(row[name], target)
    return index


AMBIGUOUS = 0  # an acronym that several perpetrators share


def _perpetrator_index(names: set[str], acronyms: set[str]) -> dict[str, int]:
    """ "n:<folded name>" and "n:<folded name (acronym)>" → id; "a:<folded acronym>" → id, or
    AMBIGUOUS if several perpetrators have it: for these folded names and acronyms."""
    rows = _matching(
        Perpetrator.objects.all(),
        {"name_key": names, "full_key": names, "acronym_key": acronyms},
        "acronym",
    )
    index = {}
    for row in rows:
        target = row["id"]
        if row["name_key"] in names:
            index.setdefault(f"n:{row['name_key']}", target)
        if row["acronym"]:
            if row["full_key"] in names:
                index.setdefault(f"n:{row['full_key']}", target)
            if row["acronym_key"] in acronyms:
                key = f"a:{row['acronym_key']}"
                index[key] = target if index.get(key, target) == target else AMBIGUOUS
    return index


def _names_in(rows: list[Row]) -> tuple[set[str], set[str], set[str], set[str]]:
    """The keys a file looks up: defenders', organizations', perpetrators' names ("name" and
    "name (acronym)") and perpetrators' acronyms."""
    defenders, organizations, names, acronyms = set(), set(), set(), set()
    for row in rows:
        if row.target_kind:
            kind, key = row.target_key
            (defenders if kind == "defender" else organizations).add(key)
        for perpetrator in row.perpetrators:
            name = perpetrator.key
            names.add(name)
            acronyms.add(name)  # an acronym alone in the cell, or one several share
            if perpetrator.acronym:
                names.add(perpetrator.full_key)
    return defenders, organizations, names, acronyms


def of_origin(queryset, origin: str):
    """The records imported from `origin` (with a reference): the terms of the partial unique
    index on (origin, reference), so that a lookup by thousands of references uses it; in no
    order (the lookups key what they find by reference): an incident's order, by date, would
    sort every batch and let the planner read the date index whole instead, on a small table."""
    return queryset.filter(import_origin=origin).exclude(import_ref="").order_by()


def plan_import(
    rows: list[Row], *, origin: str, case_status: str, user, trusted: bool = False
) -> Plan:
    """Classify each checked row: create, update (what changes), unchanged, or reject (why).
    Reads the database, writes nothing. `trusted` (the command line): the operator sees and
    may change everything."""
    from cases.duplicates import count_candidates_for_rows

    sees_all = trusted or sees_everything(user)
    plan = Plan(rows=rows, origin=origin, case_status=case_status, user=user, sees_all=sees_all)
    defenders = Defender.objects.all() if sees_all else Defender.objects.visible_to(user)
    defender_keys, organization_keys, names, acronyms = _names_in(rows)
    plan.defenders = _index(defenders, defender_keys, ("name_key", "known_as_key"))
    plan.organizations = _index(
        Organization.objects.all(), organization_keys, ("name_key", "acronym_key")
    )
    plan.perpetrators = _perpetrator_index(names, acronyms)
    visible_cases = Case.objects.all() if sees_all else Case.objects.visible_to(user)

    refs = [row.ref for row in rows if row.ref and not row.errors]
    existing = {}  # the incidents of this origin that the file's references name
    incidents = of_origin(Incident.objects.select_related("case", "defender"), origin)
    for chunk in in_batches(incidents, "import_ref", refs, LOOKUP_BATCH):
        existing.update({incident.import_ref: incident for incident in chunk})
    by_public_id = _incidents_by_public_id(refs)
    case_ids = {row.case_id for row in rows if row.case_id is not None}
    case_keys = sorted({row.case_key for row in rows})
    plan.cases = {}  # the cases of this origin that the file's “caso” names
    for chunk in in_batches(
        of_origin(Case.objects.all(), origin), "import_ref", case_keys, LOOKUP_BATCH
    ):
        plan.cases.update({case.import_ref: case for case in chunk})
    plan.cases.update(
        {f"id:{case.public_id}": case for case in Case.objects.filter(public_id__in=case_ids)}
    )
    visible_case_ids = set(
        visible_cases.filter(
            pk__in=[c.pk for c in plan.cases.values()]
            + [i.case_id for i in existing.values()]
            + [i.case_id for i in by_public_id.values()]
        ).values_list("pk", flat=True)
    )

    # The perpetrators of every incident a row may update, in one query per 5,000 incidents.
    involved = defaultdict(set)
    known_ids = [i.pk for i in existing.values()] + [i.pk for i in by_public_id.values()]
    for chunk in in_batches(Involvement.objects.all(), "incident_id", known_ids, 5000):
        for incident_id, perpetrator_id_, role in chunk.values_list(
            "incident_id", "perpetrator_id", "role"
        ):
            involved[incident_id].add((perpetrator_id_, role))

    def may_touch(case: Case) -> str | None:
        if case.pk not in visible_case_ids:
            # Says no more than needed: not that a restricted case exists, nor its title.
            return _("is already used by records you may not change: ask a coordinator")
        if case.status == Case.Status.RETRACTED:
            return _(
                "belongs to a retracted case (or import): import the file under another origin"
            )
        return None

    def may_change(case: Case) -> str | None:
        if problem := may_touch(case):
            return problem
        if trusted or case.is_editable_by(user):
            return None
        return _("belongs to a verified case: only a reviewer may change it")

    pseudonyms = None  # code → defender ids, read only if a row names a pseudonym
    named = {}  # incident id → the line that names it
    # A perpetrator not recorded yet needs its category on one of its rows at least.
    categorized = {
        p.key: p for row in rows if not row.errors for p in row.perpetrators if p.category
    }
    for row in rows:
        if row.errors:
            continue
        for perpetrator in row.perpetrators:
            key = perpetrator.key
            if (
                plan.perpetrators.get(f"a:{key}") == AMBIGUOUS
                and f"n:{key}" not in plan.perpetrators
            ):
                row.error(
                    "perpetrador",
                    _("“%(name)s” is the acronym of several perpetrators: write the full name")
                    % {"name": perpetrator.name},
                )
            elif perpetrator_id(perpetrator, plan) is None and key not in categorized:
                row.error(
                    "categoria_perpetrador",
                    _("“%(name)s” is not recorded yet: give its category")
                    % {"name": perpetrator.name},
                )
        incident = by_public_id.get(row.ref) or existing.get(row.ref)
        if incident is not None and incident.pk in named:
            # Its public id on one row, its reference on another: one would undo the other.
            row.error(
                "referencia",
                _("“%(ref)s” names the same incident as line %(line)d")
                % {"ref": row.ref, "line": named[incident.pk]},
            )
        elif incident is not None:
            named[incident.pk] = row.line
            # Only a row that changes something needs the right to change the case.
            if problem := may_touch(incident.case):
                row.error(
                    "referencia", _("“%(ref)s” %(problem)s") % {"ref": row.ref, "problem": problem}
                )
        elif row.case_key in plan.cases:
            if problem := may_change(plan.cases[row.case_key]):
                row.error("caso", problem)
        if row.pseudonym and not row.errors:
            if pseudonyms is None:
                pseudonyms = _pseudonym_index(defenders)
            _resolve_pseudonym(row, incident, pseudonyms, plan)
        if row.errors:
            continue
        row.incident = incident
        if incident is None:
            row.action = "create"
        else:
            _keep_absent(row, incident, plan, involved[incident.pk])
            row.changes = _changes(row, incident, plan, involved[incident.pk])
            row.action = "update" if row.changes else "unchanged"
            if row.changes and (problem := may_change(incident.case)):
                row.error(
                    "referencia", _("“%(ref)s” %(problem)s") % {"ref": row.ref, "problem": problem}
                )

    _check_verified_cases_have_sources(plan)
    for row in rows:
        if row.errors:
            row.action = "reject"
            continue
        # Names to create: only those of rows that will be imported.
        kind, key = row.target_key
        known = plan.defenders if kind == "defender" else plan.organizations
        new = plan.new_defenders if kind == "defender" else plan.new_organizations
        if key not in known:
            new.setdefault(key, row.target_name)
        for perpetrator in row.perpetrators:
            if perpetrator_id(perpetrator, plan) is None:
                key = perpetrator.key
                plan.new_perpetrators.setdefault(key, categorized[key])
    plan.duplicates = count_candidates_for_rows(plan)
    return plan


def _pseudonym_index(defenders) -> dict[str, set[int]]:
    """Pseudonym code → the protected defenders (their survivors, if merged) it may stand for."""
    index = defaultdict(set)
    merged_into = dict(
        defenders.filter(merged_into__isnull=False).order_by().values_list("id", "merged_into_id")
    )
    protected = defenders.filter(identity_protected=True).order_by()
    for pk, key in protected.values_list("id", "pseudonym_key"):
        index[Defender.pseudonym_code(key)].add(survivor_id(pk, merged_into))
    return index


def _resolve_pseudonym(row: Row, incident, pseudonyms: dict[str, set[int]], plan: Plan) -> None:
    """A file exported from here names protected defenders by their pseudonyms: map one back
    to its defender (the incident's own, when the row updates it). A pseudonym is never taken
    for the name of a new person."""
    current = incident.defender if incident is not None else None
    if (
        current is not None
        and current.identity_protected
        and Defender.pseudonym_code(current.pseudonym_key) == row.pseudonym
    ):
        found = {current.merged_into_id or current.pk}
    else:
        found = pseudonyms.get(row.pseudonym, set())
    if len(found) != 1:
        row.error(
            "victima",
            _(
                "“%(name)s” is the pseudonym of a protected defender who cannot be identified "
                "here: write the person's name (if you may know it) or leave this row out"
            )
            % {"name": row.target_name},
        )
        return
    plan.defenders[row.target_key[1]] = found.pop()


def _incidents_by_public_id(refs: list[str]) -> dict[str, Incident]:
    """Rows whose reference is an incident's public id (a file exported from here)."""
    ids = []
    for ref in refs:
        try:
            ids.append(uuid.UUID(ref))
        except ValueError:
            continue
    found = {}
    incidents = Incident.objects.select_related("case", "defender")
    for chunk in in_batches(incidents, "public_id", ids, 5000):
        found.update({str(i.public_id): i for i in chunk})
    return found


def _check_verified_cases_have_sources(plan: Plan) -> None:
    """A verified case needs a source (as in the workflow): new cases imported as verified
    need one row with fuente_url or fuente_medio."""
    if plan.case_status != ImportBatch.CaseStatus.VERIFIED:
        return
    groups = defaultdict(list)
    for row in plan.rows:
        if not row.errors and row.action == "create" and row.case_key not in plan.cases:
            groups[row.case_key].append(row)
    for group in groups.values():
        if not any(row.get("fuente_url") or row.get("fuente_medio") for row in group):
            group[0].error(
                "fuente_url",
                _("a case imported as verified needs a source: fill fuente_url or fuente_medio"),
            )
            for row in group[1:]:
                row.error(
                    "fuente_url",
                    _("its case (line %(line)d) has no source") % {"line": group[0].line},
                )


def target_id(row: Row, plan: Plan) -> int | None:
    kind, key = row.target_key
    return (plan.defenders if kind == "defender" else plan.organizations).get(key)


def perpetrator_id(perpetrator: PerpetratorRef, plan: Plan) -> int | None:
    """The perpetrator a row names: by its name (or "name (acronym)"); by its acronym only
    when the cell holds nothing else — "Freddy Bernal (PSUV)" is never "Diosdado Cabello
    (PSUV)"."""
    for key in perpetrator.lookups:
        if found := plan.perpetrators.get(key):  # not AMBIGUOUS
            return found
    return None


def _keep_absent(row: Row, incident: Incident, plan: Plan, involved: set) -> None:
    """A column the file does not have means "leave it as it is" for the incident a row
    updates (a file with fewer columns must not wipe what it does not mention)."""
    if "estado" not in row.columns:
        row.state = incident.state
    for column, name in (("municipio", "municipality"), ("descripcion", "description")):
        if column not in row.columns:
            row.values[column] = getattr(incident, name)
    if "perpetrador" not in row.columns:
        row.keep_perpetrators = True
    elif "rol_perpetrador" not in row.columns:
        roles = dict(involved)  # perpetrator id → its role now
        kept = []
        for perpetrator in row.perpetrators:
            pk = perpetrator_id(perpetrator, plan)
            # Rows share their perpetrators: this row's gets one of its own.
            kept.append(replace(perpetrator, role=roles[pk]) if pk in roles else perpetrator)
        row.perpetrators = tuple(kept)


def _changes(row: Row, incident: Incident, plan: Plan, involved: set) -> list[str]:
    """The fields of `incident` that the row changes (labels, for the preview)."""
    changed = []
    fields = {
        "type": row.type,
        "occurred_on": row.occurred_on,
        "date_precision": row.precision,
        "state": row.state,
        "municipality": row.get("municipio"),
        "description": row.get("descripcion"),
    }
    for name, value in fields.items():
        if getattr(incident, name) != value:
            changed.append(str(Incident._meta.get_field(name).verbose_name))
    kind, _key = row.target_key
    current = incident.defender_id if kind == "defender" else incident.organization_id
    if current is None or current != target_id(row, plan):
        changed.append(str(_("target")))
    wanted = {(perpetrator_id(p, plan), p.role) for p in row.perpetrators}
    if not row.keep_perpetrators and (None in {pk for pk, _role in wanted} or wanted != involved):
        changed.append(str(Incident._meta.get_field("perpetrators").verbose_name))
    return changed


def source_kind(url: str, publisher: str) -> str:
    host = re.sub(r"^https?://(www\.)?", "", url.lower()).split("/", 1)[0]
    if any(host == domain or host.endswith("." + domain) for domain in SOCIAL_MEDIA):
        return Source.Kind.SOCIAL_MEDIA
    return Source.Kind.PRESS if publisher or url else Source.Kind.OTHER


def error_file(plan: Plan) -> bytes:
    """The rejected rows as they came, one line each, with its line, columns and reasons
    first: fix them there and import that file (same origin) to bring them in. Only the
    columns the file had: a column added empty would clear that field of the incidents the
    rows update."""
    columns = [c for c in COLUMNS if not plan.rejected or c in plan.rejected[0].columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*ERROR_COLUMNS, *columns])
    for row in plan.rejected:
        cells = [
            row.line,
            "; ".join(dict.fromkeys(column for column, _message in row.errors if column)),
            "; ".join(message for _column, message in row.errors),
            *(row.get(c) for c in columns),
        ]
        writer.writerow([csv_safe(str(cell)) for cell in cells])
    return "\ufeff".encode() + buffer.getvalue().encode()


def auto_case_title(row: Row) -> str:
    """The title of a case made for a row without “caso” (no names: a protected defender's
    name must not reach a title)."""
    return _("%(type)s, %(date)s (imported, reference %(ref)s)") % {
        "type": Incident.Type(row.type).label,
        "date": format_date(row.occurred_on, row.precision),
        "ref": row.ref[:50],
    }


@dataclass
class RetractionScope:
    """What retracting a batch does, as `user` may know it."""

    cases: list[Case]  # the cases it created: retracted
    incidents: int  # the incidents in them
    hidden_cases: int  # cases it created that `user` may not see: the retraction is refused
    kept_incidents: int  # incidents it added to cases that existed before: they stay
    kept_cases: list[Case]  # those earlier cases, the ones `user` may see
    kept_hidden_cases: int  # and how many others


def retraction_scope(batch: ImportBatch, user) -> RetractionScope:
    visible = Case.objects.visible_to(user).values("pk")
    created = Case.objects.filter(import_batch=batch).order_by("pk")
    added = Incident.objects.filter(import_batch=batch).exclude(case__import_batch=batch)
    earlier = Case.objects.filter(pk__in=added.values("case_id")).order_by("title", "pk")
    return RetractionScope(
        cases=list(created.filter(pk__in=visible)),
        incidents=Incident.objects.filter(case__import_batch=batch).count(),
        hidden_cases=created.exclude(pk__in=visible).count(),
        kept_incidents=added.count(),
        kept_cases=list(earlier.filter(pk__in=visible)),
        kept_hidden_cases=earlier.exclude(pk__in=visible).count(),
    )


# Export in the template ------------------------------------------------------------------------


def export_rows(incidents) -> list[dict[str, str]]:
    """One template row per incident, readable back by the import. What never leaves through
    an export: restricted cases, protected names (pseudonyms instead), confidential sources.
    Each incident's reference is its public id and each case's title carries its id, so that
    importing the file here again updates instead of duplicating."""
    incidents = (
        incidents.exclude(case__confidentiality=Case.Confidentiality.RESTRICTED)
        .select_related("case", "defender", "organization")
        .prefetch_related("involvements__perpetrator")
        .order_by("occurred_on", "id")
    )
    first_source = {}
    sources = Source.objects.filter(
        case__in=incidents.values("case_id"), confidential=False
    ).order_by("case_id", "date", "id")
    for case_id, url, publisher, title in sources.values_list(
        "case_id", "url", "publisher", "title"
    ):
        first_source.setdefault(case_id, (url, publisher or ("" if url else title)))
    with translation.override("es"):
        out = []
        for incident in incidents.iterator(chunk_size=2000):
            involvements = list(incident.involvements.all())
            defender = incident.defender
            url, publisher = first_source.get(incident.case_id, ("", ""))
            out.append(
                {
                    "referencia": str(incident.public_id),
                    "fecha": format_date(incident.occurred_on, incident.date_precision),
                    "tipo": str(incident.get_type_display()),
                    "tipo_victima": "defensor" if defender else "organización",
                    "victima": str(defender) if defender else "",  # the pseudonym if protected
                    "organizacion_victima": incident.organization.name if not defender else "",
                    "perpetrador": f" {LIST_SEPARATOR} ".join(
                        f"{i.perpetrator.name} ({i.perpetrator.acronym})"
                        if i.perpetrator.acronym
                        else i.perpetrator.name
                        for i in involvements
                    ),
                    "categoria_perpetrador": f" {LIST_SEPARATOR} ".join(
                        str(i.perpetrator.get_category_display()) for i in involvements
                    ),
                    "rol_perpetrador": f" {LIST_SEPARATOR} ".join(
                        str(i.get_role_display()) for i in involvements
                    ),
                    "estado": str(incident.get_state_display()) if incident.state else "",
                    "municipio": incident.municipality,
                    "caso": f"{incident.case.title} [{incident.case.public_id}]",
                    "descripcion": incident.description,
                    "fuente_url": url,
                    "fuente_medio": publisher,
                }
            )
    return out


def as_csv(rows: list[dict[str, str]]) -> bytes:
    """UTF-8 with a BOM, so that spreadsheet programs read the accents."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    # Cells starting with = + - @ get a ' (the import takes it off again).
    writer.writerows({c: csv_safe(str(row.get(c, ""))) for c in COLUMNS} for row in rows)
    return "\ufeff".encode() + buffer.getvalue().encode()


def as_xlsx(rows: list[dict[str, str]], *, with_help: bool = False) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("incidents"))

    def text(value) -> WriteOnlyCell:
        # Typed as text: "=HYPERLINK(…)" typed by someone stays words, never a formula.
        cell = WriteOnlyCell(sheet, value=str(value))
        cell.data_type = "s"
        return cell

    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([text(row.get(column, "")) for column in COLUMNS])
    if with_help:
        notes = book.create_sheet(_("how to fill it in"))
        notes.append([_("column"), _("what it holds")])
        for column in COLUMNS:
            notes.append([column, str(TEMPLATE_HELP[column])])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def template_example() -> list[dict[str, str]]:
    """The template's example rows (invented names)."""
    return [
        {
            "referencia": "1",
            "fecha": "02/07/2021",
            "tipo": "Detención arbitraria",
            "tipo_victima": "defensor",
            "victima": "Nombre Ficticio Ejemplo",
            "perpetrador": "Servicio Bolivariano de Inteligencia Nacional (SEBIN)",
            "categoria_perpetrador": "Cuerpo de seguridad",
            "rol_perpetrador": "Lo ejecutó",
            "estado": "Falcón",
            "municipio": "Coro",
            "caso": "Detención de integrantes de una ONG ficticia en Coro",
            "descripcion": "Ejemplo: borre esta fila.",
            "fuente_url": "https://example.org/noticia",
            "fuente_medio": "Medio de ejemplo",
        },
        {
            "referencia": "2",
            "fecha": "julio 2021",
            "tipo": "Estigmatización",
            "tipo_victima": "organización",
            "organizacion_victima": "Organización Ficticia de Ejemplo",
            "perpetrador": "Canal de ejemplo | Funcionario de ejemplo",
            "categoria_perpetrador": "Medio estatal | Funcionario público",
            "estado": "Distrito Capital",
            "descripcion": "Ejemplo: borre esta fila.",
        },
    ]
