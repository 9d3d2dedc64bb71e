"""plan.decide_all decides every site at once exactly as rules.decide does one by one."""

from __future__ import annotations

import random

import pytest
from conftest import ASTC, ASTC_LIMITS
from geographiclib.geodesic import Geodesic

from passport import institutions, plan, rules, store
from passport.rules import Profile

MILE_M = 1609.344


def _shipped_rows(shipped_csv) -> list[dict]:
    db = store.open_db(":memory:")
    institutions.import_file(db, shipped_csv)
    return [dict(r) for r in institutions.load_active(db).records]


def _with_terms(rows: list[dict], seed: int) -> list[dict]:
    """The real rows with site terms sprinkled in: own radii, discounts, flags."""
    rng = random.Random(seed)
    out = []
    for row in rows:
        row = dict(row)
        row["local_radius_miles"] = rng.choice([None] * 6 + [30.0, 60.0, 89.99, 120.0])
        row["local_discount_percent"] = rng.choice([None] * 5 + [50.0])
        row["store_discount_only"] = int(rng.random() < 0.1)
        row["reservation_required"] = int(rng.random() < 0.1)
        out.append(row)
    return out


def _residences(active, home: str, rng: random.Random) -> list[tuple[float, float] | None]:
    row = active.by_id[home]
    ids = active.table.ids
    other = active.by_id[ids[rng.randrange(len(ids))]]
    at_radius = Geodesic.WGS84.Direct(other["latitude"], other["longitude"],
                                      rng.uniform(0, 360), active.profile.radius_miles * MILE_M)
    return [None, (row["latitude"] + 0.3, row["longitude"] - 0.2),
            (at_radius["lat2"], at_radius["lon2"]),
            (rng.uniform(25, 49), rng.uniform(-124, -67))]


def assert_same_as_decide(active, home: str, residence) -> None:
    decided = plan.decide_all(active, home, residence)
    terms = plan.site_terms(active)
    for index, site in enumerate(active.table.ids):
        if site == home:
            assert not decided.admit[index]
            continue
        one = rules.decide(active, site, home, residence=residence, manual=False)
        where = (home, site, residence)
        assert bool(decided.admit[index]) == one.admit, where
        assert decided.reasons(index, terms) == one.reasons, where
        if one.admit:
            expected = [c for c in one.staff_checks if c != rules.CHECK_PHOTO_ID]
            checks = decided.staff_checks(index, terms, active.profile.residence_rule)
            assert checks == expected, where
        assert decided.home_miles[index] == pytest.approx(one.home_distance_miles, abs=1e-9)
        if residence is not None:
            assert decided.residence_miles[index] == pytest.approx(
                one.residence_distance_miles, abs=1e-9)


@pytest.mark.parametrize("profile", [
    ASTC,
    Profile("garden", "Garden", 90.0, residence_rule=False, membership_limits=ASTC_LIMITS),
    Profile("near", "Near", 50.0, residence_rule=True, membership_limits=ASTC_LIMITS),
])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_site_decided_at_once_equals_decide_one_by_one(shipped_csv, profile, seed):
    rows = _with_terms(_shipped_rows(shipped_csv), seed)
    active = institutions.build_active_list(1, profile, rows)
    rng = random.Random(seed)
    homes = rng.sample(list(active.table.ids), 12)
    for home in homes:
        for residence in _residences(active, home, rng):
            assert_same_as_decide(active, home, residence)


def test_the_shipped_list_as_published(listed_db):
    active = institutions.load_active(listed_db)
    for home in active.table.ids[::23]:
        assert_same_as_decide(active, home, None)


@pytest.fixture
def listed_db(db, shipped_csv):
    institutions.import_file(db, shipped_csv)
    return db
