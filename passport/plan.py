"""Every site of a list decided for one member at once: the member planner's engine.

The same rules as ``rules.decide()`` (a test decides every site one by one and compares),
but over the whole table with the engine's exact masks (``InstitutionTable.within``) and
terms precomputed once per list version, instead of one ``decide()`` call per site. Only the
two deny codes that depend on the member's places can differ from site to site here
(``HOME_WITHIN_RADIUS``, ``RESIDENCE_WITHIN_RADIUS``); the visiting party is the default
one person, and the home institution itself is left out.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from passport import rules

# A site's own smaller radius, its flags and discount, one array entry per table row.


@dataclass(frozen=True)
class SiteTerms:
    """The parts of each row's terms the rules read, as arrays in table order."""

    local_radius_miles: np.ndarray  # NaN where the site has no own radius under the program's
    proof_of_residence: np.ndarray
    reservation_required: np.ndarray
    store_discount_only: np.ndarray
    local_discount: np.ndarray  # bool: the site offers a discount inside the radius
    site_within_miles: np.ndarray  # NaN where the site has no own distance term (NARM **, #)
    reciprocal: np.ndarray  # bool: NARM ^ (not for members of institutions restricting it)


@functools.lru_cache(maxsize=8)
def site_terms(active) -> SiteTerms:
    """``SiteTerms`` of an active list (built once per list version; lists are immutable)."""
    rows = [active.by_id[i] for i in active.table.ids]
    radius = active.profile.radius_miles
    local = np.array([r.get("local_radius_miles") if r.get("local_radius_miles") is not None
                      else np.nan for r in rows], dtype=float)
    if not active.profile.has_radius:
        local[:] = np.nan  # no program radius: nothing for a smaller one to soften
    local[~(local < radius)] = np.nan  # only a smaller radius changes anything
    return SiteTerms(
        local_radius_miles=local,
        proof_of_residence=np.array([bool(r.get("proof_of_residence")) for r in rows]),
        reservation_required=np.array([bool(r.get("reservation_required")) for r in rows]),
        store_discount_only=np.array([bool(r.get("store_discount_only")) for r in rows]),
        local_discount=np.array([bool(r.get("local_discount_percent")) for r in rows]),
        site_within_miles=np.array([r.get("site_home_within_miles") or np.nan for r in rows],
                                   dtype=float),
        reciprocal=np.array([bool(r.get("reciprocal_restriction")) for r in rows]),
    )


@dataclass(frozen=True)
class SiteDecisions:
    """Every row of the table decided for one member (the home row is marked ``is_home``)."""

    home_index: int
    home_miles: np.ndarray
    residence_miles: np.ndarray | None
    home_within: np.ndarray  # HOME_WITHIN_RADIUS applies
    residence_within: np.ndarray  # RESIDENCE_WITHIN_RADIUS applies
    local_rule: np.ndarray  # admitted under the site's own smaller radius
    admit: np.ndarray
    site_within: np.ndarray  # the site's own distance term applies (P_HOME_WITHIN_N)
    reciprocal_within: np.ndarray  # P_RECIPROCAL_RESTRICTION applies
    program: str = rules.DEFAULT_PROFILE_NAME

    def reasons(self, i: int, terms: SiteTerms) -> list[str]:
        """Row ``i``'s reasons, in ``rules.REASON_ORDER`` as ``decide`` gives them."""
        if self.admit[i]:
            found = [rules.ELIGIBLE]
            if self.local_rule[i]:
                found.append(rules.LOCAL_RULE_HONOURED)
            if terms.store_discount_only[i]:
                found.append(rules.STORE_DISCOUNT_ONLY)
            return found
        found = []
        if self.home_within[i]:
            found.append(rules.HOME_WITHIN_RADIUS)
        if self.site_within[i]:
            found.append(rules.site_within_code(self.program, float(terms.site_within_miles[i])))
        if self.reciprocal_within[i]:
            found.append(rules.reciprocal_code(self.program))
        if self.residence_within[i]:
            found.append(rules.RESIDENCE_WITHIN_RADIUS)
        if terms.local_discount[i] and not (self.site_within[i] or self.reciprocal_within[i]):
            found.append(rules.LOCAL_DISCOUNT)
        return found

    def staff_checks(self, i: int, terms: SiteTerms, residence_rule: bool) -> list[str]:
        """Row ``i``'s staff checks on admission, CHECK_PHOTO_ID left out (a member's view)."""
        found = []
        if terms.proof_of_residence[i]:
            found.append(rules.CHECK_PROOF_OF_RESIDENCE)
        elif self.residence_miles is None and residence_rule:
            found.append(rules.CHECK_RESIDENCE)
        if terms.reservation_required[i]:
            found.append(rules.CHECK_RESERVATION)
        return found


def _rule_masks(active, terms: SiteTerms, lat_deg: float, lon_deg: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """(within the program radius, admitted only under the site's own smaller radius) for
    every row, from one point; exact at both radii."""
    table = active.table
    if not active.profile.has_radius:
        nothing = np.zeros(len(table), dtype=bool)
        return nothing, nothing
    within = table.within(lat_deg, lon_deg, active.profile.radius_miles)
    local_ok = np.zeros(len(table), dtype=bool)
    has_local = within & ~np.isnan(terms.local_radius_miles)
    for local_miles in np.unique(terms.local_radius_miles[has_local]):
        rows = has_local & (terms.local_radius_miles == local_miles)
        local_ok |= rows & ~table.within(lat_deg, lon_deg, float(local_miles))
    return within & ~local_ok, local_ok


def _within_each(table, lat_deg: float, lon_deg: float, miles: np.ndarray) -> np.ndarray:
    """Rows within their own ``miles`` (NaN: none) of one point; exact at each."""
    found = np.zeros(len(table), dtype=bool)
    has = ~np.isnan(miles)
    for value in np.unique(miles[has]):
        rows = has & (miles == value)
        found |= rows & table.within(lat_deg, lon_deg, float(value))
    return found


def _term_masks(active, terms: SiteTerms, home_row: dict) -> tuple[np.ndarray, np.ndarray]:
    """(the site's own distance term denies, NARM ^ denies) for every row, for a member of
    ``home_row`` (``rules._site_terms`` over the whole table)."""
    table = active.table
    lat_deg, lon_deg = home_row["latitude"], home_row["longitude"]
    site_within = _within_each(table, lat_deg, lon_deg, terms.site_within_miles)
    home_term = home_row.get("site_home_within_miles")
    reciprocal = np.zeros(len(table), dtype=bool)
    if home_term and terms.reciprocal.any():
        reciprocal = terms.reciprocal & table.within(lat_deg, lon_deg, float(home_term))
    return site_within, reciprocal


def decide_all(active, home: str, residence: tuple[float, float] | None = None
               ) -> SiteDecisions:
    """Every site of ``active`` decided for a member of ``home`` (listed) living at
    ``residence`` (lat, lon) when known."""
    table = active.table
    terms = site_terms(active)
    home_index = table.index_of(home)
    home_row = active.by_id[home]
    if active.pair_miles is not None:
        home_miles = active.pair_miles[home_index]
    else:
        home_miles = table.distances_from(home_row["latitude"], home_row["longitude"])
    home_within, local_rule = _rule_masks(active, terms, home_row["latitude"],
                                          home_row["longitude"])
    residence_miles = None
    residence_within = np.zeros(len(table), dtype=bool)
    if residence is not None:
        residence_miles = table.distances_from(*residence)
        if active.profile.residence_rule:
            residence_within, residence_local = _rule_masks(active, terms, *residence)
            local_rule = local_rule | residence_local
    site_within, reciprocal = _term_masks(active, terms, home_row)
    admit = ~home_within & ~residence_within & ~site_within & ~reciprocal
    admit[home_index] = False
    return SiteDecisions(home_index, home_miles, residence_miles, home_within,
                         residence_within, local_rule & admit, admit, site_within, reciprocal,
                         active.profile.name)
