"""The words of evidence, for search: a PDF's text layer, an HTML page's text (without its
scripts), a plain-text file, and, where Tesseract with its Spanish data is installed, what
OCR reads in an image or a scanned PDF. Without Tesseract everything else still works, and
the note on the source says that the image could not be read.

A source's file is read by a task after its save commits (`source_text_queue`); archived
copies are read when fetched (cases.archiving)."""

import dataclasses
import functools
import html.parser
import io
import logging
import re
import shutil
import subprocess  # nosec B404: tesseract, by its full path, with fixed arguments

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from cases.models import ArchivedCopy, Source, SourceText

logger = logging.getLogger(__name__)
MAX_TEXT = 1_000_000  # characters kept
MAX_TEXT_BYTES = 8 * MAX_TEXT  # bytes of a page or text file read for them
MAX_PDF_PAGES = 500  # pages read for their text layer
MAX_OCR_PAGES = 20  # pages of a scan sent to OCR
OCR_SECONDS = 120  # per image
OCR_DPI = 200
MAX_PIXELS = 40_000_000  # a rendered page (an A4 at 200 dpi is 3.7 million)
MAX_IMAGE_BYTES = 50 * 1024 * 1024
# A PDF with fewer characters per page than this is taken for a scan.
SCANNED_BELOW = 20

HTML_TYPES = {"text/html", "application/xhtml+xml"}
IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "tif", "tiff", "bmp", "gif", "webp"}


@dataclasses.dataclass(frozen=True)
class Read:
    text: str
    method: str  # SourceText.Method
    note: str = ""


class _Text(html.parser.HTMLParser):
    """The words of a page, without its scripts and styles."""

    SKIPPED = {"script", "style", "noscript", "template"}

    def __init__(self):
        super().__init__()
        self.parts, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skipping += 1

    def handle_endtag(self, tag):
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\x00", " ")).strip()[:MAX_TEXT]


def html_text(body: bytes) -> str:
    parser = _Text()
    parser.feed(body.decode("utf-8", errors="replace"))
    return _tidy(" ".join(parser.parts))


@functools.cache
def tesseract() -> str | None:
    """Tesseract's path if it is installed with its Spanish data, else None."""
    path = shutil.which("tesseract")
    if path is None:
        return None
    try:
        listed = subprocess.run(  # nosec B603: fixed arguments
            [path, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return path if "spa" in (listed.stdout + listed.stderr).split() else None


def ocr_missing_note() -> str:
    return _(
        "Not read: optical character recognition needs Tesseract with its Spanish data "
        "(tesseract-ocr-spa), which is not installed here."
    )


def ocr_image(image) -> str:
    """What Tesseract reads in an image (bytes or a binary file), in Spanish (then English).
    The image goes through a pipe: no decrypted copy of the evidence is left on disk."""
    path = tesseract()
    if path is None:
        raise RuntimeError(ocr_missing_note())
    data = image if isinstance(image, bytes) else image.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise RuntimeError(_("The image is too large to be read."))
    done = subprocess.run(  # nosec B603: fixed arguments
        [path, "stdin", "stdout", "-l", "spa+eng"],
        input=data,
        capture_output=True,
        timeout=OCR_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode("utf-8", errors="replace")[-300:])
    return done.stdout.decode("utf-8", errors="replace")


def pdf_text(handle, *, ocr: bool = True) -> Read:
    """The text layer of a PDF (a seekable binary file: read page by page, not whole); a
    scan (next to no text) through OCR where it can."""
    import pypdf

    reader = pypdf.PdfReader(handle)
    pages = reader.pages[:MAX_PDF_PAGES]
    text = _tidy(" ".join(page.extract_text() or "" for page in pages))
    note = ""
    if len(reader.pages) > MAX_PDF_PAGES:
        note = _("Only the first %(n)d pages were read.") % {"n": MAX_PDF_PAGES}
    if len(text) >= SCANNED_BELOW * len(pages):
        return Read(text, SourceText.Method.PDF, note)
    if not ocr:
        return Read(text, SourceText.Method.PDF, note)
    if tesseract() is None:
        return Read(text, SourceText.Method.PDF, ocr_missing_note())
    import pypdfium2

    handle.seek(0)
    document = pypdfium2.PdfDocument(handle)
    read = []
    for index in range(min(len(document), MAX_OCR_PAGES)):
        page = document[index]
        width, height = page.get_size()  # points
        # OCR_DPI, unless the page is so large that its image would exceed MAX_PIXELS.
        scale = min(OCR_DPI / 72, (MAX_PIXELS / max(width * height, 1)) ** 0.5)
        image = page.render(scale=scale).to_pil()
        png = io.BytesIO()
        image.save(png, format="PNG")
        read.append(ocr_image(png.getvalue()))
    if len(document) > MAX_OCR_PAGES:
        note = _("Only the first %(n)d pages were read by OCR.") % {"n": MAX_OCR_PAGES}
    return Read(_tidy(" ".join(read)), SourceText.Method.OCR, note)


def read_text(body, *, content_type: str = "", name: str = "", ocr: bool = True) -> Read:
    """The words of a file or page (bytes, or a seekable binary file, read as far as it
    needs), by its type (or, failing that, its name's extension); images and scans through
    OCR unless `ocr` is false."""
    handle = io.BytesIO(body) if isinstance(body, bytes) else body
    start = handle.read(5)
    handle.seek(0)
    kind = content_type.split(";")[0].strip().lower()
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if kind == "application/pdf" or extension == "pdf" or start == b"%PDF-":
        return pdf_text(handle, ocr=ocr)
    if kind in HTML_TYPES or extension in ("html", "htm", "xhtml"):
        return Read(html_text(handle.read(MAX_TEXT_BYTES)), SourceText.Method.HTML)
    if kind == "text/plain" or extension in ("txt", "md", "csv"):
        plain = handle.read(MAX_TEXT_BYTES).decode("utf-8", errors="replace")
        return Read(_tidy(plain), SourceText.Method.PLAIN)
    if (kind.startswith("image/") or extension in IMAGE_EXTENSIONS) and ocr:
        if tesseract() is None:
            return Read("", SourceText.Method.NONE, ocr_missing_note())
        return Read(_tidy(ocr_image(handle)), SourceText.Method.OCR)
    return Read("", SourceText.Method.NONE, _("No text is read from this kind of file."))


def source_text_forget(source: Source) -> None:
    """Drop text that no longer belongs to the source: its file changed or went, or it is
    confidential now. A confidential source's words are never kept for the search: they
    would sit in the database and its index in clear, while its file is encrypted."""
    stale = SourceText.objects.filter(source=source)
    if source.file and source.sha256 and not source.confidential:
        stale = stale.exclude(sha256=source.sha256)
    stale.delete()
    if source.confidential:
        ArchivedCopy.objects.filter(source=source).exclude(text="").update(text="")


def source_text_queue(source: Source) -> None:
    """Read the source's file once the save commits, if it is not read from this file yet
    (never a confidential source's)."""
    source_text_forget(source)
    if not source.file or not source.sha256 or source.confidential:
        return
    if SourceText.objects.filter(source=source, sha256=source.sha256).exists():
        return
    source_id = source.pk
    transaction.on_commit(lambda: source_text_extract.enqueue(source_id))


@task()
def source_text_extract(source_id: int) -> None:
    source_text_read(source_id)


def source_text_read(source_id: int) -> SourceText | None:
    """Read one source's file into its SourceText (replacing what an older file gave)."""
    source = Source.objects.filter(pk=source_id, confidential=False).exclude(file="").first()
    if source is None:
        return None
    try:
        with source.file.open("rb") as handle:  # decrypted as it is read
            read = read_text(handle, name=source.file.name)
    except Exception as error:  # a damaged file: say so, keep the source as it is
        logger.warning("Reading the file of source %s failed: %s", source_id, error)
        read = Read(
            "",
            SourceText.Method.NONE,
            (_("The file could not be read: %(why)s") % {"why": error})[:500],
        )
    stored, _created = SourceText.objects.update_or_create(
        source=source,
        defaults={
            "sha256": source.sha256,
            "method": read.method,
            "text": read.text,
            "note": read.note[:500],
            "read_at": timezone.now(),
        },
    )
    return stored
