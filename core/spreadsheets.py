"""Spreadsheets people open and spreadsheets people send: cells that a spreadsheet program
would run as formulas, and workbooks that would decompress far beyond their size."""

import zipfile
from typing import BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP "CSV injection"): names and
    places are typed by people, sometimes pasted from social media."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


MB = 1024 * 1024
# The most a part of a real workbook expands, and the most that is decompressed at all: a
# 100,000-row sheet (the most rows read) is about 100 MB of XML, 17 times its compressed size.
XLSX_MAX_RATIO = 100
XLSX_MAX_PARTS = 10_000


def check_xlsx_expansion(source: BinaryIO, refuse: type[Exception] = ValueError) -> None:
    """Raise `refuse` (an exception class) for a workbook that would expand far beyond its
    size (a decompression bomb), told by the ZIP's central directory before anything is
    decompressed. The sizes it declares are the most zipfile (and so openpyxl) will ever
    decompress."""
    try:
        with zipfile.ZipFile(source) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise refuse(
            _("The file is not a readable XLSX workbook (%(error)s). Save it again as XLSX or CSV.")
            % {"error": type(error).__name__}
        ) from None
    finally:
        source.seek(0)
    limit = settings.IMPORT_MAX_UNCOMPRESSED_MEGABYTES
    total = sum(part.file_size for part in parts)
    if len(parts) > XLSX_MAX_PARTS or total > limit * MB:
        raise refuse(
            _(
                "Decompressed, this workbook would take %(size)d MB, and at most %(max)d MB are "
                "read: split it into several files, or save it as CSV."
            )
            % {"size": total // MB, "max": limit}
        )
    for part in parts:
        if part.file_size > MB and part.file_size > XLSX_MAX_RATIO * max(part.compress_size, 1):
            raise refuse(
                _(
                    "A part of this workbook (%(part)s) decompresses to %(ratio)d times its "
                    "size: it is not an ordinary spreadsheet. Save it again as XLSX or CSV."
                )
                % {
                    "part": part.filename[:100],
                    "ratio": part.file_size // max(part.compress_size, 1),
                }
            )
