from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from reports.models import MonthlySnapshot
from reports.selectors import month_bounds, monthly_figures


@transaction.atomic
def month_publish(*, year: int, month: int, user: AbstractBaseUser) -> MonthlySnapshot:
    """Freeze the month's current figures as its published version (a new version if it was
    published before). Later reports then show as a revision, never silently."""
    first, _last = month_bounds(year, month)
    # Lock the month's versions: two reviewers publishing at once get 1 and 2, not 1 twice.
    existing = MonthlySnapshot.objects.select_for_update().filter(period=first)
    version = (existing.aggregate(latest=Max("version"))["latest"] or 0) + 1
    snapshot = MonthlySnapshot(
        period=first, version=version, figures=monthly_figures(year, month), published_by=user
    )
    snapshot.full_clean()
    snapshot._history_user = user
    snapshot._change_reason = _("Published")
    snapshot.save()
    return snapshot
