"""The lawyers' tracker: detentions, court cases (proceedings), hearings, legal actions."""

import datetime
import hashlib
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from cases.models import Case, Incident
from core.audit import AuditedQuerySet, ChainedHistory, Versioned
from core.encryption import EncryptedTextField
from organizations.models import Defender, Perpetrator

# COPP art. 230: pre-trial detention may not exceed two years.
PRETRIAL_LIMIT_YEARS = 2


def add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class DetentionQuerySet(AuditedQuerySet):
    def visible_to(self, user):
        return self.filter(incident__case__in=Case.objects.visible_to(user))

    def current(self):
        """Still deprived of liberty (house arrest included)."""
        return self.exclude(status__in=Detention.FREE_STATUSES)


class Detention(Versioned):
    class Status(models.TextChoices):
        INCOMMUNICADO = "incommunicado", _("Incommunicado")
        DETAINED = "detained", _("Detained")
        HOUSE_ARREST = "house_arrest", _("House arrest")
        CONDITIONAL_RELEASE = "conditional_release", _("Conditional release, reporting duty")
        RELEASED = "released", _("Released")
        WHEREABOUTS_UNKNOWN = "whereabouts_unknown", _("Whereabouts unknown")

    class ReleaseKind(models.TextChoices):
        UNCONDITIONAL = "unconditional", _("Unconditional")
        WITHOUT_CHARGES = "without_charges", _("Released without charges")
        ALTERNATIVE_MEASURES = "alternative_measures", _("Alternative measures")
        HUMANITARIAN = "humanitarian", _("Humanitarian release")
        AMNESTY = "amnesty", _("Amnesty or pardon")
        NOT_RECORDED = "not_recorded", _("Not recorded")

    class Counsel(models.TextChoices):
        CHOSEN = "chosen", _("Lawyer of their choice")
        PUBLIC_DEFENDER = "public_defender", _("Imposed public defender")
        NONE = "none", _("No counsel yet")

    FREE_STATUSES = (Status.RELEASED, Status.CONDITIONAL_RELEASE)

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    incident = models.OneToOneField(
        Incident,
        on_delete=models.PROTECT,
        related_name="detention",
        verbose_name=_("incident"),
        limit_choices_to={"type": Incident.Type.ARBITRARY_DETENTION},
    )
    arrested_on = models.DateField(_("arrested on"))
    arrested_at = models.TimeField(_("time of arrest"), null=True, blank=True)
    arrest_place = models.CharField(_("place of arrest"), max_length=255, blank=True)
    arresting_body = models.ForeignKey(
        Perpetrator,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="detentions",
        verbose_name=_("arresting body"),
    )
    incommunicado_until = models.DateTimeField(
        _("held incommunicado until"),
        null=True,
        blank=True,
        help_text=_(
            "When family or counsel first had news. 24 hours or more: risk of "
            "enforced disappearance."
        ),
    )
    place_of_detention = models.CharField(
        _("current place of detention"),
        max_length=255,
        blank=True,
        help_text=_("E.g. El Helicoide, Rodeo I. Record each move as a transfer."),
    )
    status = models.CharField(_("status"), max_length=24, choices=Status, default=Status.DETAINED)
    released_on = models.DateField(_("released on"), null=True, blank=True)
    release_kind = models.CharField(
        _("kind of release"), max_length=24, choices=ReleaseKind, blank=True
    )
    counsel = models.CharField(
        _("legal counsel"), max_length=16, choices=Counsel, default=Counsel.NONE
    )
    lawyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="detentions_followed",
        verbose_name=_("our lawyer"),
        help_text=_("Who in the legal team follows it (dashboard filter, calendar)."),
    )
    last_news_on = models.DateField(
        _("last news on"),
        null=True,
        blank=True,
        help_text=_("Date of the latest information about the detainee."),
    )
    health_notes = EncryptedTextField(
        _("health notes"),
        help_text=_(
            "Confidential and encrypted: only the case team and coordinators see it. "
            "Never exported."
        ),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = DetentionQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("detention")
        verbose_name_plural = _("detentions")
        ordering = ["arrested_on", "pk"]
        permissions = [("follow_detentions", _("Can follow detentions and court cases"))]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(released_on__isnull=True)
                | models.Q(released_on__gte=models.F("arrested_on")),
                name="legal_detention_released_after_arrest",
                violation_error_message=_("The release cannot come before the arrest."),
            ),
        ]

    def __str__(self):
        return f"{self.incident.target} — {date_format(self.arrested_on)}"

    def target_name_for(self, user) -> str:
        """Who was detained, as `user` may know them (a protected defender's pseudonym)."""
        defender = self.incident.defender
        return defender.name_for(user) if defender else str(self.incident.organization)

    @property
    def days_in_detention(self) -> int:
        """Whole days from the arrest to the release (or to today). Same day: 0."""
        end = self.released_on or timezone.localdate()
        return max((end - self.arrested_on).days, 0)

    @property
    def is_current(self) -> bool:
        return self.status not in self.FREE_STATUSES

    @property
    def incommunicado_hours(self) -> int | None:
        if self.incommunicado_until is None:
            return None
        arrest = datetime.datetime.combine(self.arrested_on, self.arrested_at or datetime.time())
        arrest = timezone.make_aware(arrest)
        return max(int((self.incommunicado_until - arrest).total_seconds() // 3600), 0)

    def clean(self):
        errors = {}
        if self.incident_id and self.incident.type != Incident.Type.ARBITRARY_DETENTION:
            errors["incident"] = _("A detention belongs to an arbitrary-detention incident.")
        if self.status in self.FREE_STATUSES and self.released_on is None:
            errors["released_on"] = _("Say when the person was released.")
        if self.released_on and self.status not in self.FREE_STATUSES:
            errors["status"] = _("A released person's status is released or conditional release.")
        if self.released_on and self.released_on > timezone.localdate():
            errors["released_on"] = _("The date is in the future: enter when it happened.")
        if errors:
            raise ValidationError(errors)


class Transfer(Versioned):
    detention = models.ForeignKey(
        Detention, on_delete=models.CASCADE, related_name="transfers", verbose_name=_("detention")
    )
    moved_on = models.DateField(_("moved on"))
    place = models.CharField(_("to"), max_length=255)
    note = models.CharField(_("note"), max_length=500, blank=True)

    objects = AuditedQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["moved_on", "pk"]

    def __str__(self):
        return f"{date_format(self.moved_on)} → {self.place}"


class Charge(models.Model):
    """A criminal charge brought against defenders (vocabulary, seeded by a migration)."""

    class Code(models.TextChoices):
        TREASON = "treason", _("Treason")
        TERRORISM = "terrorism", _("Terrorism")
        INCITEMENT_TO_HATRED = "incitement_to_hatred", _("Incitement to hatred")
        CRIMINAL_ASSOCIATION = "criminal_association", _("Criminal association")
        TERRORISM_FINANCING = "terrorism_financing", _("Financing of terrorism")
        CONSPIRACY = "conspiracy", _("Conspiracy")
        OTHER = "other", _("Other")

    code = models.CharField(_("code"), max_length=32, choices=Code, unique=True)

    class Meta:
        verbose_name = _("charge")
        verbose_name_plural = _("charges")
        ordering = ["code"]

    def __str__(self):
        return str(self.get_code_display())


class ProceedingQuerySet(AuditedQuerySet):
    def visible_to(self, user):
        visible = Incident.objects.visible_to(user)
        return self.exclude(incidents__in=Incident.objects.exclude(pk__in=visible.values("pk")))


class Proceeding(Versioned):
    class Stage(models.TextChoices):
        INVESTIGATION = "investigation", _("Investigation")
        PRELIMINARY_HEARING = "preliminary_hearing", _("Preliminary hearing")
        TRIAL = "trial", _("Trial")
        SENTENCED = "sentenced", _("Sentenced")
        DISMISSED = "dismissed", _("Dismissed")
        CLOSED = "closed", _("Amnesty or closed")

    ENDED_STAGES = (Stage.SENTENCED, Stage.DISMISSED, Stage.CLOSED)

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    court = models.CharField(_("court"), max_length=300)
    case_file_number = models.CharField(
        _("case file number"),
        max_length=100,
        blank=True,
        help_text=_("Seen only by the legal team."),
    )
    judge = models.CharField(_("judge"), max_length=255, blank=True)
    charges = models.ManyToManyField(Charge, blank=True, verbose_name=_("charges"))
    stage = models.CharField(_("stage"), max_length=24, choices=Stage, default=Stage.INVESTIGATION)
    defendants = models.ManyToManyField(
        Defender, related_name="proceedings", verbose_name=_("defendants")
    )
    incidents = models.ManyToManyField(
        Incident, blank=True, related_name="proceedings", verbose_name=_("linked incidents")
    )
    pretrial_detention_since = models.DateField(
        _("pre-trial detention since"),
        null=True,
        blank=True,
        help_text=_("Alert when it passes two years (COPP art. 230)."),
    )
    lawyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="proceedings_followed",
        verbose_name=_("our lawyer"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = ProceedingQuerySet.as_manager()
    history = HistoricalRecords(
        bases=[ChainedHistory],
        m2m_fields=[charges, defendants, incidents],
        m2m_bases=[ChainedHistory],
    )

    class Meta:
        verbose_name = _("court case")
        verbose_name_plural = _("court cases")
        ordering = ["court", "pk"]
        permissions = [("view_case_file_number", _("Can see case file numbers"))]

    def __str__(self):
        return f"{self.court} ({self.get_stage_display()})"

    @property
    def pretrial_limit(self) -> datetime.date | None:
        if self.pretrial_detention_since is None:
            return None
        return add_years(self.pretrial_detention_since, PRETRIAL_LIMIT_YEARS)

    @property
    def pretrial_limit_passed(self) -> bool:
        limit = self.pretrial_limit
        return (
            limit is not None
            and self.stage not in self.ENDED_STAGES
            and timezone.localdate() >= limit
        )


class Hearing(Versioned):
    class Kind(models.TextChoices):
        PRESENTATION = "presentation", _("Presentation hearing")
        PRELIMINARY = "preliminary", _("Preliminary hearing")
        TRIAL = "trial", _("Trial hearing")
        APPEAL = "appeal", _("Appeal")
        OTHER = "other", _("Other")

    class DeferralReason(models.TextChoices):
        NO_SESSION = "no_session", _("Court did not sit (“no despacho”)")
        NO_TRANSFER = "no_transfer", _("Detainee not brought (“no traslado”)")
        PROSECUTOR_ABSENT = "prosecutor_absent", _("Prosecutor absent")
        JUDGE_ABSENT = "judge_absent", _("Judge absent")
        DEFENCE_ABSENT = "defence_absent", _("Defence absent")
        OTHER = "other", _("Other")

    proceeding = models.ForeignKey(
        Proceeding, on_delete=models.CASCADE, related_name="hearings", verbose_name=_("court case")
    )
    scheduled_on = models.DateField(_("date"))
    scheduled_at = models.TimeField(_("time"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind, default=Kind.PRELIMINARY)
    held = models.BooleanField(
        _("held"),
        null=True,
        blank=True,
        help_text=_("Yes: it took place. No: deferred. Empty: not yet known."),
    )
    deferral_reason = models.CharField(
        _("deferral reason"), max_length=24, choices=DeferralReason, blank=True
    )
    outcome = models.TextField(_("outcome"), blank=True)
    next_on = models.DateField(_("next date"), null=True, blank=True)

    objects = AuditedQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("hearing")
        verbose_name_plural = _("hearings")
        ordering = ["scheduled_on", "pk"]
        indexes = [
            # Dashboard and calendar: hearings by date.
            models.Index(fields=["scheduled_on"], name="legal_hearing_date_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} — {date_format(self.scheduled_on)}"

    def clean(self):
        if self.held is False and not self.deferral_reason:
            raise ValidationError({"deferral_reason": _("Say why the hearing was deferred.")})
        if self.held is not False and self.deferral_reason:
            raise ValidationError(
                {"deferral_reason": _("Only a deferred hearing has a deferral reason.")}
            )


class LegalActionQuerySet(AuditedQuerySet):
    def visible_to(self, user):
        """Actions whose court case, detention and defender (each, if it has one) `user` may
        see: an action about a protected defender is for those who follow them."""
        return (
            self.exclude(
                proceeding__in=Proceeding.objects.exclude(
                    pk__in=Proceeding.objects.visible_to(user).values("pk")
                )
            )
            .exclude(
                detention__in=Detention.objects.exclude(
                    pk__in=Detention.objects.visible_to(user).values("pk")
                )
            )
            .exclude(
                defender__in=Defender.objects.exclude(
                    pk__in=Defender.objects.visible_to(user).values("pk")
                )
            )
        )


class LegalAction(Versioned):
    class Kind(models.TextChoices):
        HABEAS_CORPUS = "habeas_corpus", _("Habeas corpus")
        AMPARO = "amparo", _("Amparo")
        IACHR_MEASURES = "iachr_measures", _("IACHR precautionary measures")
        WGAD_PETITION = "wgad_petition", _("UN WGAD petition")
        URGENT_APPEAL = "urgent_appeal", _("Urgent appeal")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        FILED = "filed", _("Filed")
        ADMITTED = "admitted", _("Admitted")
        GRANTED = "granted", _("Granted")
        DENIED = "denied", _("Denied")
        NO_ANSWER = "no_answer", _("No answer")
        CLOSED = "closed", _("Closed")

    # What it is about: a court case, a detention, a defender (at least one). A habeas
    # corpus or an IACHR request often comes before any court case.
    proceeding = models.ForeignKey(
        Proceeding,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="legal_actions",
        verbose_name=_("court case"),
    )
    detention = models.ForeignKey(
        Detention,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="legal_actions",
        verbose_name=_("detention"),
    )
    defender = models.ForeignKey(
        Defender,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="legal_actions",
        verbose_name=_("defender"),
        help_text=_(
            "For an action that protects a person (precautionary measures) with no detention."
        ),
    )
    kind = models.CharField(_("kind"), max_length=24, choices=Kind)
    filed_on = models.DateField(_("filed on"))
    body = models.CharField(
        _("before"), max_length=255, help_text=_("Court or international body.")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status, default=Status.FILED)
    outcome = models.TextField(_("outcome"), blank=True)

    # Added after the first release (core.audit.ChainedHistory._added_later).
    HISTORY_ADDED_LATER = {"detention_id": None, "defender_id": None}
    objects = LegalActionQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("legal action")
        verbose_name_plural = _("legal actions")
        ordering = ["filed_on", "pk"]

    def __str__(self):
        return f"{self.get_kind_display()} — {date_format(self.filed_on)}"

    def clean(self):
        if not (self.proceeding_id or self.detention_id or self.defender_id):
            raise ValidationError(
                _("Say what the action is about: a court case, a detention or a defender.")
            )


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CalendarToken(models.Model):
    """A lawyer's private calendar feed address; stored hashed, revocable."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="calendar_tokens",
        verbose_name=_("user"),
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    with_case_numbers = models.BooleanField(
        _("with case numbers"),
        default=False,
        help_text=_(
            "Each hearing also names the number of its case in this system (never a name)."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("calendar link")
        verbose_name_plural = _("calendar links")

    def __str__(self):
        return f"{self.user} — {date_format(timezone.localtime(self.created_at))}"
