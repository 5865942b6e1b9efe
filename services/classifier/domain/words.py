"""Whole-word matching of the tenant's word lists in free text (summaries, messages).

Case-insensitive and accent-preserving; a phrase ("not working") matches as a run of
words, so "order" never matches "border" and "pc" never matches "pcs-backup".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

_APOSTROPHES = "'\u2019"  # ' and the typographic one
_WORD = re.compile(rf"[\w{_APOSTROPHES}-]+", re.UNICODE)
_TRIM = _APOSTROPHES + "-"

# Words too common to say two texts concern the same thing: grammar, time and quantity
# ("every few minutes" and "for 15 minutes" are not one problem), and the words every
# alert and ticket use.
_STOP = frozenset(
    """
    the and for with from this that have has not was were are but our your their please
    again still since when after before into over under about above below every always
    while other another there which would could should being more than less last first
    times minute minutes hour hours second seconds today yesterday morning evening night
    week weeks daily percent value level alert alerts ticket issue issues problem problems
    device devices client user users computer help request threshold status check checked
    der die das und mit von für nicht ist eine einer einem seit immer wieder heute gestern
    minuten stunden stunde sekunden woche mehr über unter
    les des une pour avec dans sur pas est depuis toujours encore hier aujourd heures heure
    secondes semaine plus moins
    """.split()
)


def tokens(text: str | None) -> list[str]:
    if not text:
        return []
    words = (w.strip(_TRIM) for w in _WORD.findall(text.casefold()))
    return [w for w in words if w]


@lru_cache(maxsize=4096)
def _phrase(term: str) -> tuple[str, ...]:
    return tuple(tokens(term))


def has_term(words: list[str], terms: Iterable[str]) -> str | None:
    """The first term (word or phrase) found in the tokenised text, if any."""
    joined = " " + " ".join(words) + " "
    present = set(words)
    for term in terms:
        phrase = _phrase(term)
        if not phrase:
            continue
        if len(phrase) == 1:
            if phrase[0] in present:
                return term
        elif " " + " ".join(phrase) + " " in joined:
            return term
    return None


def topics_of(words: list[str], table: Mapping[str, Iterable[str]]) -> set[str]:
    """The topics of `table` whose terms the text uses. Judging asks this of every alert
    and ticket it pairs, so the table is compiled once into a word -> topics map and a
    list of phrases (a few microseconds a text instead of one test per term)."""
    by_word, phrases = _compiled(table)
    found: set[str] = set()
    for word in words:
        topics = by_word.get(word)
        if topics is not None:
            found |= topics
    if phrases:
        joined = " " + " ".join(words) + " "
        found.update(topic for phrase, topic in phrases if phrase in joined)
    return found


_COMPILED: dict[
    int, tuple[Mapping[str, Iterable[str]], dict[str, set[str]], list[tuple[str, str]]]
] = {}


def _compiled(
    table: Mapping[str, Iterable[str]],
) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """`table` as single words -> topics and (" phrase ", topic), kept per table object
    (the entry holds the table, so its id is not reused while cached)."""
    hit = _COMPILED.get(id(table))
    if hit is not None and hit[0] is table:
        return hit[1], hit[2]
    by_word: dict[str, set[str]] = {}
    phrases: list[tuple[str, str]] = []
    for topic, terms in table.items():
        for term in terms:
            phrase = _phrase(term)
            if len(phrase) == 1:
                by_word.setdefault(phrase[0], set()).add(topic)
            elif phrase:
                phrases.append((" " + " ".join(phrase) + " ", topic))
    if len(_COMPILED) >= 64:  # tenants reloaded, tests: a bounded cache
        _COMPILED.clear()
    _COMPILED[id(table)] = (table, by_word, phrases)
    return by_word, phrases


def related(a: list[str], b: list[str], table: Mapping[str, Iterable[str]]) -> str | None:
    """Why two texts concern the same thing (a shared topic or significant word), or None."""
    shared_topics = topics_of(a, table) & topics_of(b, table)
    if shared_topics:
        return min(shared_topics)
    return shared_word(a, b)


def shared_word(a: list[str], b: list[str]) -> str | None:
    """A significant word (five letters or more, no stop word or number) both texts use."""
    significant = {w for w in a if len(w) >= 5 and w not in _STOP and not w.isdigit()}
    shared = significant.intersection(b)
    return min(shared) if shared else None
