"""Finding an institution by what a person types: relevance, not the alphabet.

One ranking for the desk's typeahead, ``passport institutions --search`` and
``GET /api/v1/institutions``. A query matches a site when every word of it (word order free,
"of"/"the"/"and" ignored) matches one of the site's words:

=================================  =====  ===========================================
how a query word matches            score  example
=================================  =====  ===========================================
a word of the name, exactly          100   "science" in Museum of Science, Boston
the name's acronym                   100   "omsi" -> Oregon Museum of Science and Industry
the start of a word of the name      90    "explor" -> Explora, Exploratorium
a word of the city, region or id     90    "boston", "or"
the start of one of those            80    "bost"
a small typo in a name/city word   <= 79   "exploratorum" (rapidfuzz ratio >= 80, 4+ letters)
=================================  =====  ===========================================

A site's score is the mean over the query's words; ties go to the site whose name starts
with the query, then to the shorter name. Accents, case and punctuation do not matter.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

# Words a person may type or leave out ("museum of science boston"); never required.
STOPWORDS = frozenset({"of", "the", "and", "at", "for", "in", "a"})
# Acronyms are made with these kinds of small words kept or left out: OMSI leaves out
# "of" and "and" (Oregon Museum of Science and Industry), MOST keeps "of" (Museum of
# Science & Technology), COSI keeps "of" and leaves out "and".
_ACRONYM_DROPS = (frozenset(), frozenset({"and"}), frozenset({"the"}),
                  frozenset({"the", "and"}), frozenset({"of", "and"}),
                  frozenset({"of", "and", "the"}))
# Abbreviations in place names, read as the full word on both sides ("St. Louis" finds
# "Saint Louis" and the other way round).
ABBREVIATIONS = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort"}
TYPO_MIN_CHARS = 4
TYPO_MIN_RATIO = 80.0
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def words(text: str | None) -> list[str]:
    """Lower-case words of ``text`` without accents or punctuation ("Children's" ->
    ``childrens``, "Montréal" -> ``montreal``, "St." -> ``saint``)."""
    if not text:
        return []
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).casefold()
    plain = plain.replace("'", "").replace("\u2019", "")
    return [ABBREVIATIONS.get(w, w) for w in _NOT_WORD.split(plain) if w]


def acronyms(name_words: Sequence[str]) -> frozenset[str]:
    """The acronyms a name may go by (3 letters or more)."""
    found = set()
    for drop in _ACRONYM_DROPS:
        letters = "".join(w[0] for w in name_words if w not in drop)
        if len(letters) >= 3:
            found.add(letters)
    return frozenset(found)


@dataclass(frozen=True)
class _Entry:
    name: tuple[str, ...]
    other: tuple[str, ...]  # city, region, id and postal-code words
    acronyms: frozenset[str]
    name_text: str  # the name's words joined, for "starts with the query"


@dataclass(frozen=True)
class SearchIndex:
    """The words of every row of one list, built once per list version."""

    entries: tuple[_Entry, ...]
    vocabulary: tuple[str, ...]  # every name and city word, for typo matching

    @classmethod
    def build(cls, rows: Iterable[Mapping]) -> SearchIndex:
        entries = []
        vocabulary: set[str] = set()
        for row in rows:
            name = tuple(words(row.get("name")))
            other = tuple(w for field in ("city", "region", "id", "postal_code")
                          for w in words(row.get(field)))
            entries.append(_Entry(name, other, acronyms(name), " ".join(name)))
            vocabulary.update(name)
            vocabulary.update(words(row.get("city")))
        return cls(tuple(entries), tuple(sorted(vocabulary)))

    def rank(self, query: str, limit: int | None = None) -> list[int]:
        """Indexes of the rows that match ``query``, best first (all rows, in list order,
        for an empty query)."""
        if not query.strip():
            found = list(range(len(self.entries)))
            return found[:limit] if limit is not None else found
        query_words = words(query)
        meaningful = [w for w in query_words if w not in STOPWORDS] or query_words
        if not meaningful:
            return []  # punctuation only: nothing to match
        typos = [self._typos(w) for w in meaningful]
        wanted = " ".join(query_words)
        scored = []
        for index, entry in enumerate(self.entries):
            total = 0.0
            for word, near in zip(meaningful, typos, strict=True):
                score = _word_score(word, entry, near)
                if score == 0.0:
                    break
                total += score
            else:
                starts = entry.name_text.startswith(wanted)
                scored.append((-total / len(meaningful), not starts, len(entry.name_text),
                               entry.name_text, index))
        scored.sort()
        found = [item[-1] for item in scored]
        return found[:limit] if limit is not None else found

    def _typos(self, word: str) -> dict[str, float]:
        """Vocabulary words within a small typo of ``word``, with their similarity."""
        if len(word) < TYPO_MIN_CHARS:
            return {}
        matches = process.extract(word, self.vocabulary, scorer=fuzz.ratio,
                                  score_cutoff=TYPO_MIN_RATIO, limit=None)
        return {candidate: score for candidate, score, _ in matches}


def _word_score(word: str, entry: _Entry, typos: Mapping[str, float]) -> float:
    """How well one query word matches one row (0: not at all); see the module table."""
    best = 0.0
    if word in entry.acronyms:
        return 100.0
    for candidate in entry.name:
        if candidate == word:
            return 100.0
        if candidate.startswith(word):
            best = 90.0
    for candidate in entry.other:
        if candidate == word:
            best = max(best, 90.0)
        elif candidate.startswith(word):
            best = max(best, 80.0)
    if best == 0.0 and typos:
        best = max((typos[c] - 1.0 for c in (*entry.name, *entry.other) if c in typos),
                   default=0.0)
        best = min(best, 79.0)
    return best
