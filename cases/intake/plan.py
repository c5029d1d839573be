"""Planning an import against the database: what each checked row would create, update,
leave alone or reject (and why), the names to record, the cases to make. Reads, never
writes: cases.intake.write carries a plan out."""

import csv
import hashlib
import io
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from accounts.access import sees_everything
from cases.duplicates import count_candidates_for_rows
from cases.intake.check import PerpetratorRef, Row
from cases.intake.template import COLUMNS, ERROR_COLUMNS, SOCIAL_MEDIA, format_date
from cases.models import Case, ImportBatch, Incident, Involvement, Source
from core.batches import in_batches
from core.spreadsheets import csv_safe
from organizations.models import Defender, Membership, Organization, Perpetrator


@dataclass
class Plan:
    rows: list[Row]
    origin: str
    case_status: str
    # Names to create: target key / perpetrator folded name → the name as first written.
    new_defenders: dict[str, str] = field(default_factory=dict)
    new_organizations: dict[str, str] = field(default_factory=dict)
    new_perpetrators: dict[str, PerpetratorRef] = field(default_factory=dict)
    # Memberships the rows name and that are not recorded: (defender key, organization key) →
    # (the names as the file writes them).
    new_memberships: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    defenders: dict[str, int] = field(default_factory=dict)
    organizations: dict[str, int] = field(default_factory=dict)
    perpetrators: dict[str, int] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    # Writing: every case the rows name, key → id (those there before, then those written,
    # whose objects are let go chunk by chunk).
    case_ids: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0  # likely duplicates the user may know of
    # The first DUPLICATE_EXAMPLES of them (cases.duplicates.LikelyDuplicate), for the preview.
    duplicate_examples: list = field(default_factory=list)
    user: object = None
    sees_all: bool = True

    def of(self, action: str) -> list[Row]:
        return [row for row in self.rows if row.action == action]

    @property
    def rejected(self) -> list[Row]:
        return self.of("reject")

    def counts(self) -> dict[str, int]:
        """What the plan would do, counted, by the names of ImportBatch's fields."""
        return dict(
            zip(
                COUNT_FIELDS,
                (
                    len(self.rows),
                    len(self.of("create")),
                    len(self.of("update")),
                    len(self.of("unchanged")),
                    len(self.rejected),
                    len(self.new_defenders)
                    + len(self.new_organizations)
                    + len(self.new_perpetrators),
                    self.duplicates,
                ),
                strict=True,
            )
        )


COUNT_FIELDS = (
    "rows_total",
    "rows_created",
    "rows_updated",
    "rows_unchanged",
    "rows_rejected",
    "records_created",
    "duplicates_flagged",
)


def batch_counts(batch: ImportBatch) -> dict[str, int]:
    """The counts an import kept on its batch, as Plan.counts() names them."""
    return {name: getattr(batch, name) for name in COUNT_FIELDS}


def plan_digest(plan: Plan) -> str:
    """A digest of what the plan would do with every row and every name: equal for two
    plans that would write the same (the preview's, and the import's made again later)."""
    digest = hashlib.sha256()
    for row in plan.rows:
        incident = row.incident.pk if row.incident is not None else ""
        changes = ",".join(row.changes)
        digest.update(f"{row.line}\t{row.action}\t{row.ref}\t{incident}\t{changes}\n".encode())
    for names in (plan.new_defenders, plan.new_organizations, plan.new_perpetrators):
        digest.update(("\t".join(sorted(names)) + "\n").encode())
    digest.update(repr(sorted(plan.new_memberships)).encode())
    return digest.hexdigest()


def preview_summary(plan: Plan, rows: int) -> dict:
    """What a preview page shows of a plan, as JSON (ImportBatch.preview): the counts, the
    first `rows` rows of each kind, the names not recorded yet, the likely duplicates."""
    created = [
        {
            "line": row.line,
            "ref": row.ref,
            "values": {"fecha": row.get("fecha"), "tipo": row.get("tipo")},
            "target_name": row.target_name,
            "case_title": row.case_title,
        }
        for row in plan.of("create")[:rows]
    ]
    perpetrators = sorted(
        f"{p.name} ({p.acronym})" if p.acronym else p.name for p in plan.new_perpetrators.values()
    )
    return {
        "counts": plan.counts(),
        "created": created,
        "updated": [
            {"line": row.line, "ref": row.ref, "changes": row.changes}
            for row in plan.of("update")[:rows]
        ],
        "rejected": [{"line": row.line, "errors": row.errors} for row in plan.rejected[:rows]],
        "new_defenders": sorted(plan.new_defenders.values())[:rows],
        "new_organizations": sorted(plan.new_organizations.values())[:rows],
        # With the acronym read from "Name (ACRONYM)", so that it is seen before it is kept.
        "new_perpetrators": perpetrators[:rows],
        "new_memberships": sorted(f"{d} — {o}" for d, o in plan.new_memberships.values())[:rows],
        "likely_duplicates": [
            [example.line, example.other_line, example.incident]
            for example in plan.duplicate_examples
        ],
    }


def counts_sentence(counts: dict[str, int]) -> str:
    """An import's counts (Plan.counts, or a batch's fields of the same names) as one line,
    each figure after its label (no singular or plural to agree) in the language's format."""
    shown = {key: number_format(value, force_grouping=True) for key, value in counts.items()}
    return (
        _(
            "Rows: %(rows_total)s. New: %(rows_created)s; updated: %(rows_updated)s; "
            "unchanged: %(rows_unchanged)s; rejected: %(rows_rejected)s. People, "
            "organizations and perpetrators not recorded before (flagged for review): "
            "%(records_created)s. Likely duplicates to review: %(duplicates_flagged)s."
        )
        % shown
    )


def survivor_id(pk: int, merged_into: dict[int, int | None]) -> int:
    """The record `pk` was merged into, at the end of a chain of merges (A into B, then B into
    C: C); a cycle, which merges never make, stops where it closes."""
    seen = {pk}
    while (parent := merged_into.get(pk)) is not None and parent not in seen:
        seen.add(parent)
        pk = parent
    return pk


LOOKUP_BATCH = 2000  # keys or ids per query
DUPLICATE_EXAMPLES = 50  # likely duplicates a preview names (it counts them all)


def _matching(queryset, keys_by_field: dict[str, set[str]], *extra: str) -> list[dict]:
    """The records of `queryset` holding one of the keys in the stored key field it is given
    for (e.g. name_key), in id order: the names a file holds, never every name recorded."""
    found = {}
    for field_name, keys in keys_by_field.items():
        wanted = sorted(key for key in keys if key)
        for chunk in in_batches(queryset, field_name, wanted, LOOKUP_BATCH):
            for row in chunk.order_by().values("id", *keys_by_field, *extra):
                found[row["id"]] = row
    return [found[pk] for pk in sorted(found)]


def _merged_into(queryset, rows: list[dict]) -> dict[int, int | None]:
    """id → merged_into_id for these records and, as far as `queryset` holds them, the
    records they were merged into, to the end of each chain."""
    merged_into = {row["id"]: row["merged_into_id"] for row in rows}
    asked = set(merged_into)
    while parents := sorted({pk for pk in merged_into.values() if pk is not None} - asked):
        asked.update(parents)
        for chunk in in_batches(queryset.order_by(), "pk", parents, LOOKUP_BATCH):
            merged_into.update(chunk.values_list("id", "merged_into_id"))
    return merged_into


def _index(queryset, keys: set[str], fields: tuple[str, ...]) -> dict[str, int]:
    """key → id of the record it names (a merged record leads to its survivor), for the keys
    given: the first record by id that has the key in one of `fields`, in their order."""
    rows = _matching(queryset, dict.fromkeys(fields, keys), "merged_into_id")
    merged_into = _merged_into(queryset, rows)
    index = {}
    for row in rows:
        target = survivor_id(row["id"], merged_into)
        for name in fields:
            if row[name] in keys:
                index.setdefault(row[name], target)
    return index


AMBIGUOUS = 0  # an acronym that several perpetrators share


def _perpetrator_index(names: set[str], acronyms: set[str]) -> dict[str, int]:
    """ "n:<folded name>" and "n:<folded name (acronym)>" → id; "a:<folded acronym>" → id, or
    AMBIGUOUS if several perpetrators have it: for these folded names and acronyms."""
    queryset = Perpetrator.objects.all()
    rows = _matching(
        queryset,
        {"name_key": names, "full_key": names, "acronym_key": acronyms},
        "acronym",
        "merged_into_id",
    )
    merged_into = _merged_into(queryset, rows)
    index = {}
    for row in rows:
        target = survivor_id(row["id"], merged_into)  # a merged record leads to its survivor
        if row["name_key"] in names:
            index.setdefault(f"n:{row['name_key']}", target)
        if row["acronym"]:
            if row["full_key"] in names:
                index.setdefault(f"n:{row['full_key']}", target)
            if row["acronym_key"] in acronyms:
                key = f"a:{row['acronym_key']}"
                index[key] = target if index.get(key, target) == target else AMBIGUOUS
    return index


def _names_in(rows: list[Row]) -> tuple[set[str], set[str], set[str], set[str]]:
    """The keys a file looks up: defenders', organizations', perpetrators' names ("name" and
    "name (acronym)") and perpetrators' acronyms."""
    defenders, organizations, names, acronyms = set(), set(), set(), set()
    for row in rows:
        if row.target_kind:
            kind, key = row.target_key
            (defenders if kind == "defender" else organizations).add(key)
        if row.member_of:
            organizations.add(row.member_of[1])
        for perpetrator in row.perpetrators:
            name = perpetrator.key
            names.add(name)
            acronyms.add(name)  # an acronym alone in the cell, or one several share
            if perpetrator.acronym:
                names.add(perpetrator.full_key)
    return defenders, organizations, names, acronyms


def of_origin(queryset, origin: str):
    """The records imported from `origin` (with a reference): the terms of the partial unique
    index on (origin, reference), so that a lookup by thousands of references uses it; in no
    order (the lookups key what they find by reference): an incident's order, by date, would
    sort every batch and let the planner read the date index whole instead, on a small table."""
    return queryset.filter(import_origin=origin).exclude(import_ref="").order_by()


def plan_import(
    rows: list[Row], *, origin: str, case_status: str, user, trusted: bool = False
) -> Plan:
    """Classify each checked row: create, update (what changes), unchanged, or reject (why).
    Reads the database, writes nothing. `trusted` (the command line): the operator sees and
    may change everything."""
    sees_all = trusted or sees_everything(user)
    plan = Plan(rows=rows, origin=origin, case_status=case_status, user=user, sees_all=sees_all)
    defenders = Defender.objects.all() if sees_all else Defender.objects.visible_to(user)
    defender_keys, organization_keys, names, acronyms = _names_in(rows)
    plan.defenders = _index(defenders, defender_keys, ("name_key", "known_as_key"))
    plan.organizations = _index(
        Organization.objects.all(), organization_keys, ("name_key", "acronym_key")
    )
    plan.perpetrators = _perpetrator_index(names, acronyms)
    visible_cases = Case.objects.all() if sees_all else Case.objects.visible_to(user)

    refs = [row.ref for row in rows if row.ref and not row.errors]
    existing = {}  # the incidents of this origin that the file's references name
    incidents = of_origin(Incident.objects.select_related("case", "defender"), origin)
    for chunk in in_batches(incidents, "import_ref", refs, LOOKUP_BATCH):
        existing.update({incident.import_ref: incident for incident in chunk})
    by_public_id = _incidents_by_public_id(refs)
    case_ids = {row.case_id for row in rows if row.case_id is not None}
    case_keys = sorted({row.case_key for row in rows})
    plan.cases = {}  # the cases of this origin that the file's “caso” names
    for chunk in in_batches(
        of_origin(Case.objects.all(), origin), "import_ref", case_keys, LOOKUP_BATCH
    ):
        plan.cases.update({case.import_ref: case for case in chunk})
    plan.cases.update(
        {f"id:{case.public_id}": case for case in Case.objects.filter(public_id__in=case_ids)}
    )
    visible_case_ids = set(
        visible_cases.filter(
            pk__in=[c.pk for c in plan.cases.values()]
            + [i.case_id for i in existing.values()]
            + [i.case_id for i in by_public_id.values()]
        ).values_list("pk", flat=True)
    )

    # The perpetrators of every incident a row may update, in one query per 5,000 incidents.
    involved = defaultdict(set)
    known_ids = [i.pk for i in existing.values()] + [i.pk for i in by_public_id.values()]
    for chunk in in_batches(Involvement.objects.all(), "incident_id", known_ids, 5000):
        for incident_id, perpetrator_id_, role in chunk.values_list(
            "incident_id", "perpetrator_id", "role"
        ):
            involved[incident_id].add((perpetrator_id_, role))

    def may_touch(case: Case) -> str | None:
        if case.pk not in visible_case_ids:
            # Says no more than needed: not that a restricted case exists, nor its title.
            return _("is already used by records you may not change: ask a coordinator")
        if case.status == Case.Status.RETRACTED:
            return _(
                "belongs to a retracted case (or import): import the file under another origin"
            )
        return None

    def may_change(case: Case) -> str | None:
        if problem := may_touch(case):
            return problem
        if trusted or case.is_editable_by(user):
            return None
        return _("belongs to a verified case: only a reviewer may change it")

    pseudonyms = None  # code → defender ids, read only if a row names a pseudonym
    named = {}  # incident id → the line that names it
    # A perpetrator not recorded yet needs its category on one of its rows at least.
    categorized = {
        p.key: p for row in rows if not row.errors for p in row.perpetrators if p.category
    }
    for row in rows:
        if row.errors:
            continue
        for perpetrator in row.perpetrators:
            key = perpetrator.key
            if (
                plan.perpetrators.get(f"a:{key}") == AMBIGUOUS
                and f"n:{key}" not in plan.perpetrators
            ):
                row.error(
                    "perpetrador",
                    _("“%(name)s” is the acronym of several perpetrators: write the full name")
                    % {"name": perpetrator.name},
                )
            elif perpetrator_id(perpetrator, plan) is None and key not in categorized:
                row.error(
                    "categoria_perpetrador",
                    _("“%(name)s” is not recorded yet: give its category")
                    % {"name": perpetrator.name},
                )
        incident = by_public_id.get(row.ref) or existing.get(row.ref)
        if incident is not None and incident.pk in named:
            # Its public id on one row, its reference on another: one would undo the other.
            row.error(
                "referencia",
                _("“%(ref)s” names the same incident as line %(line)d")
                % {"ref": row.ref, "line": named[incident.pk]},
            )
        elif incident is not None:
            named[incident.pk] = row.line
            # Only a row that changes something needs the right to change the case.
            if problem := may_touch(incident.case):
                row.error(
                    "referencia", _("“%(ref)s” %(problem)s") % {"ref": row.ref, "problem": problem}
                )
        elif row.case_key in plan.cases:
            if problem := may_change(plan.cases[row.case_key]):
                row.error("caso", problem)
        if row.pseudonym and not row.errors:
            if pseudonyms is None:
                pseudonyms = _pseudonym_index(defenders)
            _resolve_pseudonym(row, incident, pseudonyms, plan)
        if row.errors:
            continue
        row.incident = incident
        if incident is None:
            row.action = "create"
        else:
            _keep_absent(row, incident, plan, involved[incident.pk])
            row.changes = _changes(row, incident, plan, involved[incident.pk])
            row.action = "update" if row.changes else "unchanged"
            if row.changes and (problem := may_change(incident.case)):
                row.error(
                    "referencia", _("“%(ref)s” %(problem)s") % {"ref": row.ref, "problem": problem}
                )

    _check_verified_cases_have_sources(plan)
    for row in rows:
        if row.errors:
            row.action = "reject"
            continue
        # Names to create: only those of rows that will be imported.
        kind, key = row.target_key
        known = plan.defenders if kind == "defender" else plan.organizations
        new = plan.new_defenders if kind == "defender" else plan.new_organizations
        if key not in known:
            new.setdefault(key, row.target_name)
        if row.member_of:
            name, organization = row.member_of
            if organization not in plan.organizations:
                plan.new_organizations.setdefault(organization, name)
            plan.new_memberships.setdefault((key, organization), (row.target_name, name))
        for perpetrator in row.perpetrators:
            if perpetrator_id(perpetrator, plan) is None:
                key = perpetrator.key
                plan.new_perpetrators.setdefault(key, categorized[key])
    _leave_out_recorded_memberships(plan)
    plan.duplicates = count_candidates_for_rows(plan, plan.duplicate_examples, DUPLICATE_EXAMPLES)
    return plan


def _leave_out_recorded_memberships(plan: Plan) -> None:
    """Of the memberships the rows name, keep those not recorded yet (ended ones included:
    a past membership is recorded)."""
    known = {
        (plan.defenders[d], plan.organizations[o]): (d, o)
        for d, o in plan.new_memberships
        if d in plan.defenders and o in plan.organizations
    }
    defender_ids = {defender for defender, _organization in known}
    for chunk in in_batches(Membership.objects.all(), "defender_id", defender_ids, LOOKUP_BATCH):
        for pair in chunk.values_list("defender_id", "organization_id"):
            if pair in known:
                del plan.new_memberships[known[pair]]


def _pseudonym_index(defenders) -> dict[str, set[int]]:
    """Pseudonym code → the protected defenders (their survivors, if merged) it may stand for."""
    index = defaultdict(set)
    merged_into = dict(
        defenders.filter(merged_into__isnull=False).order_by().values_list("id", "merged_into_id")
    )
    protected = defenders.filter(identity_protected=True).order_by()
    for pk, key in protected.values_list("id", "pseudonym_key"):
        index[Defender.pseudonym_code(key)].add(survivor_id(pk, merged_into))
    return index


def _resolve_pseudonym(row: Row, incident, pseudonyms: dict[str, set[int]], plan: Plan) -> None:
    """A file exported from here names protected defenders by their pseudonyms: map one back
    to its defender (the incident's own, when the row updates it). A pseudonym is never taken
    for the name of a new person."""
    current = incident.defender if incident is not None else None
    if (
        current is not None
        and current.identity_protected
        and Defender.pseudonym_code(current.pseudonym_key) == row.pseudonym
    ):
        found = {current.merged_into_id or current.pk}
    else:
        found = pseudonyms.get(row.pseudonym, set())
    if len(found) != 1:
        row.error(
            "victima",
            _(
                "“%(name)s” is the pseudonym of a protected defender who cannot be identified "
                "here: write the person's name (if you may know it) or leave this row out"
            )
            % {"name": row.target_name},
        )
        return
    plan.defenders[row.target_key[1]] = found.pop()


def _incidents_by_public_id(refs: list[str]) -> dict[str, Incident]:
    """Rows whose reference is an incident's public id (a file exported from here)."""
    ids = []
    for ref in refs:
        try:
            ids.append(uuid.UUID(ref))
        except ValueError:
            continue
    found = {}
    incidents = Incident.objects.select_related("case", "defender")
    for chunk in in_batches(incidents, "public_id", ids, 5000):
        found.update({str(i.public_id): i for i in chunk})
    return found


def _check_verified_cases_have_sources(plan: Plan) -> None:
    """A verified case needs a source (as in the workflow): new cases imported as verified
    need one row with fuente_url or fuente_medio."""
    if plan.case_status != ImportBatch.CaseStatus.VERIFIED:
        return
    groups = defaultdict(list)
    for row in plan.rows:
        if not row.errors and row.action == "create" and row.case_key not in plan.cases:
            groups[row.case_key].append(row)
    for group in groups.values():
        if not any(row.get("fuente_url") or row.get("fuente_medio") for row in group):
            group[0].error(
                "fuente_url",
                _("a case imported as verified needs a source: fill fuente_url or fuente_medio"),
            )
            for row in group[1:]:
                row.error(
                    "fuente_url",
                    _("its case (line %(line)d) has no source") % {"line": group[0].line},
                )


def target_id(row: Row, plan: Plan) -> int | None:
    kind, key = row.target_key
    return (plan.defenders if kind == "defender" else plan.organizations).get(key)


def perpetrator_id(perpetrator: PerpetratorRef, plan: Plan) -> int | None:
    """The perpetrator a row names: by its name (or "name (acronym)"); by its acronym only
    when the cell holds nothing else — "Freddy Bernal (PSUV)" is never "Diosdado Cabello
    (PSUV)"."""
    for key in perpetrator.lookups:
        if found := plan.perpetrators.get(key):  # not AMBIGUOUS
            return found
    return None


def _keep_absent(row: Row, incident: Incident, plan: Plan, involved: set) -> None:
    """A column the file does not have means "leave it as it is" for the incident a row
    updates (a file with fewer columns must not wipe what it does not mention)."""
    if "estado" not in row.columns:
        row.state = incident.state
    for column, name in (("municipio", "municipality"), ("descripcion", "description")):
        if column not in row.columns:
            row.values[column] = getattr(incident, name)
    if "perpetrador" not in row.columns:
        row.keep_perpetrators = True
    elif "rol_perpetrador" not in row.columns:
        roles = dict(involved)  # perpetrator id → its role now
        kept = []
        for perpetrator in row.perpetrators:
            pk = perpetrator_id(perpetrator, plan)
            # Rows share their perpetrators: this row's gets one of its own.
            kept.append(replace(perpetrator, role=roles[pk]) if pk in roles else perpetrator)
        row.perpetrators = tuple(kept)


def _changes(row: Row, incident: Incident, plan: Plan, involved: set) -> list[str]:
    """The fields of `incident` that the row changes (labels, for the preview)."""
    changed = []
    fields = {
        "type": row.type,
        "occurred_on": row.occurred_on,
        "date_precision": row.precision,
        "state": row.state,
        "municipality": row.get("municipio"),
        "description": row.get("descripcion"),
    }
    for name, value in fields.items():
        if getattr(incident, name) != value:
            changed.append(str(Incident._meta.get_field(name).verbose_name))
    kind, _key = row.target_key
    current = incident.defender_id if kind == "defender" else incident.organization_id
    if current is None or current != target_id(row, plan):
        changed.append(str(_("target")))
    wanted = {(perpetrator_id(p, plan), p.role) for p in row.perpetrators}
    if not row.keep_perpetrators and (None in {pk for pk, _role in wanted} or wanted != involved):
        changed.append(str(Incident._meta.get_field("perpetrators").verbose_name))
    return changed


def source_kind(url: str, publisher: str) -> str:
    host = re.sub(r"^https?://(www\.)?", "", url.lower()).split("/", 1)[0]
    if any(host == domain or host.endswith("." + domain) for domain in SOCIAL_MEDIA):
        return Source.Kind.SOCIAL_MEDIA
    return Source.Kind.PRESS if publisher or url else Source.Kind.OTHER


def error_file(plan: Plan) -> bytes:
    """The rejected rows as they came, one line each, with its line, columns and reasons
    first: fix them there and import that file (same origin) to bring them in. Only the
    columns the file had: a column added empty would clear that field of the incidents the
    rows update."""
    columns = [c for c in COLUMNS if not plan.rejected or c in plan.rejected[0].columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*ERROR_COLUMNS, *columns])
    for row in plan.rejected:
        cells = [
            row.line,
            "; ".join(dict.fromkeys(column for column, _message in row.errors if column)),
            "; ".join(message for _column, message in row.errors),
            *(row.get(c) for c in columns),
        ]
        writer.writerow([csv_safe(str(cell)) for cell in cells])
    return "\ufeff".encode() + buffer.getvalue().encode()


def auto_case_title(row: Row) -> str:
    """The title of a case made for a row without “caso” (no names: a protected defender's
    name must not reach a title)."""
    return _("%(type)s, %(date)s (imported, reference %(ref)s)") % {
        "type": Incident.Type(row.type).label,
        "date": format_date(row.occurred_on, row.precision),
        "ref": row.ref[:50],
    }


@dataclass
class RetractionScope:
    """What retracting a batch does, as `user` may know it."""

    cases: list[Case]  # the cases it created: retracted
    incidents: int  # the incidents in them
    hidden_cases: int  # cases it created that `user` may not see: the retraction is refused
    kept_incidents: int  # incidents it added to cases that existed before: they stay
    kept_cases: list[Case]  # those earlier cases, the ones `user` may see
    kept_hidden_cases: int  # and how many others


def retraction_scope(batch: ImportBatch, user) -> RetractionScope:
    visible = Case.objects.visible_to(user).values("pk")
    created = Case.objects.filter(import_batch=batch).order_by("pk")
    added = Incident.objects.filter(import_batch=batch).exclude(case__import_batch=batch)
    earlier = Case.objects.filter(pk__in=added.values("case_id")).order_by("title", "pk")
    return RetractionScope(
        cases=list(created.filter(pk__in=visible)),
        incidents=Incident.objects.filter(case__import_batch=batch).count(),
        hidden_cases=created.exclude(pk__in=visible).count(),
        kept_incidents=added.count(),
        kept_cases=list(earlier.filter(pk__in=visible)),
        kept_hidden_cases=earlier.exclude(pk__in=visible).count(),
    )
