"""Archiving the links sources cite: a post deleted within days is still evidence. When a
source's link is saved, a task fetches it once (core.safe_http: public addresses only,
redirects checked, bounded in size and time), keeps the page as it came (a PDF stays a PDF)
with its text, SHA-256, time and HTTP status, and tries again later if the site is down;
`archive_due` sends what is due again. Copies are seen only by those who may see the source."""

import datetime
import hashlib
import logging

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task

from cases import extraction
from cases.models import ArchivedCopy, Source
from core import safe_http

logger = logging.getLogger(__name__)
MAX_BACKOFF = datetime.timedelta(hours=12)


def archive_queue(source: Source) -> ArchivedCopy | None:
    """A copy of the source's link to be fetched (once the save commits); None if it has no
    link or its link is already archived or waiting."""
    # A confidential source's link is not fetched by us: our request would tell its site
    # (perhaps the perpetrator's, or a witness's shared document) that we hold it.
    if not source.url or source.confidential:
        return None
    if source.archives.filter(url=source.url).exclude(state=ArchivedCopy.State.FAILED).exists():
        return None
    copy = ArchivedCopy.objects.create(source=source, url=source.url)
    transaction.on_commit(lambda: archive_fetch.enqueue(copy.pk))
    return copy


@task()
def archive_fetch(copy_id: int) -> None:
    archive_attempt(copy_id, timezone.now())


def archive_attempt(copy_id: int, now: datetime.datetime) -> ArchivedCopy | None:
    """Fetch one copy if it is due; record what happened. The copy is claimed first (its
    next try moved on), so a second worker skips it; the fetch holds no transaction open."""
    with transaction.atomic():
        copy = (
            ArchivedCopy.objects.select_for_update()
            .filter(pk=copy_id, state=ArchivedCopy.State.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if copy is None:
            return None  # done already, or not due yet (a task delivered twice)
        copy.attempts += 1
        copy.next_attempt_at = now + datetime.timedelta(
            seconds=settings.ARCHIVE_TIMEOUT_SECONDS * 3
        )
        copy.save(update_fields=["attempts", "next_attempt_at"])
    try:
        fetched = safe_http.fetch(
            copy.url,
            max_bytes=settings.ARCHIVE_MAX_BYTES,
            timeout=settings.ARCHIVE_TIMEOUT_SECONDS,
            trusted=frozenset(settings.ARCHIVE_TRUSTED_HOSTS),
            user_agent="Mozilla/5.0 (compatible)",
        )
    except safe_http.Refused as refused:
        copy.state, copy.note = ArchivedCopy.State.REFUSED, str(refused)[:500]
    except safe_http.Unreachable as down:
        _later(copy, now, _("Not reached: %(why)s") % {"why": down})
    except Exception as error:  # anything else: say so and stop, rather than try for ever
        logger.exception("Archiving %s failed", copy.pk)
        copy.state = ArchivedCopy.State.FAILED
        copy.note = (_("It could not be archived: %(why)s") % {"why": error})[:500]
    else:
        if fetched.status >= 500:
            _later(copy, now, _("The site answered %(status)d.") % {"status": fetched.status})
        else:
            _keep(copy, fetched, now)
    copy.save()
    return copy


def _later(copy: ArchivedCopy, now, why: str) -> None:
    """Try again after 5, 10, 20… minutes (at most 12 hours apart), then give up."""
    copy.note = why[:500]
    if copy.attempts >= settings.ARCHIVE_MAX_ATTEMPTS:
        copy.state = ArchivedCopy.State.FAILED
        return
    copy.next_attempt_at = now + min(
        datetime.timedelta(minutes=5 * 2 ** (copy.attempts - 1)), MAX_BACKOFF
    )


def _keep(copy: ArchivedCopy, fetched: safe_http.Fetched, now) -> None:
    kind = fetched.content_type.split(";")[0].strip().lower()
    extension = {"text/html": "html", "application/pdf": "pdf", "text/plain": "txt"}.get(
        kind, "bin"
    )
    copy.file.save(f"copia.{extension}", ContentFile(fetched.body), save=False)
    copy.sha256 = hashlib.sha256(fetched.body).hexdigest()
    copy.size = len(fetched.body)
    copy.truncated = fetched.truncated
    copy.http_status, copy.final_url = fetched.status, fetched.url[:2000]
    copy.content_type, copy.fetched_at = fetched.content_type, now
    copy.text, text_note = page_text(fetched.body, kind)
    copy.state = ArchivedCopy.State.DONE if fetched.status < 400 else ArchivedCopy.State.FAILED
    notes = []
    if fetched.truncated:
        notes.append(
            _("Cut off at %(mb)s MB: the rest of the page was not kept.")
            % {"mb": settings.ARCHIVE_MAX_BYTES // (1024 * 1024) or 1}
        )
    if fetched.status >= 400:
        notes.append(_("The site answered %(status)d.") % {"status": fetched.status})
    if text_note:
        notes.append(text_note)
    copy.note = " ".join(notes)[:500]


def page_text(body: bytes, content_type: str) -> tuple[str, str]:
    """The words of a fetched page or document (cases.extraction), and a note if some could
    not be read."""
    try:
        # No OCR here: it could outlast the fetch's claim on the copy.
        read = extraction.read_text(body, content_type=content_type, ocr=False)
    except Exception as error:  # a damaged document is still kept as it came
        logger.warning("Reading an archived copy failed: %s", error)
        return "", _("Its text could not be read: %(why)s") % {"why": error}
    return read.text, read.note


def archive_due(now: datetime.datetime | None = None) -> int:
    """Fetch every copy whose next try is due (sites that were down). Returns how many
    were tried."""
    now = now or timezone.now()
    due = ArchivedCopy.objects.filter(
        state=ArchivedCopy.State.PENDING, next_attempt_at__lte=now
    ).values_list("pk", flat=True)
    return sum(archive_attempt(pk, now) is not None for pk in list(due))
