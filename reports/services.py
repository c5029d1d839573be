import hashlib

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from reports.bulletin import bulletin_pdf
from reports.models import MonthlySnapshot
from reports.selectors import bulletin_figures, month_bounds, trend


@transaction.atomic
def month_publish(*, year: int, month: int, user: AbstractBaseUser) -> MonthlySnapshot:
    """Freeze the month's current figures as its published version (a new version if it was
    published before). Later reports then show as a revision, never silently."""
    first, _last = month_bounds(year, month)
    # Lock the month's versions: two reviewers publishing at once get 1 and 2, not 1 twice.
    existing = MonthlySnapshot.objects.select_for_update().filter(period=first)
    version = (existing.aggregate(latest=Max("version"))["latest"] or 0) + 1
    # What is published is public (the public bulletin and its PDF are made from this).
    figures = bulletin_figures(year, month)
    snapshot = MonthlySnapshot(period=first, version=version, figures=figures, published_by=user)
    # Its PDF is made now and kept with it: the snapshot is never written again.
    pdf = bulletin_pdf(
        figures=figures, trend=trend(year, month), year=year, month=month, version=snapshot
    )
    snapshot.pdf.save("bulletin.pdf", ContentFile(pdf), save=False)
    snapshot.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    snapshot.full_clean(validate_constraints=False)  # the unique version is the database's job
    snapshot._history_user = user
    snapshot._change_reason = _("Published")
    try:
        with transaction.atomic():
            snapshot.save()
    except IntegrityError:
        snapshot.pdf.storage.delete(snapshot.pdf.name)
        # Another reviewer published the same version a moment ago (nothing to lock yet).
        raise ValidationError(
            _("Someone else has just published this month: reload the page."), code="race"
        ) from None
    return snapshot
