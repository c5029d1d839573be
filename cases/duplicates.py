"""Likely duplicates (HRDAG: record every report, count each attack once). Reads only; the
decisions are services (cases.services).

Two incidents are likely reports of the same attack when they have the same type, the same
target (the same name once accents, case, punctuation and — for people — word order are set
aside) and dates within DAYS of each other (the same month or year when one of them is known
only to the month or year). People and organizations are likely the same when their names
are alike (organizations.names)."""

import datetime
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from itertools import combinations

from django.db.models import Q

from cases.models import Case, DuplicatePair, Incident
from organizations.batches import in_batches
from organizations.models import Defender, Organization
from organizations.names import fold, names_alike, person_key

DAYS = 3
P = Incident.DatePrecision


@dataclass(frozen=True)
class Report:
    """What the comparison needs of an incident (or of a spreadsheet row)."""

    key: Hashable  # an incident's id, or ("row", line)
    type: str
    occurred_on: datetime.date
    precision: str
    target: tuple[str, str]


def close_in_time(a: Report, b: Report) -> bool:
    if P.YEAR in (a.precision, b.precision):
        return a.occurred_on.year == b.occurred_on.year
    if P.MONTH in (a.precision, b.precision):
        return (a.occurred_on.year, a.occurred_on.month) == (
            b.occurred_on.year,
            b.occurred_on.month,
        )
    return abs((a.occurred_on - b.occurred_on).days) <= DAYS


def _span(reports: list[Report]) -> tuple[datetime.date, datetime.date]:
    first = min(r.occurred_on for r in reports)
    last = max(r.occurred_on for r in reports)
    # Month- and year-precision dates are stored as the 1st: widen to the whole year, and
    # DAYS further, for a day-precision pair on either side of 31 December.
    margin = datetime.timedelta(days=DAYS)
    start, end = first.replace(month=1, day=1), last.replace(month=12, day=31)
    return (
        start - margin if start - datetime.date.min > margin else datetime.date.min,
        end + margin if datetime.date.max - end > margin else datetime.date.max,
    )


REPORT_FIELDS = (
    "id",
    "type",
    "occurred_on",
    "date_precision",
    "defender__name_key",  # person_key(full_name), stored
    "organization__name_key",  # organization_key(name), stored
)


def _report(pk, type_, day, precision, person, organization) -> Report:
    if person is not None:
        return Report(pk, type_, day, precision, ("defender", person))
    return Report(pk, type_, day, precision, ("organization", organization))


def comparable_for(user):
    """The incidents whose likely duplicates `user` may be told about: those of cases they
    may see, against a defender they may know (a protected person's real name typed in a
    file must not be confirmed by a count)."""
    return Incident.objects.visible_to(user).filter(
        Q(defender__isnull=True) | Q(defender__in=Defender.objects.visible_to(user).values("pk"))
    )


TARGET_BATCH = 2000  # names or ids per query


def recorded_reports(new: list[Report], exclude=(), within=None, span=None) -> list[Report]:
    """Incidents that may be reports of the same attacks as `new`: originals (not already
    marked duplicate) of cases that are not retracted (and among `within`, if given), of the
    same types, in the same years and against targets of the same names — so the cost
    grows with `new`, not with the database. The targets first (by their stored keys), then
    their incidents (by the target's index): plans that do not depend on statistics."""
    incidents = (
        (Incident.objects if within is None else within)
        .filter(type__in={r.type for r in new}, occurred_on__range=span or _span(new))
        .filter(duplicate_of__isnull=True)
        .exclude(case__status=Case.Status.RETRACTED)
        .order_by()
    )
    excluded = set(exclude)
    found = []
    for kind, model in (("defender", Defender), ("organization", Organization)):
        keys = sorted({r.target[1] for r in new if r.target[0] == kind})
        key_of = {}  # target id → its key
        for targets in in_batches(model.objects.order_by(), "name_key", keys, TARGET_BATCH):
            key_of.update(targets.values_list("id", "name_key"))
        for chunk in in_batches(incidents, f"{kind}_id", sorted(key_of), TARGET_BATCH):
            found += [
                Report(pk, type_, day, precision, (kind, key_of[target]))
                for pk, type_, day, precision, target in chunk.values_list(
                    "id", "type", "occurred_on", "date_precision", f"{kind}_id"
                )
                if pk not in excluded
            ]
    return found


def find_pairs(new: list[Report], recorded: list[Report]) -> set[tuple]:
    """Pairs (a, b) with at least one of them new that look like the same attack."""
    groups = defaultdict(list)
    for report in [*new, *recorded]:
        groups[(report.type, report.target)].append(report)
    new_keys = {report.key for report in new}
    pairs = set()
    for members in groups.values():
        if len(members) < 2 or not any(m.key in new_keys for m in members):
            continue
        members.sort(key=lambda r: r.occurred_on)
        # A sliding window over the dates: a pair is within DAYS or in the same year.
        for i, a in enumerate(members):
            horizon = max(
                a.occurred_on + datetime.timedelta(days=DAYS),
                a.occurred_on.replace(month=12, day=31),
            )
            for b in members[i + 1 :]:
                if b.occurred_on > horizon:
                    break
                if (a.key in new_keys or b.key in new_keys) and close_in_time(a, b):
                    pairs.add((a.key, b.key))
    return pairs


TARGETS_AT_ONCE = 500  # targets whose recorded incidents are held at a time


def pairs_with_recorded(new: list[Report], exclude=(), within=None) -> set[tuple]:
    """find_pairs(new, recorded_reports(new, …)), TARGETS_AT_ONCE targets at a time (a pair
    has one target): what is held grows with those targets' incidents, not with the file.
    The dates searched are those of all of `new`, as in one pass."""
    span = _span(new)
    by_target = defaultdict(list)
    for report in new:
        by_target[report.target].append(report)
    targets = sorted(by_target)
    pairs = set()
    for start in range(0, len(targets), TARGETS_AT_ONCE):
        some = [r for target in targets[start : start + TARGETS_AT_ONCE] for r in by_target[target]]
        recorded = recorded_reports(some, exclude=exclude, within=within, span=span)
        pairs |= find_pairs(some, recorded)
    return pairs


def incident_reports(incident_ids: Iterable[int]) -> list[Report]:
    """The reports of these incidents (those not marked duplicate), 5,000 per query."""
    reports = []
    reported = Incident.objects.filter(duplicate_of__isnull=True).exclude(
        case__status=Case.Status.RETRACTED
    )
    for chunk in in_batches(reported, "pk", incident_ids, 5000):
        reports += [_report(*row) for row in chunk.values_list(*REPORT_FIELDS)]
    return reports


def candidate_pairs(incident_ids: Iterable[int]) -> set[tuple[int, int]]:
    """New pairs (lower id first) of likely duplicates involving these incidents, leaving out
    pairs already flagged or decided."""
    new = incident_reports(incident_ids)
    if not new:
        return set()
    pairs = {tuple(sorted(pair)) for pair in pairs_with_recorded(new, [r.key for r in new])}
    if not pairs:
        return set()
    involved = {pk for pair in pairs for pk in pair}
    known = set(
        DuplicatePair.objects.filter(first__in=involved, second__in=involved).values_list(
            "first_id", "second_id"
        )
    )
    return pairs - known


def _stored_keys(rows, plan) -> dict[tuple[str, str], tuple[str, str]]:
    """A row's target key → the stored key of the record the plan found for it, as the
    import's incident will have it: a row naming someone by an alias, a merged record's name
    or a pseudonym is compared as that person. A new record keeps the row's key (its own)."""
    found = defaultdict(dict)  # kind → {row's key: record id}
    for row in rows:
        kind, key = row.target_key
        pk = (plan.defenders if kind == "defender" else plan.organizations).get(key)
        if pk is not None:
            found[kind][key] = pk
    stored = {row.target_key: row.target_key for row in rows}
    for kind, model in (("defender", Defender), ("organization", Organization)):
        name_key = {}
        ids = sorted(set(found[kind].values()))
        for chunk in in_batches(model.objects.order_by(), "pk", ids, TARGET_BATCH):
            name_key.update(chunk.values_list("pk", "name_key"))
        for key, pk in found[kind].items():
            stored[(kind, key)] = (kind, name_key.get(pk, key))
    return stored


def count_candidates_for_rows(plan) -> int:
    """How many likely duplicates an import would flag that its user may know of (for its
    preview; the pairs with incidents hidden from them are flagged all the same)."""
    rows = [row for row in plan.rows if row.action in ("create", "update")]
    if not rows:
        return 0
    stored = _stored_keys(rows, plan)
    new = [
        Report(("row", row.line), row.type, row.occurred_on, row.precision, stored[row.target_key])
        for row in rows
    ]
    updated = [row.incident.pk for row in rows if row.action == "update"]
    within = None if plan.sees_all else comparable_for(plan.user)
    return len(pairs_with_recorded(new, exclude=updated, within=within))


def count_visible_pairs(pairs: Iterable[tuple[int, int]], user) -> int:
    """How many of these pairs `user` may know of (both incidents comparable_for them)."""
    pairs = list(pairs)
    ids = {pk for pair in pairs for pk in pair}
    visible = set()
    for chunk in in_batches(comparable_for(user), "pk", ids, 5000):
        visible |= set(chunk.values_list("pk", flat=True))
    return sum(1 for a, b in pairs if a in visible and b in visible)


# People and organizations -----------------------------------------------------------------


def _alike_pairs(records: list[tuple[int, str]], alike) -> list[tuple[int, int]]:
    """Pairs of ids whose names are alike, comparing only names that share a word (a word of
    three letters or more), so the cost grows with the groups, not with the square."""
    by_word = defaultdict(list)
    for pk, name in records:
        for word in set(fold(name).split()):
            if len(word) >= 3:
                by_word[word].append((pk, name))
    pairs = set()
    for members in by_word.values():
        if len(members) > 500:  # a word as common as "de": not a useful signal
            continue
        for (a, name_a), (b, name_b) in combinations(members, 2):
            if a != b and (min(a, b), max(a, b)) not in pairs and alike(name_a, name_b):
                pairs.add((min(a, b), max(a, b)))
    return sorted(pairs)


def similar_defenders(queryset=None, limit: int = 200) -> list[tuple[Defender, Defender]]:
    """Pairs of defenders (not merged) whose names look like the same person."""
    queryset = Defender.objects.all() if queryset is None else queryset
    records = list(queryset.filter(merged_into__isnull=True).values_list("id", "full_name"))
    pairs = _alike_pairs(records, names_alike)[:limit]
    found = Defender.objects.in_bulk({pk for pair in pairs for pk in pair})
    return [(found[a], found[b]) for a, b in pairs]


def _organizations_alike(first: str, second: str) -> bool:
    return person_key(first) == person_key(second)


def similar_organizations(limit: int = 200) -> list[tuple[Organization, Organization]]:
    """Pairs of organizations whose names are the same words (any order, accents aside), or
    one's name is the other's acronym."""
    records = list(
        Organization.objects.filter(merged_into__isnull=True).values_list("id", "name", "acronym")
    )
    pairs = set(_alike_pairs([(pk, name) for pk, name, _acronym in records], _organizations_alike))
    by_name = defaultdict(list)
    for pk, name, _acronym in records:
        by_name[fold(name)].append(pk)
    for pk, _name, acronym in records:
        for other in by_name.get(fold(acronym), []) if acronym else []:
            if other != pk:
                pairs.add((min(pk, other), max(pk, other)))
    pairs = sorted(pairs)[:limit]
    found = Organization.objects.in_bulk({pk for pair in pairs for pk in pair})
    return [(found[a], found[b]) for a, b in pairs]
