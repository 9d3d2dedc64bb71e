"""The crosswalk: which entries of two programs' lists are the same institution.

Program lists do not share ids. A crosswalk pair links (program_a, id_a) with
(program_b, id_b) with a status: ``suggested`` (found by ``suggest``), ``confirmed`` or
``rejected`` (an admin's decision, with who and when, recorded in the audit log).

``suggest`` pairs entries of two active lists by geodesic distance (the engine) and name
similarity (rapidfuzz over names without "The", "of", "and"/"&", accents and punctuation).
Points of lists with city-level coordinates (``coord_precision`` ``city``, NARM's) are a
city centre, not the building, so a pair with such a point may be up to
``CITY_ALLOWANCE_MILES`` apart instead of ``PRECISE_ALLOWANCE_MILES``.

The decisions read the crosswalk through ``load(db)``: a ``Crosswalk`` held in memory until a
confirm or reject changes the store's crosswalk stamp (one small read per check, no SQL per
program). Its ``counterpart`` is a confirmed link; else the same id, when the target list has
it and that pair was not rejected: ids are ``slug(name)-slug(city)`` on every list, so the
same id on two lists is the same institution unless an admin says otherwise.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils
from rapidfuzz import fuzz

from passport import audit, programs, store
from passport.institutions import ActiveList, NoActiveList, load_active
from passport.memo import BoundedCache

STATUSES = ("suggested", "confirmed", "rejected")
PRECISE_ALLOWANCE_MILES = 2.0
# A NARM point is the mean of a city's postal-code points: a site can be 10-20 miles from it
# in a large metro area (measured: Chabot Space & Science Center is 3.4 miles from Oakland's).
CITY_ALLOWANCE_MILES = 25.0
MIN_SCORE = 85.0  # 0..100; below it names share words by chance ("Science Center" ...)
# A confirmed link whose entry moved further than this is shown for a re-check in list diffs.
RECHECK_MOVED_MILES = 1.0
_DROPPED_WORDS = frozenset({"the", "of", "and", "at", "for", "a", "an", "in", "on"})


class CrosswalkError(ValueError):
    """A crosswalk request names an unknown program, an id not on a program's active list,
    or a pair that cannot be linked (the message says which)."""


@dataclass(frozen=True)
class Entry:
    """One entry of one program's list."""

    program: str
    id: str

    def __str__(self) -> str:
        return f"{self.program}:{self.id}"


def parse_entry(text: str) -> Entry:
    """``PROGRAM:ID`` (as the CLI takes it) -> Entry; CrosswalkError when malformed."""
    program, sep, ident = (text or "").strip().partition(":")
    if not sep or not program or not ident:
        raise CrosswalkError(f"expected PROGRAM:ID (e.g. astc:chabot-space-science-center-"
                             f"oakland), got {text!r}")
    return Entry(program.strip(), ident.strip())


def normalise_name(name: str) -> str:
    """A name as compared: ASCII lower case, "&" as "and", no punctuation, without "The",
    "of", "and" (so "Museum of Science" and "The Science Museum" have the same words)."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9]+", " ", text.lower().replace("&", " and "))
    return " ".join(word for word in text.split() if word not in _DROPPED_WORDS)


def name_score(a: str, b: str) -> float:
    """0..100 similarity of two normalised names: word order free; one name's words all in
    the other counts a little less than the same words (a branch vs its parent museum)."""
    return max(fuzz.token_sort_ratio(a, b), 0.9 * fuzz.token_set_ratio(a, b))


# ----------------------------------------------------------------------------- lookup

class Crosswalk:
    """The admins' decisions in memory (``load``): confirmed links and rejected pairs."""

    def __init__(self, rows: Iterable[tuple[str, str, str, str, str]] = ()) -> None:
        self._links: dict[tuple[str, str, str], str] = {}
        self._rejected: set[tuple[str, str, str, str]] = set()
        for program_a, id_a, program_b, id_b, status in rows:
            if status == "confirmed":
                self._links[(program_a, id_a, program_b)] = id_b
                self._links[(program_b, id_b, program_a)] = id_a
            elif status == "rejected":
                self._rejected.add((program_a, id_a, program_b, id_b))
                self._rejected.add((program_b, id_b, program_a, id_a))

    def counterpart(self, program_from: str, institution_id: str, program_to: str,
                    on_target: Container[str]) -> str | None:
        """The entry of ``program_to`` that is ``institution_id`` of ``program_from``: the
        confirmed link when the target list (``on_target``) has it; else the same id when the
        target list has it, that pair was not rejected and that entry is not confirmed as
        another one's counterpart; else None."""
        linked = self._links.get((program_from, institution_id, program_to))
        if linked is not None:
            return linked if linked in on_target else None
        if institution_id not in on_target:
            return None
        if (program_from, institution_id, program_to, institution_id) in self._rejected:
            return None
        if (program_to, institution_id, program_from) in self._links:
            return None  # that entry is confirmed as the counterpart of another one
        return institution_id

    def is_rejected(self, a: Entry, b: Entry) -> bool:
        return (a.program, a.id, b.program, b.id) in self._rejected

    def linked(self, entry: Entry, program_to: str) -> str | None:
        """The confirmed counterpart of ``entry`` in ``program_to``, if any."""
        return self._links.get((entry.program, entry.id, program_to))


EMPTY = Crosswalk()
# Keyed by the store's crosswalk stamp (random per write, so one stamp is one set of rows).
_loaded: BoundedCache[str, Crosswalk] = BoundedCache(8)


def load(db: sqlite_utils.Database) -> Crosswalk:
    """The store's crosswalk decisions; one read of the stamp while nothing changes."""
    stamp = store.get_crosswalk_stamp(db)
    if stamp is None:
        return EMPTY
    hit = _loaded.get(stamp)
    if hit is None:
        hit = Crosswalk(store.decided_crosswalk_rows(db))
        _loaded.put(stamp, hit)
    return hit


# ----------------------------------------------------------------------------- checks

def _program(db: sqlite_utils.Database, program: str) -> str:
    try:
        return programs.get_program(db, program).name
    except programs.UnknownProgram as exc:
        raise CrosswalkError(str(exc)) from None


def _active(db: sqlite_utils.Database, program: str) -> ActiveList:
    try:
        return load_active(db, _program(db, program))
    except NoActiveList:
        raise CrosswalkError(f"program {program!r} has no active list; import one with "
                             f"`passport import FILE --program {program}`") from None


def _listed(db: sqlite_utils.Database, entry: Entry) -> tuple[ActiveList, dict]:
    active = _active(db, entry.program)
    row = active.by_id.get(entry.id)
    if row is None:
        raise CrosswalkError(f"{entry.id!r} is not on the active {entry.program} list "
                             f"(version {active.version})")
    return active, row


def _pair_programs(program_a: str, program_b: str) -> None:
    if program_a == program_b:
        raise CrosswalkError(f"a crosswalk pair links two programs, not {program_a!r} twice")


def _is_city_level(row: dict) -> bool:
    return (row.get("coord_precision") or "") == "city"


def _entry_json(program: str, row: dict) -> dict[str, Any]:
    return {"program": program, "id": row["id"], "name": row["name"], "city": row.get("city"),
            "region": row.get("region"), "city_level_point": _is_city_level(row)}


# ----------------------------------------------------------------------------- suggesting

def _candidates(list_a: ActiveList, list_b: ActiveList, min_score: float
                ) -> list[tuple[float, float, str, str]]:
    """Every (score, miles, id_a, id_b) whose points are within the allowance and whose names
    score ``min_score`` or more."""
    rows_b = [list_b.by_id[ident] for ident in list_b.table.ids]
    names_b = [normalise_name(r["name"]) for r in rows_b]
    city_b = np.array([_is_city_level(r) for r in rows_b], dtype=bool)
    found = []
    for row in list_a.records:
        miles = list_b.table.distances_from(row["latitude"], row["longitude"])
        allowance = (CITY_ALLOWANCE_MILES if _is_city_level(row) else
                     np.where(city_b, CITY_ALLOWANCE_MILES, PRECISE_ALLOWANCE_MILES))
        near = np.flatnonzero(miles <= allowance)
        if near.size == 0:
            continue
        name = normalise_name(row["name"])
        for i in near:
            score = 100.0 if row["id"] == rows_b[i]["id"] else name_score(name, names_b[i])
            if score >= min_score:
                found.append((round(score, 1), float(miles[i]), row["id"], rows_b[i]["id"]))
    return found


def _settled(walk: Crosswalk, a: Entry, b: Entry) -> bool:
    """A pair not to suggest: rejected, or an entry already confirmed in the other program."""
    return (walk.is_rejected(a, b) or walk.linked(a, b.program) is not None
            or walk.linked(b, a.program) is not None)


def _one_to_one(found: list[tuple[float, float, str, str]], walk: Crosswalk, program_a: str,
                program_b: str) -> list[tuple[float, float, str, str]]:
    """The best pairs, each entry in one pair at most: best score first, then nearest."""
    used_a: set[str] = set()
    used_b: set[str] = set()
    chosen = []
    for score, miles, id_a, id_b in sorted(found, key=lambda f: (-f[0], f[1], f[2], f[3])):
        if id_a in used_a or id_b in used_b:
            continue
        if _settled(walk, Entry(program_a, id_a), Entry(program_b, id_b)):
            continue
        used_a.add(id_a)
        used_b.add(id_b)
        chosen.append((score, miles, id_a, id_b))
    return chosen


def suggest(db: sqlite_utils.Database, program_a: str, program_b: str, *,
            min_score: float = MIN_SCORE, actor: str | None = None) -> list[dict[str, Any]]:
    """Find the entries of ``program_a``'s and ``program_b``'s active lists that look like
    the same institution, store them as ``suggested`` (replacing that pair of programs'
    earlier suggestions; confirmed and rejected pairs stay as they are and are never
    suggested again) and return them best first: ``{"a", "b", "status", "score",
    "distance_miles"}`` with ``a`` from ``program_a``.

    Example: ``suggest(db, "astc", "narm")`` finds Chabot Space & Science Center, 3.4 miles
    from Oakland's centre on NARM's city-level point.
    """
    _pair_programs(program_a, program_b)
    if not 0 <= min_score <= 100:
        raise CrosswalkError(f"the minimum score is 0 to 100, not {min_score}")
    list_a, list_b = _active(db, program_a), _active(db, program_b)
    walk = load(db)
    chosen = _one_to_one(_candidates(list_a, list_b, min_score), walk, program_a, program_b)
    flip = program_a > program_b  # rows are stored with the programs in order
    store.replace_crosswalk_suggestions(
        db, *sorted((program_a, program_b)),
        [{"id_a": b if flip else a, "id_b": a if flip else b, "score": score,
          "distance_miles": miles} for score, miles, a, b in chosen])
    audit.record(db, actor, "crosswalk.suggested", f"{program_a} {program_b}",
                 {"suggested": len(chosen), "min_score": min_score,
                  "versions": [list_a.version, list_b.version]})
    return [{"a": _entry_json(program_a, list_a.by_id[a]),
             "b": _entry_json(program_b, list_b.by_id[b]), "status": "suggested",
             "score": score, "distance_miles": round(miles, 2)}
            for score, miles, a, b in chosen]


# ----------------------------------------------------------------------------- deciding

def _decide(db: sqlite_utils.Database, a: Entry, b: Entry, status: str,
            actor: str | None) -> dict[str, Any]:
    _pair_programs(a.program, b.program)
    (_, row_a), (list_b, row_b) = _listed(db, a), _listed(db, b)
    if status == "confirmed":
        _refuse_second_link(load(db), a, b)
    miles = float(list_b.table.distances_from(row_a["latitude"], row_a["longitude"])
                  [list_b.table.index_of(b.id)])
    score = round(name_score(normalise_name(row_a["name"]), normalise_name(row_b["name"])), 1)
    first, second = sorted((a, b), key=lambda e: e.program)
    try:
        store.decide_crosswalk_pair(db, {
            "program_a": first.program, "id_a": first.id, "program_b": second.program,
            "id_b": second.id, "status": status, "score": score, "distance_miles": miles,
            "decided_by": actor})
    except sqlite3.IntegrityError as exc:  # a concurrent confirmation won the race
        raise CrosswalkError(f"cannot confirm {a} = {b}: {exc}") from None
    audit.record(db, actor, f"crosswalk.{status}", f"{first} {second}",
                 {"score": score, "distance_miles": round(miles, 2)})
    return {"a": _entry_json(a.program, row_a), "b": _entry_json(b.program, row_b),
            "status": status, "score": score, "distance_miles": round(miles, 2),
            "decided_by": actor}


def _refuse_second_link(walk: Crosswalk, a: Entry, b: Entry) -> None:
    for entry, other in ((a, b), (b, a)):
        linked = walk.linked(entry, other.program)
        if linked is not None and linked != other.id:
            raise CrosswalkError(
                f"{entry} is already confirmed as {other.program}:{linked}; reject that "
                "pair first")


def confirm(db: sqlite_utils.Database, a: Entry, b: Entry, actor: str | None) -> dict[str, Any]:
    """Record that ``a`` and ``b`` are the same institution (each entry has at most one
    confirmed counterpart per program: CrosswalkError names the existing one)."""
    return _decide(db, a, b, "confirmed", actor)


def reject(db: sqlite_utils.Database, a: Entry, b: Entry, actor: str | None) -> dict[str, Any]:
    """Record that ``a`` and ``b`` are not the same institution (even with the same id): the
    pair is never suggested again nor used by ``Crosswalk.counterpart``."""
    return _decide(db, a, b, "rejected", actor)


# ----------------------------------------------------------------------------- reading

def pairs(db: sqlite_utils.Database, program: str | None = None, status: str | None = None,
          other: str | None = None) -> list[dict[str, Any]]:
    """Stored pairs with ``program`` (and ``other``) on a side, of ``status``, with both
    entries' names and cities from the active lists (None for an entry no longer listed)."""
    for name in (program, other):
        if name is not None:
            _program(db, name)
    if status is not None and status not in STATUSES:
        raise CrosswalkError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    lists: dict[str, ActiveList | None] = {}
    out = []
    for row in store.crosswalk_rows(db, program=program, status=status, other=other):
        entries = []
        for side in ("a", "b"):
            name, ident = row[f"program_{side}"], row[f"id_{side}"]
            if name not in lists:
                lists[name] = _active_or_none(db, name)
            listed = lists[name].by_id.get(ident) if lists[name] is not None else None
            entries.append(_entry_json(name, listed) if listed else
                           {"program": name, "id": ident, "name": None, "city": None,
                            "region": None, "city_level_point": False})
        out.append({"a": entries[0], "b": entries[1], "status": row["status"],
                    "score": row["score"], "distance_miles": _round(row["distance_miles"]),
                    "suggested_at": row["suggested_at"], "decided_by": row["decided_by"],
                    "decided_at": row["decided_at"]})
    return out


def _active_or_none(db: sqlite_utils.Database, program: str) -> ActiveList | None:
    try:
        return load_active(db, program)
    except NoActiveList:
        return None


def _round(miles: float | None) -> float | None:
    return None if miles is None else round(miles, 2)


def recheck(db: sqlite_utils.Database, program: str, diff: dict) -> list[dict[str, Any]]:
    """The confirmed links a list diff of ``program`` calls into question: their entry was
    removed or moved more than ``RECHECK_MOVED_MILES`` (``institutions.diff_records``'
    ``removed`` and ``moved``). ``[{"id", "name", "change", "moved_miles", "linked":
    {"program", "id"}}]``; no query when nothing was removed or moved."""
    changed = {r["id"]: (r["name"], "removed", None) for r in diff.get("removed", ())}
    changed.update({r["id"]: (r["name"], "moved", round(r["moved_miles"], 2))
                    for r in diff.get("moved", ()) if r["moved_miles"] > RECHECK_MOVED_MILES})
    if not changed:
        return []
    out = []
    for row in store.crosswalk_rows(db, program=program, status="confirmed"):
        own, other = ("a", "b") if row["program_a"] == program else ("b", "a")
        if row[f"id_{own}"] in changed:
            name, change, moved = changed[row[f"id_{own}"]]
            out.append({"id": row[f"id_{own}"], "name": name, "change": change,
                        "moved_miles": moved, "linked": {"program": row[f"program_{other}"],
                                                         "id": row[f"id_{other}"]}})
    return out
