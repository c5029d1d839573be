"""Likely duplicates (HRDAG: record every report, count each attack once). Reads only; the
decisions are services (cases.services).

Two incidents are likely reports of the same attack when they have the same type, the same
target (the same name once accents, case, punctuation and — for people — word order are set
aside) and dates within DAYS of each other (the same month or year when one of them is known
only to the month or year). People and organizations are likely the same when their names
are alike (organizations.names)."""

import bisect
import calendar
import datetime
import functools
import json
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from itertools import combinations
from operator import attrgetter
from urllib.parse import urlsplit

from django.core.exceptions import EmptyResultSet
from django.db import connections

from cases.models import Case, DuplicatePair, Incident, Source, comparable_for
from core.batches import in_batches
from organizations.models import Defender, Organization, Perpetrator
from organizations.names import fold, names_alike, person_key

DAYS = 3
P = Incident.DatePrecision


@dataclass(frozen=True, slots=True)
class Report:
    """What the comparison needs of an incident (or of a spreadsheet row)."""

    key: Hashable  # an incident's id, or ("row", line) (the line alone where rows are counted)
    type: str
    occurred_on: datetime.date
    precision: str
    target: tuple[str, str]


def close_in_time(a: Report, b: Report) -> bool:
    return _close(a.occurred_on, a.precision, b.occurred_on, b.precision)


def _close(day_a: datetime.date, precision_a: str, day_b: datetime.date, precision_b: str) -> bool:
    if P.YEAR in (precision_a, precision_b):
        return day_a.year == day_b.year
    if P.MONTH in (precision_a, precision_b):
        return (day_a.year, day_a.month) == (day_b.year, day_b.month)
    return abs((day_a - day_b).days) <= DAYS


def _horizon(day: datetime.date) -> datetime.date:
    """The last date a report of `day` may be close in time to (DAYS after, or the end of its
    year): where a window sliding over sorted dates stops."""
    return max(day + datetime.timedelta(days=DAYS), day.replace(month=12, day=31))


def _shift(day: datetime.date, days: int) -> datetime.date:
    """`day` moved by `days`, no further than the calendar goes."""
    try:
        return day + datetime.timedelta(days=days)
    except OverflowError:
        return datetime.date.min if days < 0 else datetime.date.max


def window_of(day: datetime.date) -> dict:
    """The dates an incident must fall on to be close in time to a report of `day`
    (close_in_time), by the precision the two are compared at: its year, its month, or DAYS
    either side."""
    return {
        "ylo": day.replace(month=1, day=1),
        "yhi": day.replace(month=12, day=31),
        "mlo": day.replace(day=1),
        "mhi": day.replace(day=calendar.monthrange(day.year, day.month)[1]),
        "dlo": _shift(day, -DAYS),
        "dhi": _shift(day, DAYS),
    }


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


TARGET_BATCH = 2000  # names or ids per query
NEW_AT_ONCE = 2000  # reports compared per statement

# The reports to compare, as rows of one JSON parameter: each a list of these columns (the
# window's dates last), with their types on PostgreSQL.
_COLUMNS = (
    ("k", "integer"),  # the report's place in the list
    # varchar, as the columns compared with: text would make PostgreSQL cast the column, and
    # then not use its index.
    ("type", "varchar"),
    ("prec", "varchar"),
    ("target", "varchar"),  # the target's stored key
    # The window at each precision, then the widest (an index's range on the incident's date).
    *((name, "date") for name in ("ylo", "yhi", "mlo", "mhi", "dlo", "dhi", "lo", "hi")),
)


def _new_rows(vendor: str) -> str:
    if vendor == "postgresql":
        columns = (f"(e->>{i})::{kind} AS {name}" for i, (name, kind) in enumerate(_COLUMNS))
        elements = "jsonb_array_elements(%s::jsonb) AS e"
        return f"(SELECT {', '.join(columns)} FROM {elements}) AS n"  # nosec B608: constants
    columns = (f"json_extract(value, '$[{i}]') AS {name}" for i, (name, _) in enumerate(_COLUMNS))
    return f"(SELECT {', '.join(columns)} FROM json_each(%s)) AS n"  # nosec B608: constants


def _window_text(day: datetime.date) -> tuple[str, ...]:
    """window_of(day), as text in the order of _COLUMNS."""
    window = window_of(day)
    widest = (min(window["ylo"], window["dlo"]), max(window["yhi"], window["dhi"]))
    return tuple(d.isoformat() for d in (*window.values(), *widest))


def _recorded_sql(kind: str, connection, within_sql: str) -> str:
    """One statement: each new report (a row of _NEW_ROWS) with the recorded incidents that
    may be reports of the same attack — originals (not marked duplicate) of cases not
    retracted, of the same type, against a target whose stored key is the report's, close in
    time (close_in_time, with the report's window). The target's name-key index, then one
    range of the (target, type, date) index per report: the cost grows with the reports, not
    with the table."""
    q = connection.ops.quote_name
    field = Incident._meta.get_field
    target = field(kind).related_model._meta
    incident, case = Incident._meta, Case._meta
    r_day = f"r.{q(field('occurred_on').column)}"
    r_prec = f"r.{q(field('date_precision').column)}"
    # The report's range in the (target, type, date) index.
    in_range = (
        f"r.{q(field(kind).column)} = t.{q(target.pk.column)} "
        f"AND r.{q(field('type').column)} = n.type AND {r_day} BETWEEN n.lo AND n.hi"
    )
    range_where = ""  # in the subquery on PostgreSQL, in the WHERE on SQLite
    if connection.vendor == "postgresql":
        # A subquery of its own (OFFSET 0), or PostgreSQL's costs, not knowing how many
        # incidents a target has, may have it read all of them and filter.
        columns = ", ".join(
            f"r.{q(field(name).column)}"
            for name in ("id", "case", "occurred_on", "date_precision", "duplicate_of")
        )
        table = q(incident.db_table)
        incidents = (
            f"CROSS JOIN LATERAL (SELECT {columns} FROM {table} r "  # nosec B608: model names
            f"WHERE {in_range} OFFSET 0) r "
        )
    else:
        # CROSS JOIN: SQLite keeps the order as written (reports, target, incidents, case).
        incidents = f"CROSS JOIN {q(incident.db_table)} r "
        range_where = f" AND {in_range}"
    # The duplicate mark is tested so that no index on it is chosen over the target's.
    return (
        f"SELECT n.k, r.{q(incident.pk.column)} FROM {_new_rows(connection.vendor)} "  # nosec B608
        f"CROSS JOIN {q(target.db_table)} t {incidents}CROSS JOIN {q(case.db_table)} c "
        f"WHERE t.{q('name_key')} = n.target "
        f"AND c.{q(case.pk.column)} = r.{q(field('case').column)} "
        f"AND COALESCE(r.{q(field('duplicate_of').column)}, 0) = 0 "
        f"AND c.{q(case.get_field('status').column)} <> %s "
        f"AND CASE WHEN n.prec = %s OR {r_prec} = %s THEN {r_day} BETWEEN n.ylo AND n.yhi "
        f"WHEN n.prec = %s OR {r_prec} = %s THEN {r_day} BETWEEN n.mlo AND n.mhi "
        f"ELSE {r_day} BETWEEN n.dlo AND n.dhi END"
        f"{range_where}{within_sql}"
    )  # B608: table and column names from the models, every value a parameter


def recorded_pairs(new: list[Report], exclude=(), within=None) -> set[tuple]:
    """Pairs (new report's key, recorded incident's id) that look like the same attack, the
    incidents in `exclude` left out (and only those among `within`, if given). The database
    compares (a statement per NEW_AT_ONCE reports): what is held grows with the pairs found,
    and the cost with `new`, not with the database."""
    return set(_recorded_pairs(new, exclude, within))


def _recorded_pairs(new: list[Report], exclude, within) -> Iterator[tuple]:
    """recorded_pairs, a statement's pairs at a time; each pair once (a report is in one
    statement, and a recorded incident has one target). `exclude` is applied here, to the
    few pairs found: sent with every statement, a re-imported file's ids cost more than the
    search."""
    connection = connections[Incident.objects.db]
    excluded = exclude if isinstance(exclude, set | frozenset) else set(exclude)
    within_sql, within_params = "", ()
    if within is not None:
        try:
            inner, within_params = within.order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:  # the user may see no incident: none to compare with
            return
        within_sql = f" AND r.{connection.ops.quote_name(Incident._meta.pk.column)} IN ({inner})"
    # Reports share days: each day's window made once per search (not kept after it: a
    # process-wide cache held megabytes in every worker).
    window_text = functools.cache(_window_text)
    for kind in ("defender", "organization"):
        reports = [r for r in new if r.target[0] == kind and r.target[1] is not None]
        sql = _recorded_sql(kind, connection, within_sql)
        for start in range(0, len(reports), NEW_AT_ONCE):
            some = reports[start : start + NEW_AT_ONCE]
            rows = json.dumps(
                [
                    [k, r.type, r.precision, r.target[1], *window_text(r.occurred_on)]
                    for k, r in enumerate(some)
                ]
            )
            params = (rows, Case.Status.RETRACTED, P.YEAR, P.YEAR, P.MONTH, P.MONTH)
            with connection.cursor() as cursor:
                cursor.execute(sql, (*params, *within_params))
                for k, pk in cursor.fetchall():
                    if pk not in excluded:
                        yield some[k].key, pk


def find_pairs(new: list[Report], recorded: list[Report]) -> set[tuple]:
    """Pairs (a, b) with at least one of them new that look like the same attack."""
    groups = defaultdict(list)
    for report in [*new, *recorded]:
        groups[(report.type, report.target)].append(report)
    # Every report is new when none is recorded (an import's rows): no set of their keys.
    new_keys = {report.key for report in new} if recorded else None
    pairs = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        if new_keys is not None and not any(m.key in new_keys for m in members):
            continue
        members.sort(key=lambda r: r.occurred_on)
        # A sliding window over the dates: a pair is within DAYS or in the same year.
        for i, a in enumerate(members):
            horizon = _horizon(a.occurred_on)
            for b in members[i + 1 :]:
                if b.occurred_on > horizon:
                    break
                if new_keys is not None and a.key not in new_keys and b.key not in new_keys:
                    continue
                if close_in_time(a, b):
                    pairs.add((a.key, b.key))
    return pairs


def pairs_with_recorded(new: list[Report], exclude=(), within=None) -> set[tuple]:
    """Pairs with at least one of `new` that look like the same attack: among `new` (compared
    here), and with the recorded incidents (compared by the database)."""
    return find_pairs(new, []) | recorded_pairs(new, exclude=exclude, within=within)


def incident_reports(incident_ids: Iterable[int]) -> list[Report]:
    """The reports of these incidents (those not marked duplicate, of cases not retracted),
    5,000 per query. The retracted cases are looked up by their ids afterwards: joined in,
    PostgreSQL read every case to hash them."""
    found, case_ids = [], set()
    originals = Incident.objects.filter(duplicate_of__isnull=True).order_by()
    for chunk in in_batches(originals, "pk", incident_ids, 5000):
        for *fields, case_id in chunk.values_list(*REPORT_FIELDS, "case_id"):
            found.append((_report(*fields), case_id))
            case_ids.add(case_id)
    retracted = set()
    cases = Case.objects.filter(status=Case.Status.RETRACTED).order_by()
    for chunk in in_batches(cases, "pk", sorted(case_ids), 5000):
        retracted.update(chunk.values_list("pk", flat=True))
    return [report for report, case_id in found if case_id not in retracted]


def candidate_pairs(incident_ids: Iterable[int]) -> set[tuple[int, int]]:
    """New pairs (lower id first) of likely duplicates involving these incidents, leaving out
    pairs already flagged or decided."""
    return {pair for pairs in candidate_pairs_in_chunks(incident_ids) for pair in pairs}


def candidate_pairs_in_chunks(incident_ids: Iterable[int]) -> Iterator[list[tuple[int, int]]]:
    """candidate_pairs, NEW_AT_ONCE incidents (by id) at a time, each chunk's pairs sorted:
    what is held grows with a chunk's pairs, not with all of them (a file that repeats an
    earlier one has a pair per row). The other incidents are in the table by now, so a pair
    of two of them in different chunks is found from either side: it is given with the
    first chunk only."""
    ids = sorted(set(incident_ids))
    for start in range(0, len(ids), NEW_AT_ONCE):
        new = incident_reports(ids[start : start + NEW_AT_ONCE])
        pairs = set()
        for a, b in pairs_with_recorded(new, [r.key for r in new]):
            at = bisect.bisect_left(ids, b, hi=start)
            if at < start and ids[at] == b:  # given with b's chunk already
                continue
            pairs.add((min(a, b), max(a, b)))
        firsts = sorted({first for first, _second in pairs})
        known = set()
        for chunk in in_batches(DuplicatePair.objects.order_by(), "first_id", firsts, TARGET_BATCH):
            known |= pairs & set(chunk.values_list("first_id", "second_id"))
        yield sorted(pairs - known)


def _stored_keys(rows, plan) -> dict[tuple[str, str], tuple[str, str]]:
    """A row's target key → the stored key of the record the plan found for it, as the
    import's incident will have it, where the two differ: a row naming someone by an alias,
    a merged record's name or a pseudonym is compared as that person. A row naming a record
    by its own stored key, or a new record, keeps its key (and is not held here): most rows,
    TARGET_BATCH of them looked up at a time."""
    stored = {}
    for kind, model in (("defender", Defender), ("organization", Organization)):
        index = plan.defenders if kind == "defender" else plan.organizations
        found = {}  # row's key → record id, TARGET_BATCH of them at a time
        for row in rows:
            row_kind, key = row.target_key
            if row_kind == kind and (pk := index.get(key)) is not None:
                found[key] = pk
                if len(found) == TARGET_BATCH:
                    stored.update(_renamed(kind, model, found))
                    found = {}
        stored.update(_renamed(kind, model, found))
    return stored


def _renamed(kind: str, model, found: dict[str, int]) -> dict:
    """(kind, row's key) → (kind, stored key) for the records found whose stored key is not
    the row's (found: row's key → record id)."""
    name_key = {}
    for chunk in in_batches(
        model.objects.order_by(), "pk", sorted(set(found.values())), TARGET_BATCH
    ):
        name_key.update(chunk.values_list("pk", "name_key"))
    return {
        (kind, key): (kind, name_key[pk])
        for key, pk in found.items()
        if name_key.get(pk, key) != key
    }


def count_pairs_among(reports: Iterable[Report]) -> int:
    """len(find_pairs(reports, [])), every report new, keys distinct: counted, not collected,
    over one sorted list of what the comparison needs (no report, group or pair held)."""
    return _count_sorted(sorted((r.type, r.target, r.occurred_on, r.precision) for r in reports))


def _count_sorted(compared: list[tuple], examples: list | None = None, keep: int = 0) -> int:
    """count_pairs_among over (type, target, date, precision[, line]) of each report, sorted.
    With `examples`, the lines of the first `keep` pairs found are added to it."""
    count = 0
    for i, (type_, target, day, precision, *line) in enumerate(compared):
        horizon = _horizon(day)
        # The reports after it, while of its group and near enough (no slice: a copy each).
        for j in range(i + 1, len(compared)):
            other_type, other_target, other_day, other_precision, *other_line = compared[j]
            if other_day > horizon or other_target != target or other_type != type_:
                break
            if _close(day, precision, other_day, other_precision):
                count += 1
                if examples is not None and len(examples) < keep:
                    examples.append(LikelyDuplicate(*sorted((*line, *other_line))))
    return count


@dataclass(frozen=True)
class LikelyDuplicate:
    """A pair an import would flag, as its preview names it: a line of the file and another
    line, or a line and a recorded incident (its id)."""

    line: int
    other_line: int | None = None
    incident: int | None = None


def count_candidates_for_rows(plan, examples: list | None = None, keep: int = 0) -> int:
    """How many likely duplicates an import would flag that its user may know of (for its
    preview; the pairs with incidents hidden from them are flagged all the same). Counted,
    not collected, and compared with the recorded incidents NEW_AT_ONCE rows at a time, so
    that the preview holds no pair, nor every row's report at once. With `examples`, the
    first `keep` pairs (LikelyDuplicate) are added to it, those within the file first."""
    rows = [row for row in plan.rows if row.action in ("create", "update")]
    if not rows:
        return 0
    stored = _stored_keys(rows, plan)

    def target(row):  # as the import's incident will have it
        return stored.get(row.target_key, row.target_key)

    # A pair among the rows is never one with a recorded incident; the incidents the file
    # updates are left out of the latter, whichever chunk names them.
    updated = frozenset(row.incident.pk for row in rows if row.action == "update")
    within = None if plan.sees_all else comparable_for(plan.user)
    # The pairs among the rows, over what the comparison needs of each (no report made).
    count = _count_sorted(
        sorted((row.type, target(row), row.occurred_on, row.precision, row.line) for row in rows),
        examples,
        keep,
    )
    # By target kind and date: each statement full (it holds one kind), each chunk's days few
    # (its windows made once a chunk).
    for kind in ("defender", "organization"):
        of_kind = sorted(
            (row for row in rows if row.target_key[0] == kind), key=attrgetter("occurred_on")
        )
        for start in range(0, len(of_kind), NEW_AT_ONCE):
            # Keyed by line alone: counted here, never set beside recorded incidents' ids.
            new = [
                Report(row.line, row.type, row.occurred_on, row.precision, target(row))
                for row in of_kind[start : start + NEW_AT_ONCE]
            ]
            for line, pk in _recorded_pairs(new, updated, within):
                count += 1
                if examples is not None and len(examples) < keep:
                    examples.append(LikelyDuplicate(line, incident=pk))
    return count


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
    return _similar_bodies(Organization, limit)


def similar_perpetrators(limit: int = 200) -> list[tuple[Perpetrator, Perpetrator]]:
    """Pairs of perpetrators alike as organizations are (similar_organizations), or with the
    same acronym ("SEBIN" written two ways)."""
    return _similar_bodies(Perpetrator, limit, same_acronym=True)


def _similar_bodies(model, limit: int, same_acronym: bool = False) -> list[tuple]:
    records = list(
        model.objects.filter(merged_into__isnull=True).values_list("id", "name", "acronym")
    )
    pairs = set(_alike_pairs([(pk, name) for pk, name, _acronym in records], _organizations_alike))
    by_name = defaultdict(list)
    for pk, name, _acronym in records:
        by_name[fold(name)].append(pk)
    by_acronym = defaultdict(list)
    for pk, _name, acronym in records:
        if not acronym:
            continue
        for other in by_name.get(fold(acronym), []):
            if other != pk:
                pairs.add((min(pk, other), max(pk, other)))
        by_acronym[fold(acronym)].append(pk)
    if same_acronym:
        for members in by_acronym.values():
            pairs.update(combinations(sorted(members), 2))
    pairs = sorted(pairs)[:limit]
    found = model.objects.in_bulk({pk for pair in pairs for pk in pair})
    return [(found[a], found[b]) for a, b in pairs]


def link_key(url: str) -> str:
    """A link as two citations of one item compare: without scheme, "www.", fragment,
    tracking parameters or trailing slash, host in lower case."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    query = "&".join(
        sorted(
            pair
            for pair in parts.query.split("&")
            if pair and not pair.lower().startswith(TRACKING)
        )
    )
    path = parts.path.rstrip("/")
    return f"{host}{path}" + (f"?{query}" if query else "")


TRACKING = ("utm_", "fbclid", "gclid", "igshid", "si=")
MAX_CITING = 200  # candidates read per source link


def sources_cited_elsewhere(case: Case, user) -> list[dict]:
    """The sources of `case` whose link or file another case also cites, with those cases:
    only cases `user` may see (of a case they may not see, nothing is said)."""
    found = []
    visible = Source.objects.visible_to(user).exclude(case=case).select_related("case")
    for source in Source.objects.visible_to(user).filter(case=case):
        others = {}
        if source.sha256:
            for other in visible.filter(sha256=source.sha256):
                others[other.case_id] = other.case
        key = link_key(source.url) if source.url else ""
        core = key.split("?")[0]
        if "/" in core:  # a page, not a whole site (a host alone matches every page of it)
            for other in visible.filter(url__icontains=core)[:MAX_CITING]:
                if link_key(other.url) == key:
                    others[other.case_id] = other.case
        if others:
            found.append({"source": source, "cases": sorted(others.values(), key=str)})
    return found
