"""Reading a spreadsheet (CSV or XLSX) into lines of cells, a block at a time, refusing what
cannot be read with a reason the person can act on."""

import codecs
import csv
import datetime
import io
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

from cases.intake.template import (
    XLSX_MAX_COLUMNS,
    ImportFileError,
    column_name,
)
from core.spreadsheets import check_xlsx_expansion


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


# Columns whose cells are each their row's own (a reference repeated is an error): one entry
# each in the dict of shared texts, for nothing.
OWN_COLUMNS = frozenset({"referencia"})


class _Shared:
    """One copy of each text a file repeats (its states, types, dates, outlets, cases), the
    columns in OWN_COLUMNS left out: a file's rows, once read, share them (without: +66 % of
    B1's Python allocations at 20,000 rows)."""

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


def _read_xlsx(source: BinaryIO) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:  # quick_check has seen its ZIP directory
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


def quick_check(source: BinaryIO, file_name: str) -> bool:
    """What can be told of a file without reading its rows (the upload page says it at
    once; the rest is for the preview): its size, that it is not empty, that an XLSX is a
    workbook that does not expand too far. True for an XLSX, False for a CSV."""
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
        check_xlsx_expansion(source, ImportFileError)
        return True
    if file_name.lower().endswith(".xls"):
        raise ImportFileError(_("Old Excel files (.xls) are not read: save it as XLSX."))
    return False


def read_table(data: bytes | BinaryIO, file_name: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) for every line of the first sheet or the CSV, header included.
    Raises ImportFileError for a file that cannot be read at all. `data`: the file's bytes,
    or the file itself (opened in binary, seekable), read a block at a time."""
    source = as_file(data)
    if quick_check(source, file_name):
        rows = _read_xlsx(source)
    else:
        rows = _read_csv(source)
    rows = [(line, cells) for line, cells in rows if any(cells)]
    if not rows:
        raise ImportFileError(_("The file is empty."))
    return rows
