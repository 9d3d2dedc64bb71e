"""The member planner: one member's answer for every site of the list, in a member's words.

``plan_sites`` is the in-memory core (no SQL, no input parsing): every site decided at once by
``plan.decide_all`` (the engine's exact masks; held equal to ``rules.decide()`` site by site in
the tests), sorted nearest to where the member is going (or to home), filtered, each entry
built from parts precomputed once per list version (``list_parts``), so a plan over 2,000
sites costs about a millisecond. ``member_plan`` is the one entry point of the kiosk's
``/api/v1/plan`` and planner page: it parses the inputs (the admission module's parsers and
messages), places the residence and the destination offline, answers "Can I visit X?" and
adds the member's home, residence and destination.

Entries (eligible and not): ``id, name, city, region, country, address, latitude,
longitude, website, home_distance_miles, residence_distance_miles, near_distance_miles,
benefit, reasons, terms``; a site the member cannot use adds ``why`` (the reason in words:
"62.3 miles from your home museum — the program needs more than 90") and
``discount_percent``. ``terms`` are ``{"code", "text"}`` objects in member wording
(``rules.MEMBER_TEXT``), the site's own free-text restrictions last with ``code`` null.
Entries share their precomputed parts between plans: read them, never change them.

The words are English unless the caller passes ``words`` (``passport.words.Words``): the
kiosk passes the member's language, so ``why``, the answer and the terms come translated
from whole-sentence templates (``%(name)s`` values) that its catalogues hold.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils

from passport import across, admission, places, plan, planacross, rules, search
from passport.institutions import ActiveList, load_active, load_actives
from passport.words import ENGLISH, N_, Words

ENTRY_FIELDS = ("id", "name", "city", "region", "country", "address", "latitude",
                "longitude", "website")
HOME_FIELDS = ("id", "name", "city", "region", "country", "latitude", "longitude")
BENEFITS = ("free", "discount")
FREE = "general_admission"
STORE = "store_discount"
DISCOUNT = "discount"
MAX_CHOICES = 8  # "did you mean" choices for a home or site typed as text
# Codes of a site's structured terms a member reads, in this order (CHECK_RESIDENCE, "the
# desk may ask where you live", only in a one-site answer without a residence).
TERM_CODES = (rules.STORE_DISCOUNT_ONLY, rules.LOCAL_RULE_HONOURED,
              rules.CHECK_PROOF_OF_RESIDENCE, rules.CHECK_RESERVATION, rules.LOCAL_DISCOUNT)


@dataclass(frozen=True)
class Filters:
    """Which sites a plan shows: ``area`` a country (``US``) or a region of one (``US-IL``,
    ``CA-QC``: the list's own region text after the first hyphen); ``benefit`` ``free``
    (free general admission) or ``discount`` (a store discount, or a nearby members'
    discount); ``no_proof`` only sites that ask for no proof of residence."""

    area: str | None = None
    benefit: str | None = None
    no_proof: bool = False
    program: str | None = None  # only the sites of this program (across programs)

    def __post_init__(self) -> None:
        if self.benefit is not None and self.benefit not in BENEFITS:
            raise admission.CheckInputError(
                f"benefit must be one of {', '.join(BENEFITS)}, not {self.benefit!r}")
        country, _, _ = (self.area or "").partition("-")
        if self.area is not None and not (len(country) == 2 and country.isalpha()):
            raise admission.CheckInputError(
                f"area must be a country code or COUNTRY-REGION (US, US-IL), not {self.area!r}")

    def to_json(self) -> dict[str, Any]:
        return {"area": self.area, "benefit": self.benefit, "no_proof": self.no_proof,
                "program": self.program}


NO_FILTERS = Filters()

_ADMIT_REASONS = {  # (admitted under the site's own radius, store discount only) -> reasons
    (False, False): [rules.ELIGIBLE],
    (True, False): [rules.ELIGIBLE, rules.LOCAL_RULE_HONOURED],
    (False, True): [rules.ELIGIBLE, rules.STORE_DISCOUNT_ONLY],
    (True, True): [rules.ELIGIBLE, rules.LOCAL_RULE_HONOURED, rules.STORE_DISCOUNT_ONLY],
}


def _term(code: str, percent: float | None = None, words: Words = ENGLISH) -> dict[str, Any]:
    """A term in a member's words; a nearby members' discount with its percentage."""
    text = words.gettext(rules.MEMBER_TEXT[code])
    if code == rules.LOCAL_DISCOUNT and percent is not None:
        text += words.gettext(" (%(percent)s%% off)") % {"percent": words.number(f"{percent:g}")}
    return {"code": code, "text": text}


def _terms_in(terms: list[dict], words: Words, percent: float | None) -> list[dict]:
    """Precomputed (English) terms in ``words``' language; the site's own text stays."""
    if words is ENGLISH or not terms:
        return terms
    return [_term(t["code"], percent, words) if t["code"] else t for t in terms]


@dataclass(frozen=True)
class ListParts:
    """What every plan over one list version shares, one item per table row: each row's
    entry as admitted (plainly, or under its own smaller radius) and as denied, with the
    distances left to fill in."""

    admitted: tuple[dict, ...]
    admitted_local: tuple[dict, ...]
    denied: tuple[dict, ...]  # without the reasons and the why, which depend on the member
    site_radius_miles: np.ndarray  # the site's own smaller radius, else the program's
    id_rank: np.ndarray  # position of each row's id in id order (ties sort by id)
    country: np.ndarray  # ISO codes (object array)
    area: np.ndarray  # "US-IL" (object array)
    terms: plan.SiteTerms


def _row_terms(row: dict, codes: tuple[str, ...]) -> list[dict]:
    percent = row.get("local_discount_percent")
    found = [_term(code, percent) for code in codes]
    if row.get("restrictions"):
        found.append({"code": None, "text": row["restrictions"]})
    return found


_DISTANCES = dict.fromkeys(("home_distance_miles", "residence_distance_miles",
                            "near_distance_miles"))


def _row_entries(row: dict, terms: plan.SiteTerms, k: int) -> tuple[dict, dict, dict]:
    """Row ``k``'s entry as admitted, as admitted under its own radius, and as denied."""
    fixed = {**{f: row.get(f) for f in ENTRY_FIELDS}, **_DISTANCES}
    store = bool(terms.store_discount_only[k])
    flags = {rules.STORE_DISCOUNT_ONLY: store,
             rules.CHECK_PROOF_OF_RESIDENCE: terms.proof_of_residence[k],
             rules.CHECK_RESERVATION: terms.reservation_required[k]}
    plain = tuple(c for c in TERM_CODES if flags.get(c))
    local = tuple(c for c in TERM_CODES if flags.get(c) or c == rules.LOCAL_RULE_HONOURED)
    benefit = STORE if store else FREE
    discount = bool(terms.local_discount[k])
    return (
        {**fixed, "benefit": benefit, "reasons": _ADMIT_REASONS[(False, store)],
         "terms": _row_terms(row, plain)},
        {**fixed, "benefit": benefit, "reasons": _ADMIT_REASONS[(True, store)],
         "terms": _row_terms(row, local)},
        {**fixed, "benefit": DISCOUNT if discount else None, "reasons": None,
         "terms": _row_terms(row, (rules.LOCAL_DISCOUNT,) if discount else ()), "why": None,
         "discount_percent": row.get("local_discount_percent") if discount else None},
    )


@functools.lru_cache(maxsize=8)
def list_parts(active: ActiveList) -> ListParts:
    """``ListParts`` of an active list (built once per list version; lists are immutable)."""
    terms = plan.site_terms(active)
    rows = [active.by_id[i] for i in active.table.ids]
    admitted, local, denied = zip(*(_row_entries(row, terms, k) for k, row in enumerate(rows)),
                                  strict=True)
    radius = active.profile.radius_miles
    ids = list(active.table.ids)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
    return ListParts(
        admitted=admitted, admitted_local=local, denied=denied,
        site_radius_miles=np.where(np.isnan(terms.local_radius_miles), radius,
                                   terms.local_radius_miles),
        id_rank=rank,
        country=np.array([row["country"] for row in rows], dtype=object),
        area=np.array([f"{row['country']}-{row.get('region') or ''}" for row in rows],
                      dtype=object),
        terms=terms,
    )


@functools.lru_cache(maxsize=8)
def area_choices(active: ActiveList) -> tuple[dict[str, Any], ...]:
    """The areas of the list for a filter: ``{"code", "country", "region", "count"}``, each
    country (region None) followed by its regions, countries by how many sites they have
    (once per list version: read them, never change them)."""
    parts = list_parts(active)
    countries, country_counts = np.unique(parts.country, return_counts=True)
    areas, area_counts = np.unique(parts.area, return_counts=True)
    by_country = sorted(zip(countries.tolist(), country_counts.tolist(), strict=True),
                        key=lambda pair: (-pair[1], pair[0]))
    out = []
    for country, count in by_country:
        out.append({"code": country, "country": country, "region": None, "count": count})
        for area, n in zip(areas.tolist(), area_counts.tolist(), strict=True):
            region = area.partition("-")[2]
            if area.startswith(f"{country}-") and region:
                out.append({"code": area, "country": country, "region": region, "count": n})
    return tuple(out)


# --------------------------------------------------------------------------- words

def _miles(dist_miles: float, radius_miles: float, words: Words) -> str:
    return rules.format_miles(dist_miles, radius_miles, words)


# Why not, by (home within, residence within, the site's own smaller radius): whole
# sentences, so that each language can order them its own way.
_WHY = {
    (True, False, False): N_("%(home_miles)s miles from your home museum — the program needs "
                             "more than %(radius)s"),
    (False, True, False): N_("%(residence_miles)s miles from where you live — the program "
                             "needs more than %(radius)s"),
    (True, True, False): N_("%(home_miles)s miles from your home museum and "
                            "%(residence_miles)s miles from where you live — the program "
                            "needs more than %(radius)s from both"),
    (True, False, True): N_("%(home_miles)s miles from your home museum — this site's own "
                            "rule needs more than %(radius)s"),
    (False, True, True): N_("%(residence_miles)s miles from where you live — this site's own "
                            "rule needs more than %(radius)s"),
    (True, True, True): N_("%(home_miles)s miles from your home museum and "
                           "%(residence_miles)s miles from where you live — this site's own "
                           "rule needs more than %(radius)s from both"),
}


def why_not(home_miles: float | None, residence_miles: float | None, *, home_within: bool,
            residence_within: bool, site_radius_miles: float, radius_miles: float,
            words: Words = ENGLISH) -> str:
    """Why a site is not free for the member, in words: "62.3 miles from your home museum —
    the program needs more than 90" (the site's own smaller radius when it has one), in
    ``words``' language."""
    own_rule = site_radius_miles < radius_miles
    # a denied site is within one of the two radii; else say the home's distance
    key = (home_within or not residence_within, residence_within, own_rule)
    return words.gettext(_WHY[key]) % {
        "home_miles": _miles(home_miles, site_radius_miles, words),
        "residence_miles": _miles(residence_miles, site_radius_miles, words),
        "radius": words.number(f"{site_radius_miles:g}"),
    }


def _where(entry: dict) -> str:
    return ", ".join(p for p in (entry.get("city"), entry.get("region")) if p)


def _answer_text(entry: dict, name: str, admit: bool, radius_miles: float,
                 words: Words = ENGLISH) -> str:
    """The one-site answer in sentences: yes or no, where, the distances, the terms."""
    where = f"{name} ({_where(entry)})" if _where(entry) else name
    if not admit:
        text = words.gettext("No: %(site)s is %(why)s.") % {"site": where, "why": entry["why"]}
    elif entry["residence_distance_miles"] is None:
        text = words.gettext("Yes: you can visit %(site)s with your membership. It is "
                             "%(home_miles)s miles from your home museum.") % {
            "site": where, "home_miles": _miles(entry["home_distance_miles"], radius_miles,
                                                words)}
    else:
        text = words.gettext("Yes: you can visit %(site)s with your membership. It is "
                             "%(home_miles)s miles from your home museum and "
                             "%(residence_miles)s miles from where you live.") % {
            "site": where,
            "home_miles": _miles(entry["home_distance_miles"], radius_miles, words),
            "residence_miles": _miles(entry["residence_distance_miles"], radius_miles, words)}
    for term in entry["terms"]:
        text += " " + (term["text"] if term["code"] else words.gettext(
            "The site's terms: %(terms)s") % {"terms": term["text"]})
    return text


# --------------------------------------------------------------------------- the plan



def _column(values: np.ndarray | None, rows: np.ndarray) -> list:
    """``values`` at ``rows`` as Python numbers (a column of None without values)."""
    return values[rows].tolist() if values is not None else [None] * len(rows)


def _admitted(parts: ListParts, decided: plan.SiteDecisions, near_miles: np.ndarray | None,
              rows: np.ndarray, words: Words = ENGLISH) -> list[dict]:
    """Entries of admitted rows, in the order of ``rows``: the row's precomputed entry
    with the member's distances filled in (its terms in ``words``' language)."""
    out = []
    for i, h, r, n, local in zip(
            rows.tolist(), decided.home_miles[rows].tolist(),
            _column(decided.residence_miles, rows), _column(near_miles, rows),
            decided.local_rule[rows].tolist(), strict=True):
        entry = (parts.admitted_local if local else parts.admitted)[i].copy()
        entry["home_distance_miles"] = h
        entry["residence_distance_miles"] = r
        entry["near_distance_miles"] = n
        entry["terms"] = _terms_in(entry["terms"], words, None)
        out.append(entry)
    return out


def _term_why(decided: plan.SiteDecisions, parts: ListParts, i: int, home_miles: float,
              words: Words) -> str | None:
    """Why not, when the site's own terms deny (NARM ``**``, ``#``, ``^``); else None."""
    if decided.site_within[i]:
        miles = float(parts.terms.site_within_miles[i])
        return words.gettext("%(home_miles)s miles from your home museum — this site does not "
                             "admit members of museums within %(radius)s miles") % {
            "home_miles": _miles(home_miles, miles, words), "radius": words.number(f"{miles:g}")}
    if decided.reciprocal_within[i]:
        return words.gettext("this site does not admit members of museums that restrict its "
                             "own members, as your home museum does")
    return None


def _denied(parts: ListParts, decided: plan.SiteDecisions, near_miles: np.ndarray | None,
            rows: np.ndarray, radius_miles: float, words: Words = ENGLISH) -> list[dict]:
    """Entries of rows the member cannot use, each with its reasons and why in words."""
    out = []
    for i, h, r, n in zip(rows.tolist(), decided.home_miles[rows].tolist(),
                          _column(decided.residence_miles, rows), _column(near_miles, rows),
                          strict=True):
        entry = parts.denied[i].copy()
        entry["home_distance_miles"] = h
        entry["residence_distance_miles"] = r
        entry["near_distance_miles"] = n
        entry["reasons"] = decided.reasons(i, parts.terms)
        entry["why"] = _term_why(decided, parts, i, h, words) or why_not(
            h, r, home_within=bool(decided.home_within[i]),
            residence_within=bool(decided.residence_within[i]),
            site_radius_miles=float(parts.site_radius_miles[i]),
            radius_miles=radius_miles, words=words)
        entry["terms"] = _terms_in(entry["terms"], words, entry["discount_percent"])
        out.append(entry)
    return out


def _shown(parts: ListParts, decided: plan.SiteDecisions, filters: Filters) -> np.ndarray:
    """The rows a plan lists: every site but the home one, narrowed by ``filters``."""
    shown = np.ones(len(parts.admitted), dtype=bool)
    shown[decided.home_index] = False
    if filters.area is not None:
        shown &= (parts.area if "-" in filters.area else parts.country) == filters.area
    if filters.no_proof:
        shown &= ~parts.terms.proof_of_residence
    store = parts.terms.store_discount_only
    if filters.benefit == "free":
        shown &= decided.admit & ~store
    elif filters.benefit == "discount":
        shown &= (decided.admit & store) | (~decided.admit & parts.terms.local_discount)
    return shown


def _ordered(mask: np.ndarray, key_miles: np.ndarray, parts: ListParts) -> np.ndarray:
    """The rows of ``mask`` nearest first (ties by id)."""
    rows = np.flatnonzero(mask)
    return rows[np.lexsort((parts.id_rank[rows], key_miles[rows]))]


@dataclass(frozen=True)
class _Decided:
    """One member's decisions over a list: ``plan.decide_all`` plus the destination."""

    parts: ListParts
    decided: plan.SiteDecisions
    near_miles: np.ndarray | None


def _decide(active: ActiveList, home: str, residence: tuple[float, float] | None,
            near: tuple[float, float] | None) -> _Decided:
    near_miles = active.table.distances_from(*near) if near is not None else None
    return _Decided(list_parts(active), plan.decide_all(active, home, residence), near_miles)


def _lists(active: ActiveList, found: _Decided, filters: Filters, limit: int | None,
           words: Words = ENGLISH) -> dict[str, Any]:
    parts, decided = found.parts, found.decided
    key = found.near_miles if found.near_miles is not None else decided.home_miles
    shown = _shown(parts, decided, filters)
    ok = _ordered(shown & decided.admit, key, parts)
    not_ok = _ordered(shown & ~decided.admit, key, parts)
    eligible = _admitted(parts, decided, found.near_miles, ok[:limit], words)
    _program_benefits(active, decided.home_index, eligible, words)
    return {
        "eligible_count": len(ok),
        "eligible": eligible,
        "ineligible_count": len(not_ok),
        "ineligible": _denied(parts, decided, found.near_miles, not_ok,
                              active.profile.radius_miles, words),
    }


_PROGRAM_NOTES = (rules.DISCOUNT_BENEFIT, rules.EVENTS_EXCLUDED, rules.VENUE_EXCLUDED)


def _program_benefits(active: ActiveList, home_index: int, entries: list[dict],
                      words: Words) -> None:
    """Each admitted entry's benefit under the program, where it is not ASTC's plain free
    admission: the program's own (member admission, 50 % off), AZA's tiers (which depend on
    the member's home), and the site's exclusions as terms (``rules.site_benefit``)."""
    profile = active.profile
    if profile.benefit == FREE and not _has_program_terms(active):
        return
    home_row = active.by_id[active.table.ids[home_index]]
    for entry in entries:
        benefit, discount, notes = rules.site_benefit(profile, active.by_id[entry["id"]],
                                                      home_row)
        entry["benefit"], entry["discount_percent"] = benefit, discount
        extra = [_term(code, words=words) for code in notes if code in _PROGRAM_NOTES]
        if extra:
            entry["terms"] = [*extra, *entry["terms"]]


@functools.lru_cache(maxsize=8)
def _has_program_terms(active: ActiveList) -> bool:
    """Whether any row carries terms that change what an admission gives."""
    return any(r.get("benefit_tier") or r.get("events_excluded") or r.get("excluded_venue")
               for r in active.records)


def plan_sites(active: ActiveList, home: str, residence: tuple[float, float] | None = None,
               near: tuple[float, float] | None = None, *, filters: Filters = NO_FILTERS,
               limit: int | None = None) -> dict[str, Any]:
    """Every site of ``active`` but the home one, for a member of ``home`` (listed) living
    at ``residence`` and going to ``near`` ((lat, lon) each, or None): ``{"eligible_count",
    "eligible", "ineligible_count", "ineligible"}``, both lists nearest to ``near`` first
    (else to home), ``limit`` capping the eligible list (the counts are uncapped). The same
    decisions as ``rules.decide()``, all at once; no SQL."""
    return _lists(active, _decide(active, home, residence, near), filters, limit)


def _site_answer(active: ActiveList, found: _Decided, index: int, residence_known: bool,
                 words: Words = ENGLISH) -> dict[str, Any]:
    """"Can I visit X?": one site's decision, distances and terms, and a sentence."""
    parts, decided = found.parts, found.decided
    rows = np.array([index])
    row = active.by_id[active.table.ids[index]]
    radius = active.profile.radius_miles
    if index == decided.home_index:
        reasons = [rules.SAME_INSTITUTION]
        if decided.residence_within[index]:
            reasons.append(rules.RESIDENCE_WITHIN_RADIUS)
        entry = {"home_distance_miles": 0.0, "reasons": reasons, "terms": [],
                 "residence_distance_miles": _column(decided.residence_miles, rows)[0],
                 "near_distance_miles": _column(found.near_miles, rows)[0]}
        text = words.gettext("No: %(site)s is your home museum; the program is for visits "
                             "to the other participating sites.") % {"site": row["name"]}
        admit = False
    else:
        admit = bool(decided.admit[index])
        entry = (_admitted(parts, decided, found.near_miles, rows, words) if admit else
                 _denied(parts, decided, found.near_miles, rows, radius, words))[0]
        if admit and not residence_known and active.profile.residence_rule:
            entry["terms"] = [*entry["terms"], _term(rules.CHECK_RESIDENCE, words=words)]
        text = _answer_text(entry, row["name"], admit, radius, words)
    return {"id": row["id"], "name": row["name"], "admit": admit,
            "reasons": list(entry["reasons"]), "text": text, "terms": list(entry["terms"]),
            "home_distance_miles": entry["home_distance_miles"],
            "residence_distance_miles": entry["residence_distance_miles"],
            "near_distance_miles": entry["near_distance_miles"]}


def plan_for(active: ActiveList, home: str, residence: admission.Residence | None = None,
             near: dict[str, Any] | None = None, site: str | None = None, *,
             filters: Filters = NO_FILTERS, limit: int | None = None,
             words: Words = ENGLISH) -> dict[str, Any]:
    """The whole plan of ``member_plan`` from parsed inputs: ``home`` and ``site`` listed
    ids, ``residence`` placed (or None), ``near`` a destination as ``member_plan`` gives it;
    the sentences (``why``, the answer, terms) in ``words``' language."""
    point = residence.point if residence is not None else None
    found = _decide(active, home, point, (near["lat"], near["lon"]) if near else None)
    lists = _lists(active, found, filters, limit, words)
    answer = (_site_answer(active, found, active.table.index_of(site), point is not None,
                           words) if site is not None else None)
    home_row = active.by_id[home]
    return {
        "list_version": active.version,
        "radius_miles": active.profile.radius_miles,
        "residence_rule": active.profile.residence_rule,
        "home": {f: home_row.get(f) for f in HOME_FIELDS},
        "residence": residence.to_json() if residence is not None else None,
        "near": near,
        "filters": filters.to_json(),
        **lists,
        "site": answer,
    }


# --------------------------------------------------------------------------- inputs

def resolve_institution(active: ActiveList, text: str) -> tuple[str | None, list[dict]]:
    """The institution a member typed (the desk's search ranking, ``passport.search``):
    ``(id, [])`` when the text is an id or names one site clearly (the only match, or the
    only one whose whole name it is); else ``(None, choices)``, the best matches for a
    "did you mean" (empty when nothing matches)."""
    text = (text or "").strip()
    if text in active.by_id:
        return text, []
    if not text:
        return None, []
    rows = [active.records[i] for i in active.search_index.rank(text, MAX_CHOICES)]
    if len(rows) == 1:
        return rows[0]["id"], []
    wanted = search.words(text)
    exact = [row for row in rows if search.words(row["name"]) == wanted]
    if len(exact) == 1:
        return exact[0]["id"], []
    return None, rows


def _listed(active: ActiveList, institution_id: str, what: str) -> dict:
    row = active.by_id.get(institution_id)
    if row is None:
        raise admission.UnknownInstitution(f"{what} {institution_id!r} is not on the active "
                                           f"list (version {active.version})")
    return row


def _destination(near: tuple[float, float] | None, near_place: Any, site_row: dict | None,
                 country: str | None) -> dict[str, Any] | None:
    """Where the member is going: a point, a town (``country``'s first) or, without
    either, the site asked about; None when none is given."""
    if near is not None:
        return {"lat": near[0], "lon": near[1], "label": None, "source": "point", "site": None}
    if near_place not in (None, ""):
        try:
            found = places.lookup(near_place, country=country)
        except places.PlaceError as exc:
            raise admission.CheckInputError(f"near_place: {exc}") from None
        return {"lat": found.lat_deg, "lon": found.lon_deg, "label": found.label,
                "source": "place", "site": None}
    if site_row is not None:
        return {"lat": site_row["latitude"], "lon": site_row["longitude"],
                "label": site_row["name"], "source": "site", "site": site_row["id"]}
    return None


def check_limit(limit: Any) -> int | None:
    """None (no cap) or a whole number >= 1; else CheckInputError naming it."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise admission.CheckInputError(f"limit must be a whole number >= 1, not {limit!r}")
    return limit


def member_plan(
    db: sqlite_utils.Database,
    home: str,
    *,
    residence: Any = None,
    postal: str | None = None,
    country: str | None = None,
    residence_place: str | None = None,
    near: Any = None,
    near_place: str | None = None,
    site: str | None = None,
    filters: Filters | None = None,
    limit: int | None = None,
    program: str | None = None,
    profile: str | None = None,
    words: Words = ENGLISH,
) -> dict[str, Any]:
    """A member's plan: every site they can visit free nearest to where they are going
    (``near`` LAT,LON or ``near_place`` a town; without either, the ``site`` asked about;
    else home), the ones they cannot use apart with the reason in words, and "Can I visit
    ``site``?" answered, its sentences in ``words``' language (English by default). Under
    ``program`` (or ``profile``) alone, else across every program of the home, each site
    with its best benefit (``passport.planacross``). The residence is given as to
    ``admission.check`` and must be placeable. Raises ``CheckInputError`` for bad input (an
    unknown town too), ``UnknownInstitution`` for a home or site not on the list,
    ``NoActiveList``."""
    home = admission.parse_id(home, "home")
    site = admission.parse_id(site, "site") if site not in (None, "") else None
    given = admission.located_residence(residence, postal, country, residence_place)
    near_point = admission.parse_point(near, "near")
    if near_point is not None and near_place not in (None, ""):
        raise admission.CheckInputError("give where you are going once: near (LAT,LON) or "
                                        "near_place (a town), not both")
    limit = check_limit(limit)
    filters = filters or NO_FILTERS
    mine, links = _home_programs(db, home, program or profile)
    homes = across.entries(mine, links, home)
    sites = across.entries(mine, links, site) if site is not None else {}
    if site is not None and not sites:
        _listed(mine[0], site, "site")  # raises UnknownInstitution
    site_row = next((a.by_id[sites[a.profile.name]] for a in mine if a.profile.name in sites),
                    None)
    home_row = mine[0].by_id[homes[mine[0].profile.name]]
    destination = _destination(near_point, near_place, site_row, home_row.get("country"))
    answers = [(a, plan_for(a, homes[a.profile.name], given, destination,
                            sites.get(a.profile.name), filters=filters,
                            limit=None if len(mine) > 1 else limit, words=words))
               for a in mine]
    return _across(answers, links, filters, limit, destination)


def _home_programs(db: sqlite_utils.Database, home: str, program: str | None
                   ) -> tuple[list[ActiveList], Any]:
    """The active lists of the programs the home is on (``program``'s alone when given),
    first program first, and the crosswalk; UnknownInstitution when it is on none."""
    links = admission.crosswalk_links(db)
    actives = [load_active(db, program)] if program else load_actives(db)
    if not actives:
        actives = [load_active(db)]  # raises NoActiveList
    mine = [a for a in actives if a.profile.name in across.entries(actives, links, home)]
    if not mine:
        _listed(actives[0], home, "home institution")  # raises UnknownInstitution
    return mine, links


def _across(answers: list[tuple[ActiveList, dict]], links: Any, filters: Filters,
            limit: int | None, destination: dict | None) -> dict[str, Any]:
    """One program's plan as it is, or the programs' plans merged; either names them."""
    first_active, answer = answers[0]
    answer = dict(answer, program=first_active.profile.name,
                  programs=[a.profile.name for a, _ in answers])
    if filters.program is not None and filters.program not in answer["programs"]:
        raise admission.CheckInputError(
            f"program {filters.program!r} is not one of your home's programs "
            f"({', '.join(answer['programs'])})")
    if len(answers) == 1:
        return answer
    answer.update(planacross.merge(answers, links, program_filter=filters.program,
                                   limit=limit, near=destination is not None))
    sites = [a["site"] for _, a in answers if a["site"] is not None]
    answer["site"] = next((s for s in sites if s["admit"]), sites[0] if sites else None)
    return answer


# --------------------------------------------------------------------------- map

def _point(lat_deg: float, lon_deg: float, properties: dict) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon_deg, lat_deg]},
            "properties": properties}


def plan_geojson(answer: dict[str, Any]) -> dict[str, Any]:
    """A ``member_plan`` answer as a GeoJSON FeatureCollection for the map: the exclusion
    zones that apply (geodesic circles, ``passport.zones``: the home's, and the residence's
    under a profile with the residence rule), the home and the destination, and a Point per
    listed site (``kind`` "site", ``eligible``, its distances and why not)."""
    from passport import zones  # shapely and geographiclib: loaded for maps only

    radius = answer["radius_miles"]
    home, residence, near = answer["home"], answer["residence"], answer["near"]
    features = []
    if radius:  # a program without a distance rule has no zone to draw
        features.append(zones.zone_feature(home["latitude"], home["longitude"], radius,
                                           "home"))
    if residence is not None and answer["residence_rule"] and radius:
        features.append(zones.zone_feature(residence["lat"], residence["lon"], radius,
                                           "residence"))
    features.append(_point(home["latitude"], home["longitude"],
                           {"kind": "home", "id": home["id"], "name": home["name"],
                            "eligible": False}))
    if near is not None and near["source"] != "site":
        features.append(_point(near["lat"], near["lon"],
                               {"kind": "destination", "label": near["label"]}))
    for eligible, entries in ((True, answer["eligible"]), (False, answer["ineligible"])):
        features += [_point(e["latitude"], e["longitude"], {
            "kind": "site", "id": e["id"], "name": e["name"], "city": e["city"],
            "region": e["region"], "eligible": eligible, "benefit": e["benefit"],
            "home_distance_miles": e["home_distance_miles"],
            "near_distance_miles": e["near_distance_miles"], "why": e.get("why"),
        }) for e in entries]
    return {"type": "FeatureCollection", "list_version": answer["list_version"],
            "features": features}
