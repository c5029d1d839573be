"""What the API's answers hold, declared for the schema; the rows themselves are built by
api.rows under the export policy."""

import datetime

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.base import BlankURLAsNull
from api.rows import STATE_NAMES, incident_row, utc_stamp_text
from cases.models import Case, Incident, Involvement, Source
from organizations.models import Organization, Perpetrator
from organizations.vocabularies import PerpetratorCategory, State


def utc_stamp() -> serializers.DateTimeField:
    return serializers.DateTimeField(read_only=True, default_timezone=datetime.UTC)


class PerpetratorRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    category = serializers.ChoiceField(choices=PerpetratorCategory.choices)
    role = serializers.ChoiceField(choices=Involvement.Role.choices)


class IncidentRowSerializer(serializers.Serializer):
    """Declares the row for the schema; the row itself is built by `incident_row`."""

    id = serializers.UUIDField()
    case_id = serializers.UUIDField()
    occurred_on = serializers.DateField(
        help_text="Month- and year-precision dates are stored as the first day."
    )
    date_precision = serializers.ChoiceField(choices=Incident.DatePrecision.choices)
    type = serializers.ChoiceField(choices=Incident.Type.choices)
    type_label = serializers.CharField()
    target_kind = serializers.ChoiceField(choices=["defender", "organization"])
    target_id = serializers.UUIDField()
    target_name = serializers.CharField(help_text="A pseudonym when the identity is protected.")
    target_protected = serializers.BooleanField()
    target_organization = serializers.CharField(allow_blank=True)
    perpetrators = PerpetratorRefSerializer(many=True)
    state = serializers.ChoiceField(choices=State.choices, allow_blank=True)
    state_name = serializers.CharField(allow_blank=True)
    municipality = serializers.CharField(allow_blank=True)
    sources_count = serializers.IntegerField(min_value=0)
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance):
        return incident_row(instance, self.context["policy"])


class SourceSerializer(serializers.ModelSerializer):
    """Public facts of a source. Never: witness, contact, the file, who recorded it."""

    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Source
        fields = ("id", "kind", "title", "publisher", "url", "date", "reliability")
        read_only_fields = fields
        extra_kwargs = {"url": {"read_only": True}}

    url = BlankURLAsNull()


class CaseSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    state_name = serializers.SerializerMethodField()
    incidents = serializers.SerializerMethodField()
    sources = SourceSerializer(source="visible_sources", many=True, read_only=True)

    class Meta:
        model = Case
        fields = (
            "id",
            "title",
            "summary",
            "status",
            "state",
            "state_name",
            "place",
            "updated_at",
            "incidents",
            "sources",
        )
        read_only_fields = fields

    updated_at = utc_stamp()

    def get_state_name(self, case) -> str:
        return STATE_NAMES.get(case.state, "")

    @extend_schema_field(IncidentRowSerializer(many=True))
    def get_incidents(self, case) -> list:
        policy = self.context["policy"]
        return [incident_row(incident, policy) for incident in case.counted_incidents]


class PerpetratorSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    part_of = serializers.SerializerMethodField()

    class Meta:
        model = Perpetrator
        fields = ("id", "name", "acronym", "category", "kind", "part_of", "updated_at")
        read_only_fields = fields

    updated_at = utc_stamp()

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_part_of(self, perpetrator) -> str | None:
        # The parent body only if the caller may see it too (allies: named in a shared incident).
        shown = self.context.get("shown_perpetrators")
        parent = perpetrator.parent
        if parent is None or (shown is not None and parent.pk not in shown):
            return None
        return str(parent.public_id)


class OrganizationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Organization
        fields = ("id", "name", "acronym", "kind", "state", "website", "updated_at")
        read_only_fields = fields

    website = BlankURLAsNull()
    updated_at = utc_stamp()


class DefenderSerializer(serializers.Serializer):
    """Public facts of a defender. For a protected identity only the pseudonym: no state,
    no profile, nothing that could narrow down who it is. Contact data never."""

    id = serializers.UUIDField()
    name = serializers.CharField()
    identity_protected = serializers.BooleanField()
    state = serializers.ChoiceField(choices=State.choices, allow_blank=True)
    profiles = serializers.ListField(child=serializers.CharField())
    updated_at = serializers.DateTimeField()

    def to_representation(self, defender):
        policy = self.context["policy"]
        named = policy.may_name(defender.identity_protected)
        return {
            "id": policy.id_of(defender),
            "name": policy.name_of(defender),
            "identity_protected": defender.identity_protected,
            "state": defender.state if named else "",
            "profiles": [p.code for p in defender.profiles.all()] if named else [],
            "updated_at": utc_stamp_text(defender.updated_at),
        }


class ChangeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    record = serializers.ChoiceField(
        choices=["incident", "defender"],
        help_text="What the id names: an incident of the export, or a defender (only ever "
        "withdrawn: an id that is no longer shown, e.g. once identity protection is on).",
    )
    action = serializers.ChoiceField(choices=["upsert", "delete"])
    incident = IncidentRowSerializer(allow_null=True)


class ChangesSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    next_since = serializers.DateTimeField(
        help_text="Pass as `since` on the next poll, once `next` is null."
    )
    next = serializers.URLField(allow_null=True)
    results = ChangeSerializer(many=True)
