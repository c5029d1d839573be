"""changes/: what changed in the incident export since a moment, so that an ally's mirror
stays equal to a full export. Read from the history tables, which keep removals too."""

import datetime

from django.conf import settings
from django.core import signing
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from accounts.access import is_ally
from api.base import IsAllyOrStaffReader, LoggedMixin
from api.rows import incident_row, shared_incidents, utc_stamp_text
from api.serializers import ChangesSerializer
from cases.disclosure import ExportPolicy
from cases.models import Case, Incident, Involvement, Source, Support
from organizations.models import Defender, Membership, Organization, Perpetrator

CHANGES_PAGE = 500


def _changed_since(since: datetime.datetime, until: datetime.datetime) -> Q:
    """Incidents whose row may have changed in (since, until]: the incident, its case, its
    perpetrators and their involvement, its sources and which of them support it, its target
    and the target's memberships. Read from the history tables, which keep removals too."""

    def changed(model):
        return model.history.filter(history_date__gt=since, history_date__lte=until)

    renamed_perpetrators = Involvement.objects.filter(
        perpetrator_id__in=changed(Perpetrator).values("id")
    )
    return (
        Q(pk__in=changed(Incident).values("id"))
        | Q(pk__in=changed(Involvement).values("incident_id"))
        | Q(pk__in=renamed_perpetrators.values("incident_id"))
        | Q(case_id__in=changed(Case).values("id"))
        | Q(case_id__in=changed(Source).values("case_id"))
        | Q(pk__in=changed(Support).values("incident_id"))
        | Q(defender_id__in=changed(Defender).values("id"))
        | Q(defender_id__in=changed(Membership).values("defender_id"))
        | Q(organization_id__in=changed(Organization).values("id"))
        # A renamed organization changes its members' rows too (target_organization).
        | Q(
            defender_id__in=Membership.objects.filter(
                organization_id__in=changed(Organization).values("id")
            ).values("defender_id")
        )
    )


def _exported_at(user, pks: list[int], moment: datetime.datetime) -> set[int]:
    """Which of these incidents the caller's export held at `moment`, read from the history:
    the incident existed and was no duplicate, and its case was counted and visible to the
    caller then (for allies: published and public)."""
    incident_then = Incident.history.filter(id=OuterRef("pk"), history_date__lte=moment).order_by(
        "-history_date", "-history_id"
    )
    case_then = Case.history.filter(id=OuterRef("case_id"), history_date__lte=moment).order_by(
        "-history_date", "-history_id"
    )
    rows = (
        Incident.objects.filter(pk__in=pks)
        .annotate(
            kind=Subquery(incident_then.values("history_type")[:1]),
            duplicate=Subquery(incident_then.values("duplicate_of_id")[:1]),
            status=Subquery(case_then.values("status")[:1]),
            confidentiality=Subquery(case_then.values("confidentiality")[:1]),
        )
        .values_list("pk", "case_id", "kind", "duplicate", "status", "confidentiality")
    )
    ally = is_ally(user)
    held = set()
    for pk, _case_id, kind, duplicate, status, confidentiality in rows:
        if kind not in ("+", "~") or duplicate is not None:
            continue
        if ally:
            shown = {"status": status, "confidentiality": confidentiality} == (
                Case.SHARED_WITH_ALLIES
            )
        else:  # restricted cases never leave through an export (cases.disclosure)
            shown = (
                status in Case.COUNTED_STATUSES
                and confidentiality != Case.Confidentiality.RESTRICTED
            )
        if shown:
            held.add(pk)
    return held


def _ever_shared(user) -> Q:
    """A cheap first cut: incidents whose case the caller could ever have received."""
    cases = Case.history.filter(status__in=Case.COUNTED_STATUSES)
    if is_ally(user):
        cases = cases.filter(**Case.SHARED_WITH_ALLIES)
    else:
        cases = cases.exclude(confidentiality=Case.Confidentiality.RESTRICTED)
    return Q(case_id__in=cases.values("id"))


def _withdrawn_defender_ids(user, policy: ExportPolicy, since, until) -> list[str]:
    """Ids of defenders the caller was shown at `since` and is not shown now: protection
    turned on (or off) gave them another id, and the old one must leave the caller's copy.
    A fixed number of queries, however many defenders changed."""
    changed = Defender.history.filter(history_date__gt=since, history_date__lte=until)
    then = Defender.history.filter(id=OuterRef("pk"), history_date__lte=since).order_by(
        "-history_date", "-history_id"
    )
    rows = (
        Defender.objects.filter(pk__in=changed.values("id"))
        .annotate(
            was_protected=Subquery(then.values("identity_protected")[:1]),
            old_key=Subquery(then.values("pseudonym_key")[:1]),
        )
        .exclude(was_protected__isnull=True)  # recorded after `since`: never shown then
    )
    old_ids = {}
    for pk, public_id, key, protected, was_protected, old_key in rows.values_list(
        "pk", "public_id", "pseudonym_key", "identity_protected", "was_protected", "old_key"
    ):
        old = policy.shown_id(public_id, was_protected, old_key)
        if old != policy.shown_id(public_id, protected, key):
            old_ids[pk] = old
    if not old_ids:
        return []
    # Only an id the caller was given: a defender of an incident they held then.
    incidents = dict(
        Incident.objects.filter(defender_id__in=old_ids).values_list("pk", "defender_id")
    )
    held = _exported_at(user, list(incidents), since)
    return sorted({old_ids[incidents[pk]] for pk in held})


def changes_page(user, since, until, after: str | None, held=None) -> tuple[list[dict], str | None]:
    """One page of the changes feed for `user` in (since, until], after the incident public
    id `after`: the entries, and the public id to continue after (None on the last page).
    The API's changes/ and the allies' webhooks both read it. `held(pairs)`: of these
    (pk, public id) pairs no longer shared, those the caller holds and must delete (by
    default, those its export held at `since`)."""
    affected = (
        Incident.objects.filter(_changed_since(since, until))
        .filter(_ever_shared(user))
        .order_by("public_id")
    )
    if after is not None:
        affected = affected.filter(public_id__gt=after)
    page = list(affected.values_list("pk", "public_id")[: CHANGES_PAGE + 1])
    more = len(page) > CHANGES_PAGE
    page = page[:CHANGES_PAGE]
    policy = ExportPolicy(user)
    pks = [pk for pk, _ in page]
    current = {incident.pk: incident for incident in shared_incidents(policy).filter(pk__in=pks)}
    # Only what the caller had at `since` can be deleted from their copy: the feed never
    # names a record they were not given.
    gone = [(pk, public_id) for pk, public_id in page if pk not in current]
    if held is None:
        held = _exported_at(user, [pk for pk, _public_id in gone], since)
    else:
        held = held(gone)
    results = []
    if after is None:  # once per poll, on its first page
        results += [
            {"id": shown, "record": "defender", "action": "delete", "incident": None}
            for shown in _withdrawn_defender_ids(user, policy, since, until)
        ]
    for pk, public_id in page:
        if pk in current:
            results.append(
                {
                    "id": str(public_id),
                    "record": "incident",
                    "action": "upsert",
                    "incident": incident_row(current[pk], policy),
                }
            )
        elif pk in held:
            results.append(
                {"id": str(public_id), "record": "incident", "action": "delete", "incident": None}
            )
    return results, (str(page[-1][1]) if more else None)


class ChangesView(LoggedMixin, APIView):
    """What changed in the incident export since a moment: `upsert` carries the row as
    `incidents/` gives it now; `delete` means it left the export (unpublished, retracted,
    made restricted, marked as a duplicate…). Applying the events in order to a mirror keeps
    it equal to a full export. Poll with `since` = the previous answer's `next_since`
    (it overlaps a little, so a slow transaction is never missed; events are idempotent)."""

    permission_classes = [IsAllyOrStaffReader]
    log_name = "changes"

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, required=True),
            OpenApiParameter("cursor", str, description="From the previous page's `next`."),
        ],
        responses={200: ChangesSerializer, 400: OpenApiResponse(description="Bad parameters")},
    )
    def get(self, request):
        since, until, after = self._window(request)
        results, last = changes_page(request.user, since, until, after)
        self.rows_served = len(results)
        next_url = None
        if last is not None:
            token = signing.dumps(
                {"since": since.isoformat(), "until": until.isoformat(), "after": last},
                salt="api-changes",
            )
            next_url = reverse("api-changes", request=request) + f"?cursor={token}"
        overlap = datetime.timedelta(seconds=settings.API_CHANGES_OVERLAP_SECONDS)
        return Response(
            {
                "since": utc_stamp_text(since),
                "until": utc_stamp_text(until),
                "next_since": utc_stamp_text(max(since, until - overlap)),
                "next": next_url,
                "results": results,
            }
        )

    def _window(self, request):
        token = request.query_params.get("cursor")
        if token:
            try:
                data = signing.loads(token, salt="api-changes")
                return (
                    datetime.datetime.fromisoformat(data["since"]),
                    datetime.datetime.fromisoformat(data["until"]),
                    data["after"],
                )
            except (signing.BadSignature, KeyError, TypeError, ValueError):
                raise NotFound(_("Invalid cursor.")) from None
        field = serializers.DateTimeField()
        raw = request.query_params.get("since")
        if not raw:
            raise ValidationError(
                {"since": [_("Required: an ISO 8601 moment, e.g. 2021-07-01T00:00:00Z.")]}
            )
        try:
            since = field.to_internal_value(raw)
        except serializers.ValidationError as error:
            raise ValidationError({"since": error.detail}) from None
        return since, timezone.now(), None
