import hashlib
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from accounts.access import is_ally
from core.audit import AuditedQuerySet, ChainedHistory, Versioned
from core.encryption import EncryptedTextField
from core.fields import URLField
from organizations.names import fold, organization_key, person_key
from organizations.vocabularies import PerpetratorCategory, State


class NameKeysModel(models.Model):
    """A record found by its names the way people write them (organizations.names): the
    match keys are stored, indexed, so that an import looks up the names of its file instead
    of folding every name recorded. Derived columns, set on every save and by
    bulk_create_with_history, never edited; left out of the history (the names they come
    from are in it) so that adding them changed no history row and no chained hash."""

    NAME_FIELDS: tuple[str, ...] = ()  # what the keys are computed from
    NAME_KEY_FIELDS: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def save(self, *args, update_fields=None, **kwargs):
        # Not business logic: keeps a derived column in step with the names, whoever saves
        # (services, admin forms, factories); imports go through bulk_create_with_history.
        if update_fields is None:
            self.set_name_keys()
        elif set(update_fields) & set(self.NAME_FIELDS):  # a save of other fields: untouched
            self.set_name_keys()
            update_fields = {*update_fields, *self.NAME_KEY_FIELDS}
        super().save(*args, update_fields=update_fields, **kwargs)

    def name_keys(self) -> dict[str, str]:
        raise NotImplementedError

    def set_name_keys(self) -> None:
        for attname, value in self.name_keys().items():
            setattr(self, attname, value)


def _key_field() -> models.TextField:
    return models.TextField(editable=False, default="")


class Organization(Versioned, NameKeysModel):
    class Kind(models.TextChoices):
        HUMAN_RIGHTS_NGO = "human_rights_ngo", _("Human rights NGO")
        HUMANITARIAN = "humanitarian", _("Humanitarian organization")
        UNION = "union", _("Trade union")
        INDEPENDENT_MEDIA = "independent_media", _("Independent media")
        COMMUNITY_GROUP = "community_group", _("Community group")
        ACADEMIC = "academic", _("Academic institution")
        OTHER = "other", _("Other")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=255)
    acronym = models.CharField(_("acronym"), max_length=50, blank=True)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind, default=Kind.HUMAN_RIGHTS_NGO)
    state = models.CharField(
        _("state"), max_length=4, choices=State, blank=True, help_text=_("Where it is based.")
    )
    website = URLField(_("website"), blank=True)
    needs_review = models.BooleanField(
        _("needs review"),
        default=False,
        help_text=_(
            "Created by an import from a name in a spreadsheet: check that it is not someone "
            "already recorded under another spelling (then merge them), and clear this box."
        ),
    )
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="merged_records",
        verbose_name=_("merged into"),
        help_text=_(
            "The same organization recorded twice: this record is kept with its history, and "
            "everything that named it now names the other one."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    name_key = _key_field()  # organization_key(name)
    acronym_key = _key_field()  # organization_key(acronym)

    NAME_FIELDS = ("name", "acronym")
    NAME_KEY_FIELDS = ("name_key", "acronym_key")
    objects = AuditedQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory], excluded_fields=NAME_KEY_FIELDS)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="organizations_organization_unique_name",
                violation_error_message=_("An organization with this name already exists."),
            ),
        ]
        indexes = [
            # Imports: the organizations a file names, by name or acronym.
            models.Index(fields=["name_key"], name="organizations_org_name_key"),
            models.Index(fields=["acronym_key"], name="organizations_org_acronym_key"),
        ]

    def __str__(self):
        return f"{self.name} ({self.acronym})" if self.acronym else self.name

    def name_keys(self) -> dict[str, str]:
        return {
            "name_key": organization_key(self.name),
            "acronym_key": organization_key(self.acronym),
        }


class Profile(models.Model):
    """A defender's line of work; a defender may have several (M2M, audited)."""

    class Code(models.TextChoices):
        LAWYER = "lawyer", _("Lawyer")
        JOURNALIST = "journalist", _("Journalist")
        ACTIVIST = "activist", _("Activist")
        COMMUNITY_LEADER = "community_leader", _("Community leader")
        TRADE_UNIONIST = "trade_unionist", _("Trade unionist")
        HEALTH_WORKER = "health_worker", _("Health worker")
        ACADEMIC = "academic", _("Academic")
        NGO_STAFF = "ngo_staff", _("NGO staff")
        ENVIRONMENTAL_DEFENDER = "environmental_defender", _("Environmental defender")
        INDIGENOUS_LEADER = "indigenous_leader", _("Indigenous leader")
        LGBTI_ACTIVIST = "lgbti_activist", _("LGBTI activist")
        OTHER = "other", _("Other")

    code = models.CharField(_("code"), max_length=32, choices=Code, unique=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        ordering = ["code"]

    def __str__(self):
        return str(self.get_code_display())


# The statuses of a case a reviewer has verified (cases.Case.COUNTED_STATUSES: the cases app
# sits above this one).
VERIFIED_CASE_STATUSES = ("verified", "published")


def _followed(user) -> models.Q:
    """The defenders `user` follows (DefenderQuerySet.followed_by), as three small sets, each
    reached from the user's own rows (their teams' cases, what they recorded) by index: one
    join of them all, OR'd, would read every defender."""
    everyone = Defender.objects.all()
    on_team = everyone.filter(incidents__case__team=user).values("pk")
    recorded = everyone.filter(
        incidents__isnull=True, merged_into__isnull=True, created_by=user
    ).values("pk")
    # A record merged into another has no incidents left: it follows the survivor.
    merged = everyone.filter(merged_into__incidents__case__team=user).values("pk")
    return models.Q(pk__in=on_team) | models.Q(pk__in=recorded) | models.Q(pk__in=merged)


class DefenderQuerySet(AuditedQuerySet):
    def followed_by(self, user):
        """Defenders `user` works with: named in a case whose team they are on, or recorded
        by them and not yet named in any incident. Only they (and coordinators) know a
        protected defender's name, and anyone's contact details."""
        if not user.is_authenticated or is_ally(user):
            return self.none()
        return self.filter(_followed(user))

    def with_contacts_for(self, user):
        """Defenders whose phone, e-mail and address `user` may read: coordinators all; others
        those they recorded, and those named in a case whose team they are on, except a case
        they opened themselves that no reviewer has verified yet: naming someone in a draft
        of one's own does not open their contact details."""
        if not user.is_authenticated or is_ally(user):
            return self.none()
        if user.has_perm("cases.view_all_cases"):
            return self
        others = get_user_model().objects.exclude(pk=user.pk).values("pk")
        on_team = {"incidents__case__team": user}
        return self.filter(
            models.Q(created_by=user)
            | models.Q(**on_team, incidents__case__status__in=VERIFIED_CASE_STATUSES)
            | models.Q(**on_team, incidents__case__created_by__in=others)
            | models.Q(**on_team, incidents__case__created_by__isnull=True)
        ).distinct()

    def visible_to(self, user):
        """Defenders who asked for identity protection are listed only for those who follow
        them (followed_by) and coordinators; the others for all staff."""
        if not user.is_authenticated:
            return self.none()
        if is_ally(user):
            # Allies reach defenders only through shared incidents (api.views).
            return self.none()
        if user.has_perm("cases.view_all_cases"):
            return self
        return self.filter(models.Q(identity_protected=False) | _followed(user))


class Defender(Versioned, NameKeysModel):
    class Gender(models.TextChoices):
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")
        NON_BINARY = "non_binary", _("Non-binary")
        OTHER = "other", _("Other")
        NOT_RECORDED = "not_recorded", _("Not recorded")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    full_name = models.CharField(_("full name"), max_length=255)
    known_as = models.CharField(
        _("known as"), max_length=255, blank=True, help_text=_("Nickname or public name.")
    )
    gender = models.CharField(
        _("gender"), max_length=16, choices=Gender, default=Gender.NOT_RECORDED
    )
    profiles = models.ManyToManyField(
        Profile, verbose_name=_("profiles"), blank=True, related_name="defenders"
    )
    state = models.CharField(
        _("state"), max_length=4, choices=State, blank=True, help_text=_("Where they work.")
    )
    identity_protected = models.BooleanField(
        _("identity protection"),
        default=False,
        help_text=_(
            "At the defender's request: outside the case team the name is replaced by a "
            "stable pseudonym in lists, reports, exports and public pages."
        ),
    )
    pseudonym_key = models.UUIDField(
        _("pseudonym key"),
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text=_(
            "A random value of its own, never shown: a protected defender's pseudonym and the "
            "id allies see come from it, and it is replaced whenever protection is turned on."
        ),
    )
    phone = EncryptedTextField(
        _("phone"), help_text=_("Encrypted. Only for the case team; never exported.")
    )
    email = EncryptedTextField(
        _("e-mail"), help_text=_("Encrypted. Only for the case team; never exported.")
    )
    address = EncryptedTextField(
        _("address"), help_text=_("Encrypted. Only for the case team; never exported.")
    )
    organizations = models.ManyToManyField(
        Organization,
        through="Membership",
        verbose_name=_("organizations"),
        related_name="members",
        blank=True,
    )
    needs_review = models.BooleanField(
        _("needs review"),
        default=False,
        help_text=_(
            "Created by an import from a name in a spreadsheet: check that it is not someone "
            "already recorded under another spelling (then merge them), and clear this box."
        ),
    )
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="merged_records",
        verbose_name=_("merged into"),
        help_text=_(
            "The same person recorded twice: this record is kept with its history, and "
            "everything that named it now names the other one."
        ),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    name_key = _key_field()  # person_key(full_name)
    known_as_key = _key_field()  # person_key(known_as)

    NAME_FIELDS = ("full_name", "known_as")
    NAME_KEY_FIELDS = ("name_key", "known_as_key")
    objects = DefenderQuerySet.as_manager()
    history = HistoricalRecords(
        bases=[ChainedHistory],
        m2m_fields=[profiles],
        m2m_bases=[ChainedHistory],
        excluded_fields=NAME_KEY_FIELDS,
    )

    class Meta:
        verbose_name = _("defender")
        verbose_name_plural = _("defenders")
        ordering = ["full_name"]
        indexes = [
            # Imports and likely duplicates: the people a file names, by name or known-as.
            models.Index(fields=["name_key"], name="organizations_def_name_key"),
            models.Index(fields=["known_as_key"], name="organizations_def_known_as_key"),
        ]

    def __str__(self):
        # Fail closed: wherever a defender is printed without asking who is looking (admin
        # titles, autocomplete, history), a protected identity shows as its pseudonym.
        return str(self.pseudonym) if self.identity_protected else self.display_name

    def label_for_outsiders(self) -> str:
        """How a page names this defender to a user who may not see them: the pseudonym."""
        return str(self.pseudonym)

    @property
    def visible_to_all_staff(self) -> bool:
        """Whether every staff member may see this defender (visible_to), without asking."""
        return not self.identity_protected

    def name_keys(self) -> dict[str, str]:
        return {"name_key": person_key(self.full_name), "known_as_key": person_key(self.known_as)}

    @property
    def display_name(self) -> str:
        return self.display_name_of(self.full_name, self.known_as)

    @staticmethod
    def display_name_of(full_name: str, known_as: str) -> str:
        if known_as and known_as != full_name:
            return f"{full_name} («{known_as}»)"
        return full_name

    @property
    def pseudonym(self) -> str:
        return self.pseudonym_of(self.pseudonym_key)

    @staticmethod
    def pseudonym_of(key: uuid.UUID) -> str:
        """Stable while protection lasts (derived from the pseudonym key), reveals nothing of
        the name nor of any id shown before protection."""
        return Defender.pseudonym_named(Defender.pseudonym_code(key))

    @staticmethod
    def pseudonym_named(code: str) -> str:
        """The pseudonym of that code, in the active language."""
        return _("Protected defender #%(code)s") % {"code": code}

    @staticmethod
    def pseudonym_code(key: uuid.UUID) -> str:
        """The six characters of a pseudonym (spreadsheet imports read them back)."""
        return hashlib.sha256(key.bytes).hexdigest()[:6].upper()

    def shown_id(self, *, named: bool) -> uuid.UUID:
        """The id a reader sees: the public id with the name, the pseudonym key without it
        (so the two never link)."""
        return self.public_id if named else self.pseudonym_key

    def is_followed_by(self, user) -> bool:
        return Defender.objects.followed_by(user).filter(pk=self.pk).exists()

    def contact_visible_to(self, user) -> bool:
        """Phone, e-mail and address: see DefenderQuerySet.with_contacts_for."""
        if is_ally(user) or not user.is_authenticated:
            return False
        if self.pk is None:
            return True
        return Defender.objects.with_contacts_for(user).filter(pk=self.pk).exists()

    def name_for(self, user, *, on_team: bool = False) -> str:
        """The name `user` may see: the pseudonym unless they may know who it is."""
        if is_ally(user):
            return str(self.pseudonym) if self.identity_protected else self.display_name
        if not self.identity_protected or on_team or user.has_perm("cases.view_all_cases"):
            return self.display_name
        if self.is_followed_by(user):
            return self.display_name
        return str(self.pseudonym)


class Membership(Versioned):
    defender = models.ForeignKey(
        Defender, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("defender")
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="memberships",
        verbose_name=_("organization"),
    )
    role = models.CharField(
        _("role"), max_length=255, blank=True, help_text=_("E.g. president, lawyer, volunteer.")
    )
    started_on = models.DateField(_("started on"), null=True, blank=True)
    ended_on = models.DateField(_("ended on"), null=True, blank=True)

    objects = AuditedQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory])

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["defender", "organization"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_on__isnull=True)
                | models.Q(started_on__isnull=True)
                | models.Q(ended_on__gte=models.F("started_on")),
                name="organizations_membership_ends_after_start",
                violation_error_message=_("A membership cannot end before it starts."),
            ),
        ]

    def __str__(self):
        return f"{self.defender} — {self.organization}"


class Perpetrator(Versioned, NameKeysModel):
    """An institution or an individual said to have carried out, ordered or amplified attacks."""

    class Kind(models.TextChoices):
        INSTITUTION = "institution", _("Institution")
        INDIVIDUAL = "individual", _("Individual")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=255)
    acronym = models.CharField(_("acronym"), max_length=50, blank=True)
    category = models.CharField(_("category"), max_length=32, choices=PerpetratorCategory)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind, default=Kind.INSTITUTION)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("part of"),
        help_text=_("E.g. FAES under PNB, a TV programme under VTV, an official under a ministry."),
    )
    needs_review = models.BooleanField(
        _("needs review"),
        default=False,
        help_text=_(
            "Created by an import from a name in a spreadsheet: check that it is not someone "
            "already recorded under another spelling (then merge them), and clear this box."
        ),
    )
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="merged_records",
        verbose_name=_("merged into"),
        help_text=_(
            "The same perpetrator recorded twice: this record is kept with its history, and "
            "everything that named it now names the other one."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    name_key = _key_field()  # fold(name)
    full_key = _key_field()  # fold("name (acronym)"), "" without an acronym
    acronym_key = _key_field()  # fold(acronym)

    NAME_FIELDS = ("name", "acronym")
    NAME_KEY_FIELDS = ("name_key", "full_key", "acronym_key")
    # Added after the first release (core.audit.ChainedHistory._added_later).
    HISTORY_ADDED_LATER = {"merged_into_id": None}
    objects = AuditedQuerySet.as_manager()
    history = HistoricalRecords(bases=[ChainedHistory], excluded_fields=NAME_KEY_FIELDS)

    class Meta:
        verbose_name = _("perpetrator")
        verbose_name_plural = _("perpetrators")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="organizations_perpetrator_unique_name",
                violation_error_message=_("A perpetrator with this name already exists."),
            ),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")),
                name="organizations_perpetrator_not_own_parent",
                violation_error_message=_("A perpetrator cannot be part of itself."),
            ),
        ]
        indexes = [
            # Imports: the perpetrators a file names, by name, "name (acronym)" or acronym.
            models.Index(fields=["name_key"], name="organizations_perp_name_key"),
            models.Index(fields=["full_key"], name="organizations_perp_full_key"),
            models.Index(fields=["acronym_key"], name="organizations_perp_acronym_key"),
        ]

    def __str__(self):
        return f"{self.acronym} — {self.name}" if self.acronym else self.name

    def name_keys(self) -> dict[str, str]:
        return {
            "name_key": fold(self.name),
            "full_key": fold(f"{self.name} ({self.acronym})") if self.acronym else "",
            "acronym_key": fold(self.acronym),
        }

    def clean(self):
        ancestor, seen = self.parent, set()
        while ancestor is not None and ancestor.pk not in seen:
            if self.pk is not None and ancestor.pk == self.pk:
                raise ValidationError(
                    {"parent": _("This would make the perpetrator part of itself.")}
                )
            seen.add(ancestor.pk)
            ancestor = ancestor.parent
