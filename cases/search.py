"""One search over cases, incidents, people, organizations, perpetrators and sources (their
archived copies' text and their files' extracted text included), showing each person only
what they may see: each kind starts from its `visible_to`, so restricted cases stay with
their team, confidential sources (and so their text) with the case team, and a protected
defender is found by name only by those who may know it.

PostgreSQL: full-text search in Spanish without accents (core.textsearch), on GIN-indexed
vectors; the first CANDIDATES matches of each kind the index gives are ranked, so that a
common word costs what a rare one does. SQLite: every folded word
must appear; newest first. The snippets are cut and marked here, from escaped text."""

import dataclasses

from django.contrib.postgres.search import SearchRank
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.db.models.functions import Left
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.models import ArchivedCopy, Case, Incident, Source, SourceText, Support
from core import textsearch
from organizations.models import Defender, Organization, Perpetrator

CANDIDATES = 200  # matches read per kind, then ranked; more words reach the rest
PER_KIND = 10
SNIPPET_CHARS = 220
SNIPPET_SCAN = 20_000  # characters of a long text searched for the snippet's words


@dataclasses.dataclass(frozen=True)
class Kind:
    """What is searched of one kind: its fields (as indexed), the text its snippet comes
    from, the group's heading, and what its hits' labels read with it."""

    key: str
    heading: str
    fields: tuple[str, ...]
    snippet_field: str
    related: tuple[str, ...] = ()


KINDS = {
    "case": Kind("case", gettext_lazy("Cases"), ("title", "summary", "place"), "summary"),
    "incident": Kind(
        "incident",
        gettext_lazy("Incidents"),
        ("description", "municipality"),
        "description",
        ("defender", "organization", "case"),
    ),
    "defender": Kind("defender", gettext_lazy("Defenders"), ("full_name", "known_as"), ""),
    "organization": Kind("organization", gettext_lazy("Organizations"), ("name", "acronym"), ""),
    "perpetrator": Kind("perpetrator", gettext_lazy("Perpetrators"), ("name", "acronym"), ""),
    "source": Kind(
        "source", gettext_lazy("Sources"), ("title", "publisher", "url"), "title", ("case",)
    ),
    # Where a source's words may also be: the copy of its link, its file's text.
    "archive": Kind("archive", "", ("text",), "text"),
    "file_text": Kind("file_text", "", ("text",), "text"),
}


@dataclasses.dataclass
class Hit:
    label: str
    url: str
    snippet: SafeString = SafeString("")
    where: str = ""  # where the words were found, if not in the record itself


@dataclasses.dataclass
class Group:
    kind: str
    heading: str
    hits: list[Hit]
    more: bool  # more matches than shown: more words narrow them


def search(user, text: str, *, per_kind: int = PER_KIND) -> list[Group]:
    """What `user` may see that matches `text`, by kind; empty if `text` has no word."""
    if not textsearch.words(text):
        return []
    cases = Case.objects.visible_to(user)
    incidents = Incident.objects.visible_to(user)
    sources = Source.objects.visible_to(user)
    groups = []

    found, more = _matches(cases, KINDS["case"], text, per_kind)
    groups.append(Group("case", KINDS["case"].heading, [_case_hit(c, text) for c in found], more))

    # Sources: by their own fields, or by words only in their link's copy or their file.
    own, more_sources = _matches(sources, KINDS["source"], text, per_kind)
    # Only the copy of the link the source cites now, only the text of the file it holds now.
    copies, more_copies = _matches(
        ArchivedCopy.objects.filter(
            source__in=sources, state=ArchivedCopy.State.DONE, url=F("source__url")
        ),
        KINDS["archive"],
        text,
        per_kind,
    )
    files, more_files = _matches(
        SourceText.objects.filter(source__in=sources, sha256=F("source__sha256")),
        KINDS["file_text"],
        text,
        per_kind,
    )
    source_hits = {s.pk: _source_hit(s, s.title or s.url, text, "") for s in own}
    inside = {}  # source id → (the text the words were found in, where)
    for item, where in [(c, "archive") for c in copies] + [(f, "file") for f in files]:
        inside.setdefault(item.source_id, (item.snippet_text, where))
    holders = Source.objects.filter(pk__in=inside.keys()).select_related("case").in_bulk()
    for source_id, (hit_text, where) in inside.items():
        if source_id not in source_hits and source_id in holders:
            source_hits[source_id] = _source_hit(holders[source_id], hit_text, text, _where(where))
    groups_sources = Group(
        "source",
        KINDS["source"].heading,
        list(source_hits.values())[:per_kind],
        more_sources or more_copies or more_files or len(source_hits) > per_kind,
    )

    # Incidents: by their own words, or through the sources that support them.
    found, more = _matches(incidents, KINDS["incident"], text, per_kind)
    incident_hits = {i.pk: _incident_hit(i, user, i.snippet_text, text, "") for i in found}
    supporting = {}  # incident id → a matching source that supports it
    links = Support.objects.filter(source__in=list(inside)).order_by()
    for incident_id, source_id in links.values_list("incident_id", "source_id")[:CANDIDATES]:
        if incident_id not in incident_hits:
            supporting.setdefault(incident_id, source_id)
    supported = list(
        incidents.filter(pk__in=list(supporting))
        .select_related(*KINDS["incident"].related)
        .order_by("-pk")[: per_kind + 1]
    )
    for incident in supported[:per_kind]:
        source_id = supporting[incident.pk]
        hit_text, where = inside[source_id]
        incident_hits[incident.pk] = _incident_hit(
            incident, user, hit_text, text, _where(where, holders[source_id])
        )
    groups.append(
        Group(
            "incident",
            KINDS["incident"].heading,
            list(incident_hits.values())[:per_kind],
            more or len(incident_hits) > per_kind or len(supported) > per_kind,
        )
    )

    found, more = _matches(Defender.objects.visible_to(user), KINDS["defender"], text, per_kind)
    groups.append(
        Group(
            "defender",
            KINDS["defender"].heading,
            [
                Hit(d.display_name, reverse("admin:organizations_defender_change", args=[d.pk]))
                for d in found
            ],
            more,
        )
    )
    for key, model in (("organization", Organization), ("perpetrator", Perpetrator)):
        found, more = _matches(model.objects.all(), KINDS[key], text, per_kind)
        url = f"admin:organizations_{model._meta.model_name}_change"
        groups.append(
            Group(
                key,
                KINDS[key].heading,
                [Hit(str(o), reverse(url, args=[o.pk])) for o in found],
                more,
            )
        )
    groups.append(groups_sources)
    return groups


def _matches(queryset: QuerySet, kind: Kind, text: str, limit: int) -> tuple[list, bool]:
    """Up to `limit` records of `queryset` matching `text`, best first, each with
    `snippet_text` (the start of its snippet field); and whether there were more."""
    fields = list(kind.fields)
    if connection.vendor == "postgresql":
        query = textsearch.query(text)
        if query is None:
            return [], False
        vector = textsearch.vector(*fields)
        ids = _candidates(queryset, vector, query)
        rows = queryset.model._default_manager.filter(pk__in=ids)
        if "text" in fields:
            # A page's vector is costly to make again for its rank: the newest first.
            rows = rows.order_by("-pk")
        else:
            rows = rows.annotate(search_rank=SearchRank(vector, query)).order_by(
                "-search_rank", "-pk"
            )
        more = None  # only from the rows the reader may see (below)
    else:
        condition = textsearch.fallback_filter(fields, text)
        if condition is None:
            return [], False
        rows = queryset.annotate(**textsearch.folded(fields)).filter(condition).order_by("-pk")
        more = None
    if kind.snippet_field:
        rows = rows.annotate(snippet_text=Left(F(kind.snippet_field), SNIPPET_SCAN))
    if "text" in fields:
        rows = rows.defer("text")  # a page's whole text: its start is the snippet's
    if kind.related:
        rows = rows.select_related(*kind.related)
    found = list(rows[: limit + 1])
    return found[:limit], bool(more) or len(found) > limit


def _candidates(queryset: QuerySet, vector, query) -> list[int]:
    """The keys of the first CANDIDATES rows of `queryset` (what the reader may see) matching
    `query`, found through the table's GIN index (PostgreSQL): a bitmap of the matches, then
    no more rows than that. A plan that filtered or sorted first would make the vector of
    every row again (seconds at a million incidents). The settings end with the block: it
    only reads, and is rolled back."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off")
        ids = list(
            queryset.annotate(search_vector=vector)
            .filter(search_vector=query)
            .order_by()
            .values_list("pk", flat=True)[:CANDIDATES]
        )
        transaction.set_rollback(True)
    return ids


def snippet(text: str, query: str, *, size: int = SNIPPET_CHARS) -> SafeString:
    """Escaped text around the first word of `query` found in it (folded, and for a long
    word its first letters, so that "detenciones" finds "detención"), words marked."""
    if not text:
        return SafeString("")
    text = text[:SNIPPET_SCAN]
    if text.isascii():
        folded_text, origin = text.lower(), range(len(text) + 1)
    else:
        folded, origin = [], []  # folded characters, and where each came from in `text`
        for index, char in enumerate(text):
            for folded_char in char.lower() if char < "\x80" else textsearch.fold(char):
                folded.append(folded_char)
                origin.append(index)
        folded_text = "".join(folded)
    stems = [textsearch.fold(w) for w in textsearch.words(query)]
    stems = [w[: max(4, len(w) - 3)] if len(w) > 5 else w for w in stems if w]
    spans = []
    for stem in stems:
        start = folded_text.find(stem)
        while start != -1:
            end = start + len(stem)
            while end < len(folded_text) and folded_text[end].isalnum():
                end += 1  # mark the whole word
            spans.append((origin[start], origin[end - 1] + 1))
            start = folded_text.find(stem, max(end, start + 1))
    spans.sort()
    first = spans[0][0] if spans else 0
    begin = max(0, first - size // 3)
    while begin > 0 and not text[begin - 1].isspace() and first - begin < size // 2:
        begin -= 1
    finish = min(len(text), begin + size)
    pieces, at = [], begin  # (text before a word, the word)
    for start, end in spans:
        if start < at or start >= finish:
            continue
        pieces.append((text[at:start], text[start:end]))
        at = end
    return format_html(
        "{}{}{}{}",
        "… " if begin > 0 else "",
        format_html_join("", "{}<mark>{}</mark>", pieces),
        text[at:finish],
        " …" if finish < len(text) else "",
    )


def _where(where: str, source: Source | None = None) -> str:
    """Where the words were found, for a source (`source` None) or an incident it supports."""
    if source is None:
        if where == "archive":
            return _("in the archived copy of its link")
        return _("in the text of its file")
    if where == "archive":
        return _("in the archived copy of the link of the source «%(title)s»") % {
            "title": source.title
        }
    return _("in the file of the source «%(title)s»") % {"title": source.title}


def _case_hit(case: Case, text: str) -> Hit:
    return Hit(
        case.title,
        reverse("admin:cases_case_change", args=[case.pk]),
        snippet(case.snippet_text or case.title, text),
    )


def _incident_hit(incident: Incident, user, hit_text: str, text: str, where: str) -> Hit:
    target = incident.target
    name = target.name_for(user) if isinstance(target, Defender) else str(target or "—")
    label = f"{incident.get_type_display()} — {name} — {incident.occurred_on_display}"
    return Hit(
        label,
        reverse("admin:cases_incident_change", args=[incident.pk]),
        snippet(hit_text, text),
        where,
    )


def _source_hit(source: Source, hit_text: str, text: str, where: str) -> Hit:
    return Hit(
        f"{source.title} — {source.case.title}",
        reverse("admin:cases_case_change", args=[source.case_id]),
        snippet(hit_text, text),
        where,
    )


def models_by_kind() -> dict:
    """Each kind's model (the search's indexes are on their tables)."""
    return {
        "case": Case,
        "incident": Incident,
        "defender": Defender,
        "organization": Organization,
        "perpetrator": Perpetrator,
        "source": Source,
        "archive": ArchivedCopy,
        "file_text": SourceText,
    }
