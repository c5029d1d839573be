"""Full-text search, accent- and case-insensitive, on both databases.

On PostgreSQL, two text search configurations (made by cases' migration 0006), both after
`unaccent`: `defensores_es`, Spanish stems, so "detencion" finds "detención" and
"detenciones"; and `defensores_words`, whole words without Spanish stop words, so that the
start of a word finds it ("activis" finds "activistas", whose stem is "activ"). A vector
holds both; each word of a query matches either way. Vectors are GIN-indexed expressions
(`vector`): the query must build them exactly as the index does, so both come from here.

On SQLite (development, tests), a simpler fallback:
every word of the query, folded (lowercase, no accents), must appear folded in the text
(`defensores_fold`, a function registered on each SQLite connection)."""

import re
import unicodedata

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import models
from django.db.backends.signals import connection_created
from django.db.models.functions import Left
from django.dispatch import receiver

CONFIG = "defensores_es"
WORDS_CONFIG = "defensores_words"
# A tsvector holds at most 1 MB: each field is indexed up to this many characters (a
# longer description, summary or page is still kept whole, and shown whole).
INDEXED_CHARS = 100_000
MAX_WORDS = 8


def fold(text: str | None) -> str:
    """Lowercase without accents: "Detención" → "detencion" (ñ too becomes n)."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The words of a query (letters and digits only: no operator reaches the database),
    at most MAX_WORDS."""
    found = re.findall(r"[^\W_]+", text or "")
    # A word that folds to nothing (a lone combining mark) would match every text.
    return [word for word in found if fold(word)][:MAX_WORDS]


@receiver(connection_created)
def _sqlite_fold(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("defensores_fold", 1, fold, deterministic=True)


class Fold(models.Func):
    """SQLite: the folded text of an expression (see `fold`)."""

    function = "defensores_fold"
    output_field = models.TextField()


def vector(*fields: str):
    """The indexed vector of these fields (PostgreSQL): their stems and their words."""
    parts = [Left(field, INDEXED_CHARS) for field in fields]
    return SearchVector(*parts, config=CONFIG) + SearchVector(*parts, config=WORDS_CONFIG)


def query(text: str):
    """Every word, by its stem or as the start of a word ("Taraz" finds "Tarazona"); None
    if the text has no word."""
    found = words(text)
    if not found:
        return None
    combined = None
    for word in found:
        either = SearchQuery(word, search_type="raw", config=CONFIG) | SearchQuery(
            f"{word}:*", search_type="raw", config=WORDS_CONFIG
        )
        combined = either if combined is None else combined & either
    return combined


def fallback_filter(fields: list[str], text: str) -> models.Q | None:
    """SQLite: each folded word of `text` in at least one of the folded fields."""
    found = [fold(w) for w in words(text)]
    if not found:
        return None
    condition = models.Q()
    for word in found:
        anywhere = models.Q()
        for field in fields:
            anywhere |= models.Q(**{f"{field}_folded__contains": word})
        condition &= anywhere
    return condition


def folded(fields: list[str]) -> dict[str, Fold]:
    """The annotations `fallback_filter` reads."""
    return {f"{field}_folded": Fold(field) for field in fields}
