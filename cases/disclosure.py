"""What an export shows: the allies' API and the admin's spreadsheet download alike.

One rule for every viewer and every way out, because an export is a file that leaves the
system: it never carries a restricted case, a confidential source, a protected defender's
name (the pseudonym instead, with an id of its own that never ties it to the name), contact
details, witnesses, health notes, case file numbers or staff names. Within that rule a viewer
gets what they may see: allies the published and public cases, staff what `visible_to`
gives them. The admin's pages, not exports, are where a case team reads names."""

import uuid

from django.db.models import QuerySet

from cases.models import Case, Incident, Source
from organizations.models import Defender


class ExportPolicy:
    def __init__(self, viewer):
        self.viewer = viewer

    # Rows --------------------------------------------------------------------------------

    def cases(self, queryset: QuerySet | None = None) -> QuerySet:
        queryset = Case.objects.all() if queryset is None else queryset
        visible = queryset.filter(pk__in=Case.objects.visible_to(self.viewer).values("pk"))
        return visible.exclude(confidentiality=Case.Confidentiality.RESTRICTED)

    def incidents(self, queryset: QuerySet | None = None) -> QuerySet:
        queryset = Incident.objects.all() if queryset is None else queryset
        visible = queryset.filter(case__in=Case.objects.visible_to(self.viewer))
        return visible.exclude(case__confidentiality=Case.Confidentiality.RESTRICTED)

    def sources(self, queryset: QuerySet | None = None) -> QuerySet:
        queryset = Source.objects.all() if queryset is None else queryset
        return queryset.filter(confidential=False, case__in=self.cases())

    # Names -------------------------------------------------------------------------------

    @staticmethod
    def may_name(protected: bool) -> bool:
        return not protected

    def name(self, full_name: str, known_as: str, protected: bool, pseudonym_key) -> str:
        if self.may_name(protected):
            return Defender.display_name_of(full_name, known_as)
        return str(Defender.pseudonym_of(_uuid(pseudonym_key)))

    def shown_id(self, public_id, protected: bool, pseudonym_key) -> str:
        """The public id with the name, the pseudonym's own id without it."""
        return str(public_id if self.may_name(protected) else pseudonym_key)

    def name_of(self, defender: Defender) -> str:
        return self.name(
            defender.full_name,
            defender.known_as,
            defender.identity_protected,
            defender.pseudonym_key,
        )

    def id_of(self, defender: Defender) -> str:
        return self.shown_id(
            defender.public_id, defender.identity_protected, defender.pseudonym_key
        )


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
