"""What the system tells people, each kind with its message (formatted with the
notification's params, in the reader's language) and the channels it uses unless the person
chooses otherwise."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy


class Kind(models.TextChoices):
    NEW_DETENTION = "new_detention", _("A new detention in my caseload")
    INCOMMUNICADO = "incommunicado", _("No contact 24 hours after an arrest")
    HEARING_TOMORROW = "hearing_tomorrow", _("A hearing tomorrow")
    PRETRIAL_LIMIT = "pretrial_limit", _("The two-year limit of pre-trial detention in 30 days")
    SENT_BACK = "sent_back", _("A case sent back to me")
    REVIEW_QUEUE = "review_queue", _("The review queue (daily digest)")
    IMPORT_DONE = "import_done", _("My import finished or failed")


class Channel(models.TextChoices):
    APP = "app", _("In the app")
    EMAIL = "email", _("By e-mail")


MESSAGES = {
    Kind.NEW_DETENTION: _("New detention: %(name)s, arrested on %(date)s by %(body)s."),
    Kind.INCOMMUNICADO: _(
        "%(name)s was arrested on %(date)s and no contact has been recorded for 24 hours: "
        "possibly held incommunicado."
    ),
    Kind.HEARING_TOMORROW: _("Hearing tomorrow, %(date)s%(time)s: %(kind)s at %(court)s."),
    Kind.PRETRIAL_LIMIT: _(
        "Pre-trial detention reaches two years (COPP art. 230) on %(date)s: %(court)s."
    ),
    Kind.SENT_BACK: _("“%(case)s” was sent back to you: %(reason)s"),
    Kind.REVIEW_QUEUE: ngettext_lazy(
        "%(count)s case is waiting for review.", "%(count)s cases are waiting for review.", "count"
    ),
    Kind.IMPORT_DONE: _("Import of “%(file)s”: %(outcome)s."),
}

# Unless a person chooses otherwise: everything in the app; by e-mail what cannot wait.
DEFAULT_CHANNELS = {
    kind: {Channel.APP, Channel.EMAIL} if kind != Kind.IMPORT_DONE else {Channel.APP}
    for kind in Kind
}
