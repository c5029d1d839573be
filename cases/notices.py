"""What the case workflow tells people (notifications.services.notify): a case sent back to
whoever submitted it, at once; an import's end to its uploader; and, each day `notify_due`
runs, the review queue to each reviewer (a digest). Only what the person may see."""

import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _

from cases.models import Case, ImportBatch
from notifications.kinds import Kind
from notifications.services import notify


def case_sent_back(case: Case, *, to, reason: str, by) -> None:
    """`to` (who sent the case to review) learns it came back, and why."""
    if to is None or not Case.objects.visible_to(to).filter(pk=case.pk).exists():
        return
    notify(
        kind=Kind.SENT_BACK,
        recipients=[to],
        key=f"sent-back:{case.pk}:v{case.version}",
        params={"case": case.title, "reason": reason},
        url=reverse("admin:cases_case_change", args=[case.pk]),
        by=by,
    )


def import_finished(batch: ImportBatch) -> None:
    """The uploader learns that their preview or import is done, or why it failed."""
    state = batch.task_state
    if state not in (ImportBatch.TaskState.DONE, ImportBatch.TaskState.FAILED):
        return

    def outcome(user) -> dict:
        if state == ImportBatch.TaskState.FAILED:
            text = _("failed, nothing was written: %(why)s") % {"why": batch.task_error}
        elif batch.task_kind == ImportBatch.TaskKind.PREVIEW:
            text = _("its preview is ready to check and confirm")
        else:
            text = _("done")
        return {"file": batch.file_name, "outcome": text}

    last = batch.history.order_by("-history_id").values_list("history_id", flat=True).first()
    notify(
        kind=Kind.IMPORT_DONE,
        recipients=[batch.created_by] if batch.created_by else [],
        key=f"import:{batch.pk}:{last}",
        params=outcome,
        url=reverse("admin:cases_importbatch_change", args=[batch.pk]),
        by=None,
    )


def review_digest(today: datetime.date) -> int:
    """Each reviewer with cases waiting for review that they may see: how many, once a day."""
    reviewers = (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(Q(groups__permissions__codename="verify_case") | Q(is_superuser=True))
        .distinct()
    )
    told = 0
    for reviewer in reviewers:
        waiting = Case.objects.visible_to(reviewer).filter(status=Case.Status.IN_REVIEW).count()
        if waiting:
            told += len(
                notify(
                    kind=Kind.REVIEW_QUEUE,
                    recipients=[reviewer],
                    key=f"review-queue:{today.isoformat()}",
                    params={"count": waiting},
                    url=reverse("admin:index") + "#review-queue",
                )
            )
    return told
