import calendar
import datetime
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.access import is_ally, sees_everything
from cases.storage import source_storage
from core.audit import AuditedQuerySet, ChainedHistory, Versioned
from core.encryption import EncryptedTextField
from core.fields import URLField
from organizations.models import Defender, Organization, Perpetrator
from organizations.vocabularies import State


class CaseQuerySet(AuditedQuerySet):
    def visible_to(self, user):
        """Restricted cases only for their team (and those who see everything); for allies,
        only what has been published and is public."""
        if not user.is_authenticated:
            return self.none()
        if is_ally(user):
            return self.shared_with_allies()
        if sees_everything(user):
            return self
        team_cases = Case.team.through.objects.filter(user=user).values("case_id")
        return self.filter(
            ~models.Q(confidentiality=Case.Confidentiality.RESTRICTED) | models.Q(pk__in=team_cases)
        )

    def shared_with_allies(self):
        return self.filter(**Case.SHARED_WITH_ALLIES)

    def of_team(self, user):
        """Cases whose team `user` is on (what "the case team" sees)."""
        return self.filter(pk__in=Case.team.through.objects.filter(user=user).values("case_id"))

    def editable_by(self, user):
        """Cases whose content `user` may change (see Case.is_editable_by)."""
        statuses = list(Case.OPEN_STATUSES)
        if user.has_perm("cases.verify_case"):
            statuses += Case.COUNTED_STATUSES
        return self.filter(status__in=statuses)


class Case(Versioned):
    """One story of what happened; it groups the incidents that are counted."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        IN_REVIEW = "in_review", _("In review")
        VERIFIED = "verified", _("Verified")
        PUBLISHED = "published", _("Published")
        RETRACTED = "retracted", _("Retracted")

    class Confidentiality(models.TextChoices):
        PUBLIC = "public", _("Public")
        INTERNAL = "internal", _("Internal")
        RESTRICTED = "restricted", _("Restricted")

    # Reports count only incidents of cases in these statuses (docs/architecture.md).
    COUNTED_STATUSES = (Status.VERIFIED, Status.PUBLISHED)
    # Anyone who may change cases edits these; counted cases only reviewers (they change the
    # figures); a retracted case nobody.
    OPEN_STATUSES = (Status.DRAFT, Status.IN_REVIEW)
    # The fields a case's own form edits; status changes only through case_transition.
    EDITABLE_FIELDS = ("title", "summary", "confidentiality", "state", "place")
    # What allies receive (the API): published and public, nothing else.
    SHARED_WITH_ALLIES = {"status": Status.PUBLISHED, "confidentiality": Confidentiality.PUBLIC}
    # The workflow: which status may follow which. Retraction replaces deletion.
    TRANSITIONS = {
        Status.DRAFT: (Status.IN_REVIEW,),
        Status.IN_REVIEW: (Status.DRAFT, Status.VERIFIED),
        Status.VERIFIED: (Status.IN_REVIEW, Status.PUBLISHED, Status.RETRACTED),
        Status.PUBLISHED: (Status.RETRACTED,),
        Status.RETRACTED: (),
    }

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(
        _("title"),
        max_length=300,
        help_text=_(
            "Who, what, where, when: e.g. “Detention of FundaRedes activists, Coro, 2 July 2021”."
        ),
    )
    summary = models.TextField(_("summary"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status, default=Status.DRAFT, editable=False
    )
    confidentiality = models.CharField(
        _("confidentiality"),
        max_length=16,
        choices=Confidentiality,
        default=Confidentiality.INTERNAL,
        help_text=_(
            "Public: may be published and shared with allies. Internal: staff only. "
            "Restricted: only the case team and coordinators."
        ),
    )
    state = models.CharField(_("state"), max_length=4, choices=State, blank=True)
    place = models.CharField(
        _("place"), max_length=255, blank=True, help_text=_("Town, municipality or site.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by"),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        editable=False,
        related_name="+",
        verbose_name=_("updated by"),
    )
    team = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="case_teams",
        verbose_name=_("case team"),
        help_text=_(
            "Staff assigned to the case (by coordinators; whoever records a case is on it). "
            "Only they and coordinators see it when it is restricted, its confidential "
            "sources, witnesses and contacts, and the names of protected defenders."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    import_batch = models.ForeignKey(
        "cases.ImportBatch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="%(class)ss",
        verbose_name=_("created by import"),
    )
    import_origin = models.CharField(_("import origin"), max_length=100, blank=True, editable=False)
    import_ref = models.CharField(
        _("reference in the import"),
        max_length=100,
        blank=True,
        editable=False,
        help_text=_("The “caso” column of the spreadsheet (or the row, if it had none)."),
    )

    # Destacado: a reviewer picks a published public case for the month's bulletin, with
    # one line that says why it matters (cases.workflow.case_highlight).
    highlight = models.CharField(
        _("highlighted in the bulletin"),
        max_length=200,
        blank=True,
        editable=False,
        help_text=_("One line for the bulletin's narrative; empty when not highlighted."),
    )
    highlighted_at = models.DateTimeField(
        _("highlighted at"), null=True, blank=True, editable=False
    )

    # Added after the first release (core.audit.ChainedHistory._added_later).
    HISTORY_ADDED_LATER = {"highlight": "", "highlighted_at": None}
    objects = CaseQuerySet.as_manager()
    history = HistoricalRecords(
        bases=[ChainedHistory], m2m_fields=[team], m2m_bases=[ChainedHistory]
    )

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created_at"]
        permissions = [
            ("submit_case", _("Can send cases to review")),
            ("verify_case", _("Can verify cases")),
            ("publish_case", _("Can publish cases")),
            ("retract_case", _("Can retract cases")),
            ("view_all_cases", _("Can see restricted cases and protected identities")),
            ("change_case_team", _("Can change who is on a case's team")),
        ]
        constraints = [
            # Re-imports find the case of a spreadsheet's "caso" by it.
            models.UniqueConstraint(
                fields=["import_origin", "import_ref"],
                condition=~models.Q(import_ref=""),
                name="cases_case_unique_import_ref",
            ),
        ]
        indexes = [
            # Incident.objects.counted() joins each incident to its case and keeps the
            # cases in COUNTED_STATUSES; the admin's status filter uses it too.
            models.Index(fields=["status"], name="cases_case_status_idx"),
        ]

    def __str__(self):
        return self.title

    def can_move_to(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]

    def is_on_team(self, user) -> bool:
        """Whether `user` is on this case's team, or sees everything (coordinators): who may
        see and edit its witnesses, contacts and health notes. A new case's recorder is."""
        if is_ally(user) or not user.is_authenticated:
            return False
        if self.pk is None or sees_everything(user):
            return True
        return self.team.filter(pk=user.pk).exists()

    def is_editable_by(self, user) -> bool:
        """Whether `user`, who may change cases, may change this one and what it holds."""
        if self.status in self.OPEN_STATUSES:
            return True
        return self.status in self.COUNTED_STATUSES and user.has_perm("cases.verify_case")


class IncidentQuerySet(AuditedQuerySet):
    def visible_to(self, user):
        if user.is_authenticated and not is_ally(user) and sees_everything(user):
            return self.all()
        return self.filter(case__in=Case.objects.visible_to(user))

    def counted(self, *, per_row: bool = False):
        """Incidents that reports count: case verified or published, not a duplicate.

        `per_row` looks each incident's case up by its key instead of joining the cases
        table: for a date range (a month's report), whose cost then grows with the range and
        not with the table. PostgreSQL would otherwise hash-join the range to every counted
        case, a scan that grows with the database (make bench, B3)."""
        if not per_row:
            return self.filter(case__status__in=Case.COUNTED_STATUSES, duplicate_of__isnull=True)
        status = Case.objects.filter(pk=models.OuterRef("case_id")).order_by().values("status")
        return self.alias(case_status=models.Subquery(status)).filter(
            case_status__in=Case.COUNTED_STATUSES, duplicate_of__isnull=True
        )

    def in_month(self, year: int, month: int):
        """Incidents dated in that month (day or month precision; year-precision ones
        belong to annual figures only)."""
        if not 1 <= month <= 12:
            raise ValueError(f"month must be 1–12, not {month}")
        first = datetime.date(year, month, 1)
        last = first.replace(day=calendar.monthrange(year, month)[1])
        return self.filter(
            occurred_on__range=(first, last),
            date_precision__in=(Incident.DatePrecision.DAY, Incident.DatePrecision.MONTH),
        )

    def in_year(self, year: int):
        """Incidents dated in that year, whatever their precision."""
        return self.filter(occurred_on__year=year)


class Incident(Versioned):
    """The counting unit: one type of attack against one target on one date."""

    class Type(models.TextChoices):
        # CDJ's eight patterns first, then acts of the HURIDOCS events format seen
        # against defenders. Codes are stable; only labels are translated.
        STIGMATIZATION = "stigmatization", _("Stigmatization and defamation")
        INTIMIDATION = "intimidation", _("Intimidation and harassment")
        THREAT = "threat", _("Threats")
        JUDICIAL_HARASSMENT = "judicial_harassment", _("Judicial harassment")
        ARBITRARY_DETENTION = "arbitrary_detention", _("Arbitrary detention")
        RAID = "raid", _("Raid")
        DIGITAL_ATTACK = "digital_attack", _("Digital attack")
        OTHER = "other", _("Other")
        ENFORCED_DISAPPEARANCE = "enforced_disappearance", _("Enforced disappearance")
        PHYSICAL_ASSAULT = "physical_assault", _("Physical assault")
        TORTURE = "torture", _("Torture")
        KILLING = "killing", _("Killing")
        TRAVEL_RESTRICTION = "travel_restriction", _("Travel restriction")
        ADMINISTRATIVE_CLOSURE = "administrative_closure", _("Administrative closure")

    class DatePrecision(models.TextChoices):
        DAY = "day", _("Exact day")
        MONTH = "month", _("Month only")
        YEAR = "year", _("Year only")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="incidents", verbose_name=_("case")
    )
    type = models.CharField(_("type"), max_length=32, choices=Type)
    occurred_on = models.DateField(
        _("date"),
        help_text=_(
            "When it happened, not when it was recorded. If only the month or the year is "
            "known, enter any day of it and choose the precision: it is stored as the first day."
        ),
    )
    date_precision = models.CharField(
        _("date precision"), max_length=8, choices=DatePrecision, default=DatePrecision.DAY
    )
    # Indexed with the type and the date (Meta.indexes), which serve lookups by target too.
    defender = models.ForeignKey(
        Defender,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("defender attacked"),
        db_index=False,
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("organization attacked"),
        db_index=False,
    )
    state = models.CharField(_("state"), max_length=4, choices=State, blank=True)
    municipality = models.CharField(_("municipality"), max_length=255, blank=True)
    description = models.TextField(_("description"), blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("duplicate of"),
        help_text=_("Another report of the same attack. Duplicates are kept but never counted."),
    )
    perpetrators = models.ManyToManyField(
        Perpetrator,
        through="Involvement",
        related_name="incidents",
        verbose_name=_("perpetrators"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    import_batch = models.ForeignKey(
        "cases.ImportBatch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="%(class)ss",
        verbose_name=_("created by import"),
    )
    import_origin = models.CharField(_("import origin"), max_length=100, blank=True, editable=False)
    import_ref = models.CharField(
        _("reference in the import"),
        max_length=100,
        blank=True,
        editable=False,
        help_text=_("The row’s “referencia”: a corrected file updates the incident by it."),
    )

    objects = IncidentQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["occurred_on", "id"]
        permissions = [("mark_duplicate_incident", _("Can mark incidents as duplicates"))]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(defender__isnull=False, organization__isnull=True)
                    | models.Q(defender__isnull=True, organization__isnull=False)
                ),
                name="cases_incident_one_target",
                violation_error_message=_(
                    "An incident has exactly one target: a defender or an organization."
                ),
            ),
            models.CheckConstraint(
                condition=~models.Q(duplicate_of=models.F("id")),
                name="cases_incident_not_own_duplicate",
                violation_error_message=_("An incident cannot be a duplicate of itself."),
            ),
            # Re-imports find a row's incident by its "referencia" within the origin.
            models.UniqueConstraint(
                fields=["import_origin", "import_ref"],
                condition=~models.Q(import_ref=""),
                name="cases_incident_unique_import_ref",
                violation_error_message=_("This reference was already imported from this origin."),
            ),
        ]
        indexes = [
            # counted().in_month(): range scan on the incident's own date, limited to
            # non-duplicates (the partial condition), before joining to the case.
            models.Index(
                fields=["occurred_on", "date_precision"],
                name="cases_incident_counted_idx",
                condition=models.Q(duplicate_of__isnull=True),
            ),
            # The admin's incident list, newest first (a month of it too): an ordered index
            # scan that stops at the page, whatever the table size.
            models.Index(fields=["occurred_on", "id"], name="cases_incident_date_idx"),
            # Likely duplicates (cases.duplicates): a target's incidents of one type near a
            # date, one index range per report; and every lookup by target, as the foreign
            # keys' own indexes did.
            models.Index(
                fields=["defender", "type", "occurred_on"], name="cases_incident_def_type_date"
            ),
            models.Index(
                fields=["organization", "type", "occurred_on"], name="cases_incident_org_type_date"
            ),
        ]

    def __str__(self):
        return f"{self.get_type_display()} — {self.target} — {self.occurred_on_display}"

    @property
    def target(self):
        return self.defender or self.organization

    @property
    def occurred_on_display(self) -> str:
        if self.occurred_on is None:
            return "—"
        if self.date_precision == self.DatePrecision.YEAR:
            return f"{self.occurred_on:%Y}"
        if self.date_precision == self.DatePrecision.MONTH:
            return f"{self.occurred_on:%m/%Y}"
        return f"{self.occurred_on:%d/%m/%Y}"

    def clean(self):
        errors = {}
        if self.occurred_on:
            if self.date_precision == self.DatePrecision.MONTH:
                self.occurred_on = self.occurred_on.replace(day=1)
            elif self.date_precision == self.DatePrecision.YEAR:
                self.occurred_on = self.occurred_on.replace(month=1, day=1)
            if self.occurred_on > timezone.localdate():
                errors["occurred_on"] = _("The date is in the future: enter when it happened.")
        if self.defender_id is None and self.organization_id is None:
            errors["defender"] = _("Say who was attacked: choose a defender or an organization.")
        elif self.defender_id is not None and self.organization_id is not None:
            errors["defender"] = _(
                "An incident has only one target: choose the defender or the organization, "
                "and record another incident for the other."
            )
        if self.duplicate_of_id is not None:
            problem = self._duplicate_problem()
            if problem:
                errors["duplicate_of"] = problem
        if errors:
            raise ValidationError(errors)

    def _duplicate_problem(self):
        """Why duplicate_of cannot point where it does; None if it can. Each attack must stay
        counted exactly once: no chains, and a counted report never defers to an uncounted one."""
        original = self.duplicate_of
        if self.pk is not None and original.pk == self.pk:
            return _("An incident cannot be a duplicate of itself.")
        if original.duplicate_of_id is not None:
            return _("That incident is itself a duplicate: point to the original report.")
        if self.pk is not None and self.duplicates.exists():
            return _(
                "Other reports are marked as duplicates of this incident: point them to the "
                "original first."
            )
        if (
            self.case_id is not None
            and self.case.status in Case.COUNTED_STATUSES
            and original.case.status not in Case.COUNTED_STATUSES
        ):
            return _(
                "The original belongs to a case that is not counted (“%(status)s”): the attack "
                "would not be counted at all. Verify that case first."
            ) % {"status": original.case.get_status_display()}
        return None


class Involvement(Versioned):
    """A perpetrator's part in one incident."""

    class Role(models.TextChoices):
        PERPETRATED = "perpetrated", _("Carried it out")
        ORDERED = "ordered", _("Ordered it")
        PARTICIPATED = "participated", _("Took part")
        AMPLIFIED = "amplified", _("Amplified it")
        SUSPECTED = "suspected", _("Suspected")

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="involvements", verbose_name=_("incident")
    )
    perpetrator = models.ForeignKey(
        Perpetrator,
        on_delete=models.PROTECT,
        related_name="involvements",
        verbose_name=_("perpetrator"),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role, default=Role.PERPETRATED)

    objects = AuditedQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("involvement")
        verbose_name_plural = _("perpetrators and roles")
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "perpetrator"],
                name="cases_involvement_unique_perpetrator",
                violation_error_message=_("This perpetrator is already listed for the incident."),
            ),
        ]

    def __str__(self):
        return f"{self.perpetrator} ({self.get_role_display()})"


def source_upload_to(source: "Source", filename: str) -> str:
    # A random name: the original file name may itself identify a witness.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"sources/{uuid.uuid4().hex}.{extension[:10]}"


class SourceQuerySet(AuditedQuerySet):
    def visible_to(self, user):
        """Sources of visible cases; confidential ones only for the case team."""
        visible = self.filter(case__in=Case.objects.visible_to(user))
        if is_ally(user):
            return visible.filter(confidential=False)
        if not user.is_authenticated or sees_everything(user):
            return visible
        return visible.filter(
            models.Q(confidential=False) | models.Q(case__in=Case.objects.of_team(user))
        )


class Source(Versioned):
    class Kind(models.TextChoices):
        TESTIMONY = "testimony", _("Testimony")
        PRESS = "press", _("Press")
        TELEVISION = "television", _("TV or radio segment")
        SOCIAL_MEDIA = "social_media", _("Social media post")
        OFFICIAL_DOCUMENT = "official_document", _("Official document")
        NGO_REPORT = "ngo_report", _("NGO report")
        OTHER = "other", _("Other")

    class Reliability(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed by other sources")
        PROBABLE = "probable", _("Probably true")
        POSSIBLE = "possible", _("Possibly true")
        DOUBTFUL = "doubtful", _("Doubtful")
        UNKNOWN = "unknown", _("Cannot be judged")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="sources", verbose_name=_("case")
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind)
    title = models.CharField(_("title"), max_length=500)
    publisher = models.CharField(
        _("publisher"), max_length=255, blank=True, help_text=_("Outlet, channel or author.")
    )
    url = URLField(_("URL"), max_length=2000, blank=True)
    date = models.DateField(_("date"), null=True, blank=True)
    reliability = models.CharField(
        _("reliability"), max_length=16, choices=Reliability, default=Reliability.UNKNOWN
    )
    witness = EncryptedTextField(
        _("witness identity"),
        help_text=_(
            "Who gave the testimony. Encrypted; only the case team and coordinators see it."
        ),
    )
    contact = EncryptedTextField(
        _("source contact"),
        help_text=_(
            "How to reach the source again. Encrypted; only the case team and coordinators "
            "see it; never exported."
        ),
    )
    confidential = models.BooleanField(
        _("confidential"),
        default=False,
        help_text=_("Never shown outside the case team and never exported."),
    )
    file = models.FileField(
        _("file"), upload_to=source_upload_to, storage=source_storage, blank=True
    )
    sha256 = models.CharField(
        _("SHA-256"),
        max_length=64,
        blank=True,
        editable=False,
        help_text=_("Fingerprint of the file as uploaded: proves it has not changed since."),
    )
    incidents = models.ManyToManyField(
        Incident,
        through="Support",
        related_name="sources",
        verbose_name=_("incidents it supports"),
        blank=True,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = SourceQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        ordering = ["date", "id"]

    def __str__(self):
        return self.title


class Support(Versioned):
    """A source supports an incident of its own case: the evidence for that incident. Each
    link has its own history (who said so, when, why), as a perpetrator's part does."""

    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="supports", verbose_name=_("source")
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="supports", verbose_name=_("incident")
    )

    objects = AuditedQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("incident a source supports")
        verbose_name_plural = _("incidents sources support")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "incident"],
                name="cases_support_unique",
                violation_error_message=_("The source already supports this incident."),
            ),
        ]

    def __str__(self):
        return f"{self.source} → {self.incident}"

    def clean(self):
        if self.source_id and self.incident_id and self.source.case_id != self.incident.case_id:
            raise ValidationError(_("A source supports only incidents of its own case."))
