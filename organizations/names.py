"""Names compared the way people write them: without regard to accents, case, punctuation
or, for people, word order; initials ("J. Tarazona") make a likely match, never a certain one."""

import re
import unicodedata

_NOT_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """'  José RAFAEL-Tarazona. ' → 'jose rafael tarazona' (accents stripped, case-folded,
    punctuation and runs of spaces collapsed to one space)."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(char for char in text if not unicodedata.combining(char))
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def person_key(name: str) -> str:
    """The same for 'Tarazona, Javier' and 'javier TARAZONA': the folded words, sorted."""
    return " ".join(sorted(fold(name).split()))


def organization_key(name: str) -> str:
    """The same for 'FundaRedes' and 'Fundaredes.' (word order matters in names of bodies)."""
    return fold(name)


def names_alike(first: str, second: str) -> bool:
    """Likely the same person: every word of the shorter name is a word of the longer one or
    an initial of it, at least two words and one of them written out in full.
    'J. Tarazona' ~ 'Javier Tarazona'; 'Javier Tarazona' ~ 'Javier Tarazona Sánchez'."""
    words_a, words_b = fold(first).split(), fold(second).split()
    if not words_a or not words_b:
        return False
    if sorted(words_a) == sorted(words_b):
        return True
    return _covers(words_a, words_b) or _covers(words_b, words_a)


def _covers(short: list[str], long: list[str]) -> bool:
    """Every word of `short` is a word of `long` or the initial of one."""
    if len(short) < 2 or len(short) > len(long):
        return False
    remaining, full_words = list(long), 0
    # Whole words first, so that an initial does not take the word another one needs.
    for word in sorted(short, key=len, reverse=True):
        if word in remaining:
            remaining.remove(word)
            full_words += 1
            continue
        if len(word) != 1:
            return False
        match = next((other for other in remaining if other.startswith(word)), None)
        if match is None:
            return False
        remaining.remove(match)
    return full_words >= 1
