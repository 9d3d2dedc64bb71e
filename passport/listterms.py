"""What other programs' lists say about each site, read into the structured terms.

NARM's list marks sites with restriction symbols after the name; AZA's chart gives each zoo a
benefit tier; points may be a site's or only its city's. ``read_terms`` turns a row's
``phone``, ``symbols``, ``excluded_venue``, ``benefit`` and ``coord_precision`` cells into the
store's columns (``site_home_within_miles``, ``events_excluded``, ``reciprocal_restriction``,
``excluded_venue``, ``benefit_tier``, ``coord_precision``), reporting a bad cell through the
importer's ``err(column, message)``. Lists without these columns (ASTC's) get NULLs: the list
is silent, which is not the same as "no restriction".

NARM symbols (the legend as ``data/SOURCES.md`` restates it):

====== ==========================================================================
``*``   no concerts, lectures, special exhibitions or ticketed events
``**``  no benefit when the member's home institution is within 15 miles
``***`` both ``*`` and ``**``
``#``   no benefit when the member's home institution is within 50 miles
``##``  a venue of the institution is excluded (the list does not name it)
``^``   not extended to members of institutions that restrict this one
====== ==========================================================================

Symbols combine (``*^``). A symbol outside the legend is an error, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from passport.rules import TIERS

# The cells a list may carry for these terms (the importer's known columns) and the store
# columns they fill.
FILE_COLUMNS = ("phone", "symbols", "excluded_venue", "benefit", "coord_precision")
RECORD_COLUMNS = ("phone", "symbols", "site_home_within_miles", "reciprocal_restriction",
                  "events_excluded", "excluded_venue", "benefit_tier", "coord_precision")
MAX_TEXT_CHARS = {"phone": 100, "symbols": 10, "excluded_venue": 300}

SYMBOL_TERMS: dict[str, dict[str, Any]] = {
    "*": {"events_excluded": 1},
    "**": {"site_home_within_miles": 15.0},
    "***": {"events_excluded": 1, "site_home_within_miles": 15.0},
    "#": {"site_home_within_miles": 50.0},
    "##": {"excluded_venue": True},
    "^": {"reciprocal_restriction": 1},
}
_SYMBOL_TOKEN = re.compile(r"\*{1,3}|#{1,2}|\^")
# A marker left at the end of a name by a PDF parse: "Newfields  **".
_NAME_MARKER = re.compile(r"^(?P<name>.*?[^\s*#^])\s*(?P<marker>[*#^]+)$")
UNNAMED_VENUE = "a venue of this institution is excluded; ask at the desk"

# How precise a point is: the site itself, a postal code's centre, a town's centre.
COORD_PRECISIONS = ("site", "postal", "city")
CITY_SOURCE_PREFIX = "city centroid"
GAZETTEER_SOURCE = "city centroid: offline gazetteer (passport/places.py)"

_TIER_SPELLINGS = {"100%": "100%", "100": "100%", "free": "100%", "50%": "50%", "50": "50%",
                   "half": "50%", "free-to-public": "free-to-public",
                   "free to public": "free-to-public", "free-public": "free-to-public"}

Err = Callable[[str | None, str], None]


def parse_symbols(text: str) -> dict[str, Any]:
    """The terms a symbols cell sets (``{}`` for an empty cell); ``ValueError`` naming the
    unknown part otherwise. ``##`` sets ``excluded_venue`` to True (its text comes from the
    row). Two distance symbols keep the larger distance (``#`` covers ``**``)."""
    compact = "".join(text.split())
    tokens = _SYMBOL_TOKEN.findall(compact)
    families = [token[0] for token in tokens]  # one of *, ** or ***; one of # or ##
    if "".join(tokens) != compact or len(set(families)) != len(families):
        unknown = _SYMBOL_TOKEN.sub("", compact) or compact
        raise ValueError(f"unknown restriction symbol {unknown!r} in {text.strip()!r}: the "
                         "symbols are *, **, ***, #, ##, ^ (combined, e.g. *^)")
    terms: dict[str, Any] = {}
    for token in tokens:
        for column, value in SYMBOL_TERMS[token].items():
            if column == "site_home_within_miles":
                value = max(value, terms.get(column) or 0.0)
            terms[column] = value
    return terms


def split_name_marker(name: str) -> tuple[str, str]:
    """``("Newfields", "**")`` for ``"Newfields  **"``; ``(name, "")`` without a marker."""
    match = _NAME_MARKER.match(name.strip())
    if match is None:
        return name, ""
    return match["name"], match["marker"]


def parse_benefit(text: str) -> str:
    """An AZA benefit cell as its tier (``100%``, ``50%``, ``free-to-public``); ValueError
    naming the value otherwise."""
    tier = _TIER_SPELLINGS.get(" ".join(text.lower().replace(" %", "%").split()))
    if tier is None or tier not in TIERS:
        raise ValueError(f"benefit {text[:40]!r} is not one of {', '.join(TIERS)}")
    return tier


def read_terms(row: dict[str, str], record: dict[str, Any], err: Err) -> None:
    """Fill ``record``'s program-term columns from ``row`` (see the module docstring)."""
    for column, limit in MAX_TEXT_CHARS.items():
        value = row.get(column, "").strip()
        if len(value) > limit:
            err(column, f"{column} is {len(value)} characters long; the limit is {limit}")
        record[column] = value or None
    _read_symbols(row, record, err)
    if "benefit" in row:
        text = row["benefit"].strip()
        if not text:
            err("benefit", f"benefit is empty (use {', '.join(TIERS)})")
        else:
            try:
                record["benefit_tier"] = parse_benefit(text)
            except ValueError as exc:
                err("benefit", str(exc))


def _read_symbols(row: dict[str, str], record: dict[str, Any], err: Err) -> None:
    if "symbols" not in row:
        return  # the list has no symbols: its terms stay unknown (NULL)
    record["events_excluded"] = record["reciprocal_restriction"] = 0
    try:
        terms = parse_symbols(row["symbols"])
    except ValueError as exc:
        err("symbols", str(exc))
        return
    if terms.pop("excluded_venue", False):
        named = record.get("excluded_venue") or (row.get("restrictions") or "").strip()
        record["excluded_venue"] = named or UNNAMED_VENUE
    record.update(terms)


def read_precision(row: dict[str, str], record: dict[str, Any], err: Err) -> None:
    """``coord_precision``: the row's own cell when given, else ``city`` for a city centroid
    (``coord_source`` says so), ``postal`` for a postal code's centre, else ``site``."""
    given = row.get("coord_precision", "").strip().lower()
    if given:
        if given not in COORD_PRECISIONS:
            err("coord_precision", f"coord_precision {given[:20]!r} is not one of "
                                   f"{', '.join(COORD_PRECISIONS)}")
        record["coord_precision"] = given
        return
    source = (record.get("coord_source") or "").lower()
    if source.startswith(CITY_SOURCE_PREFIX):
        record["coord_precision"] = "city"
    elif source == "postal-centroid":
        record["coord_precision"] = "postal"
    else:
        record["coord_precision"] = "site"
