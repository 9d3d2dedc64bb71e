"""Rule tables for decide(): every reason code, combinations, the exact 90-mile boundary.

Synthetic institutions are placed with geographiclib's Direct problem (the reference), so
"exactly 90 miles" means what WGS84 says it means.
"""

from __future__ import annotations

import json
import zoneinfo
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ASTC, ASTC_LIMITS
from geographiclib.geodesic import Geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import InstitutionTable
from passport import rules
from passport.institutions import build_active_list
from passport.rules import Party, Profile, decide

MILE_M = 1609.344
RADIUS_M = 90 * MILE_M
WGS84 = Geodesic.WGS84
ON = date(2026, 6, 1)


def test_a_new_store_seeds_the_astc_profile(tmp_path):
    from passport import institutions, store

    db = store.open_db(tmp_path / "p.sqlite")
    profile = institutions.get_profile(db)
    assert (profile.name, profile.title, profile.radius_miles, profile.residence_rule) == (
        ASTC.name, ASTC.title, ASTC.radius_miles, ASTC.residence_rule)
    assert profile.distance_rule == "home_and_residence" and profile.has_radius
    assert profile.benefit == "general_admission" and profile.card_mark
    assert dict(profile.membership_limits) == ASTC_LIMITS
    assert profile.group_party_size == 6


def site(ident: str, lat: float, lon: float, **terms) -> dict:
    row = {"id": ident, "name": ident.title(), "latitude": lat, "longitude": lon,
           "timezone": "America/Chicago", "restrictions": None, "proof_of_residence": 0,
           "local_radius_miles": None, "local_discount_percent": None,
           "reservation_required": 0, "store_discount_only": 0}
    row.update(terms)
    return row


def offset(lat: float, lon: float, azimuth_deg: float, miles: float) -> tuple[float, float]:
    out = WGS84.Direct(lat, lon, azimuth_deg, miles * MILE_M)
    return out["lat2"], out["lon2"]


def ref_miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    return WGS84.Inverse(a[0], a[1], b[0], b[1])["s12"] / MILE_M


def build(rows: list[dict], profile: Profile = ASTC, version: int = 7):
    return build_active_list(version, profile, rows)


VISIT = (40.0, -100.0)


@pytest.fixture(scope="module")
def world():
    """A visited site V and homes at known distances from it."""
    rows = [site("visit", *VISIT)]
    for name, miles in [("far", 300), ("near", 50), ("at75", 75), ("in89", 89.9)]:
        rows.append(site(name, *offset(*VISIT, 30.0, miles)))
    rows.append(site("local60", *offset(*VISIT, 200.0, 400), local_radius_miles=60))
    rows.append(site("disc", *offset(*VISIT, 250.0, 700), local_discount_percent=50))
    rows.append(site("store", *offset(*VISIT, 120.0, 900), store_discount_only=1))
    rows.append(site("proof", *offset(*VISIT, 150.0, 500), proof_of_residence=1,
                     reservation_required=1, restrictions="General admission only."))
    return build(rows)


def test_far_home_is_plainly_eligible(world):
    d = decide(world, "visit", "far", on=ON)
    assert d.admit and d.reasons == ["ELIGIBLE"]
    assert d.home_distance_miles == pytest.approx(300, abs=1e-6)
    assert d.list_version == 7 and d.covered == 1 and d.benefit == "general_admission"


@pytest.mark.parametrize("home, code", [("near", "HOME_WITHIN_RADIUS"),
                                        ("in89", "HOME_WITHIN_RADIUS"),
                                        ("visit", "SAME_INSTITUTION"),
                                        ("nowhere", "HOME_NOT_PARTICIPATING")])
def test_home_reasons(world, home, code):
    d = decide(world, "visit", home, on=ON)
    assert not d.admit and d.reasons == [code] and d.covered == 0


def test_unknown_visit_and_home_both_reported(world):
    d = decide(world, "nowhere", "gone", on=ON)
    assert d.reasons == ["VISIT_NOT_PARTICIPATING", "HOME_NOT_PARTICIPATING"]
    assert d.home_distance_miles is None and d.visit_name is None


@pytest.mark.parametrize("lat0", [18.4, 25.0, 40.0, 47.5, 61.2])
@pytest.mark.parametrize("azimuth", [0.0, 37.0, 90.0, 180.0, 271.5])
def test_exactly_90_miles_is_not_eligible_and_a_hair_more_is(lat0, azimuth):
    origin = (lat0, -90.0)
    rows = [site("o", *origin)]
    for name, miles in [("exact", 90.0), ("minus", 90.0 - 0.05 / MILE_M),
                        ("plus", 90.0 + 0.05 / MILE_M)]:
        rows.append(site(name, *offset(*origin, azimuth, miles)))
    active = build(rows)
    by_name = {r["id"]: (r["latitude"], r["longitude"]) for r in rows}
    assert not decide(active, "minus", "o").admit
    assert decide(active, "plus", "o").admit
    exact = decide(active, "exact", "o")
    # The Direct point, rounded to doubles, lies within nanometres of 90 miles; the engine
    # counts a pair as within up to 1 micrometre past the radius, so "exactly 90" is within.
    assert abs(ref_miles(origin, by_name["exact"]) - 90.0) * MILE_M < 1e-6
    assert not exact.admit and exact.reasons == ["HOME_WITHIN_RADIUS"]
    assert exact.home_distance_miles == pytest.approx(90.0, abs=1e-6)


def test_residence_rule_and_both_radii(world):
    near_home = offset(*VISIT, 10.0, 30)
    d = decide(world, "visit", "far", residence=near_home, on=ON)
    assert not d.admit and d.reasons == ["RESIDENCE_WITHIN_RADIUS"]
    assert d.residence_distance_miles == pytest.approx(30, abs=1e-6)
    both = decide(world, "visit", "near", residence=near_home, on=ON)
    assert both.reasons == ["HOME_WITHIN_RADIUS", "RESIDENCE_WITHIN_RADIUS"]
    far_home = offset(*VISIT, 10.0, 120)
    assert decide(world, "visit", "far", residence=far_home).reasons == ["ELIGIBLE"]


@pytest.mark.parametrize("delta_m, admit", [(-0.05, False), (0.05, True)])
def test_residence_at_the_boundary(world, delta_m, admit):
    point = offset(*VISIT, 123.0, 90.0 + delta_m / MILE_M)
    assert decide(world, "visit", "far", residence=point).admit is admit


def test_profile_without_residence_rule_still_reports_the_distance():
    profile = Profile("garden", "Garden program", 90.0, residence_rule=False,
                      membership_limits=ASTC_LIMITS)
    rows = [site("visit", *VISIT), site("far", *offset(*VISIT, 0.0, 200))]
    active = build(rows, profile)
    d = decide(active, "visit", "far", residence=offset(*VISIT, 0.0, 5))
    assert d.admit and d.residence_distance_miles == pytest.approx(5, abs=1e-6)
    assert rules.CHECK_RESIDENCE not in d.staff_checks


def test_other_program_radius_uses_its_own_distance():
    profile = Profile("wide", "Wide program", 150.0, residence_rule=True,
                      membership_limits=ASTC_LIMITS)
    rows = [site("visit", *VISIT), site("h", *offset(*VISIT, 0.0, 120))]
    assert not decide(build(rows, profile), "visit", "h").admit
    assert decide(build(rows), "visit", "h").admit


@pytest.mark.parametrize("expires, admit", [(ON - timedelta(days=1), False), (ON, True),
                                            (ON + timedelta(days=300), True)])
def test_card_expiry_on_the_visit_date(world, expires, admit):
    d = decide(world, "visit", "far", on=ON, expires=expires)
    assert d.admit is admit
    assert ("CARD_EXPIRED" in d.reasons) is (not admit)


def test_visit_date_defaults_to_today_at_the_site(world):
    """Without ``on``, expiry is checked against today in the visited site's time zone."""
    chicago = zoneinfo.ZoneInfo("America/Chicago")
    before = datetime.now(chicago).date()
    d = decide(world, "visit", "far", expires=date(2020, 1, 1))
    assert not d.admit and d.reasons == ["CARD_EXPIRED"]
    today_there = datetime.now(chicago).date()
    # Between the dates read just before and after: holds at any time of day, midnight too.
    assert before <= d.on <= today_there
    assert decide(world, "visit", "far", expires=today_there + timedelta(days=1)).admit


def test_expired_and_too_close_are_both_reported(world):
    d = decide(world, "visit", "near", on=ON, expires=ON - timedelta(days=1))
    assert d.reasons == ["CARD_EXPIRED", "HOME_WITHIN_RADIUS"]


@pytest.mark.parametrize("codes", [["CARD_MALFORMED"], ["CARD_SIGNATURE_INVALID"],
                                   ["KEY_UNKNOWN"], ["CARD_REVOKED"],
                                   ["KEY_UNKNOWN", "CARD_REVOKED", "CARD_EXPIRED"]])
def test_card_failures_deny_and_keep_their_order(world, codes):
    d = decide(world, "visit", "far" if codes != ["CARD_MALFORMED"] else None,
               card_reasons=codes, card={"valid": False})
    assert not d.admit
    assert [c for c in d.reasons if c.startswith(("CARD", "KEY"))] == \
        sorted(codes, key=rules.REASON_ORDER.index)


def test_home_or_card_reasons_required(world):
    with pytest.raises(ValueError, match="home institution"):
        decide(world, "visit", None)


@pytest.mark.parametrize("party, membership, covered, too_large", [
    (Party(), None, 1, False),
    (Party(adults=2, children=4), "group", 6, False),
    (Party(adults=3, children=0), "group", 2, True),
    (Party(adults=2, children=5), "group", 6, True),
    (Party(adults=1, children=4), "group", 5, False),
    (Party(adults=1), "individual", 1, False),
    (Party(adults=2), "individual", 1, True),
    (Party(adults=1, children=1), "individual", 1, True),
    (Party(adults=0, children=1), "individual", 1, False),
])
def test_2026_party_rules(world, party, membership, covered, too_large):
    d = decide(world, "visit", "far", party=party, membership=membership)
    assert d.admit and d.covered == covered and d.party_size == party.size
    assert ("PARTY_TOO_LARGE" in d.reasons) is too_large


def test_named_member_absent_denies(world):
    d = decide(world, "visit", "far", party=Party(adults=2, named_present=False))
    assert not d.admit and d.reasons == ["NAMED_MEMBER_ABSENT"] and d.covered == 0


@pytest.mark.parametrize("kwargs", [dict(adults=-1), dict(adults=0, children=0),
                                    dict(adults=1.5), dict(adults=True), dict(adults=60)])
def test_party_validation(kwargs):
    with pytest.raises(ValueError):
        Party(**kwargs)


def test_unknown_membership_is_rejected(world):
    with pytest.raises(ValueError, match="membership"):
        decide(world, "visit", "far", membership="family")


def test_local_radius_rule_honours_closer_members():
    rows = [site("visit", *VISIT, local_radius_miles=60),
            site("at75", *offset(*VISIT, 10.0, 75)), site("at50", *offset(*VISIT, 10.0, 50))]
    active = build(rows)
    d = decide(active, "visit", "at75")
    assert d.admit and d.reasons == ["ELIGIBLE", "LOCAL_RULE_HONOURED"]
    assert d.radius_miles == 60
    assert decide(active, "visit", "at50").reasons == ["HOME_WITHIN_RADIUS"]
    res75 = offset(*VISIT, 99.0, 75)
    assert decide(active, "visit", "at75", residence=res75).admit


def test_local_discount_inside_the_radius(world):
    rows = [site("visit", *VISIT, local_discount_percent=50),
            site("near", *offset(*VISIT, 0.0, 40)), site("far", *offset(*VISIT, 0.0, 400))]
    active = build(rows)
    d = decide(active, "visit", "near")
    assert not d.admit and d.reasons == ["HOME_WITHIN_RADIUS", "LOCAL_DISCOUNT"]
    assert d.benefit == "discount" and d.discount_percent == 50
    assert decide(active, "visit", "far").reasons == ["ELIGIBLE"]
    # an expired card gets no discount either
    expired = decide(active, "visit", "near", on=ON, expires=ON - timedelta(days=1))
    assert "LOCAL_DISCOUNT" not in expired.reasons


def test_store_discount_only_site(world):
    d = decide(world, "store", "far")
    assert d.admit and d.reasons == ["ELIGIBLE", "STORE_DISCOUNT_ONLY"]
    assert d.benefit == "store_discount"


def test_staff_checks_and_terms(world):
    manual = decide(world, "proof", "far")
    assert manual.staff_checks == ["CHECK_MEMBER_CARD", "CHECK_PROOF_OF_RESIDENCE",
                                   "CHECK_RESERVATION"]
    assert manual.terms == "General admission only."
    carded = decide(world, "visit", "far", card={"valid": True})
    assert carded.staff_checks == ["CHECK_PHOTO_ID", "CHECK_RESIDENCE"]
    with_res = decide(world, "visit", "far", card={"valid": True},
                      residence=offset(*VISIT, 0.0, 500))
    assert with_res.staff_checks == ["CHECK_PHOTO_ID"]
    assert decide(world, "visit", "near").staff_checks == []


def test_to_json_keys_and_serialisable(world):
    d = decide(world, "proof", "far", on=ON, party=Party(adults=2, children=1))
    out = d.to_json()
    assert list(out)[:5] == ["admit", "reasons", "home_distance_miles",
                             "residence_distance_miles", "list_version"]
    assert {"visit", "home", "covered", "staff_checks", "terms", "card", "text"} <= set(out)
    assert out["on"] == "2026-06-01" and out["covered"] == 3
    assert set(out["text"]) == set(d.reasons) | set(d.staff_checks)
    json.dumps(out)


def _module_codes() -> set[str]:
    return {v for k, v in vars(rules).items() if k.isupper() and isinstance(v, str)
            and v == k}


def test_member_text_speaks_to_the_member():
    """Issue 10: the member pages said "check an ID showing the member's address". Every
    staff check, note and card reason has member-facing words, none of them the desk's."""
    needed = {*rules.STAFF_CHECK_CODES, *rules.NOTE_CODES, rules.CARD_EXPIRED,
              rules.CARD_SIGNATURE_INVALID, rules.CARD_MALFORMED, rules.CARD_REVOKED,
              rules.KEY_UNKNOWN}
    assert needed <= set(rules.MEMBER_TEXT)
    assert set(rules.MEMBER_TEXT) <= _module_codes()
    for code, text in rules.MEMBER_TEXT.items():
        for desk_word in ("member's", "the member", "Check ", "check the", "check a",
                          "this desk", "by hand", "trust list"):
            assert desk_word not in text, (code, desk_word)
    assert "bring an ID that shows your address" in rules.MEMBER_TEXT[
        rules.CHECK_PROOF_OF_RESIDENCE]


def test_every_code_has_text_and_is_documented():
    codes = _module_codes()
    assert set(rules.REASON_ORDER) | set(rules.STAFF_CHECK_CODES) == codes
    assert codes <= set(rules.REASON_TEXT)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section: rules -->")[1].split("<!-- /section: rules -->")[0]
    for code in codes:
        assert code in rules.__doc__, code
        assert code in section, code
    assert rules.DENY_CODES | rules.NOTE_CODES | {"ELIGIBLE"} == set(rules.REASON_ORDER)


def test_hot_path_reads_precomputed_distances(world, monkeypatch):
    def no_geodesic(*args, **kwargs):
        raise AssertionError("decide() called an exact geodesic for a listed pair")

    monkeypatch.setattr(InstitutionTable, "distance_between", no_geodesic)
    assert decide(world, "visit", "in89").reasons == ["HOME_WITHIN_RADIUS"]


@pytest.fixture(scope="module")
def scatter():
    """60 sites scattered 60-120 miles around one point: many pairs near the boundary."""
    import random

    rng = random.Random(4)
    rows = [site("c", 35.0, -95.0)]
    for i in range(60):
        rows.append(site(f"s{i}", *offset(35.0, -95.0, rng.uniform(0, 360),
                                          rng.uniform(60, 120))))
    return build(rows), {r["id"]: (r["latitude"], r["longitude"]) for r in rows}


@settings(max_examples=150, deadline=None)
@given(a=st.integers(0, 60), b=st.integers(0, 60))
def test_decision_equals_reference_geodesic(scatter, a, b):
    active, points = scatter
    ids = list(points)
    home, visit = ids[a], ids[b]
    d = decide(active, visit, home)
    if home == visit:
        assert d.reasons == ["SAME_INSTITUTION"]
        return
    reference = ref_miles(points[home], points[visit])
    assert d.admit is (reference > 90.0)
    assert d.home_distance_miles == pytest.approx(reference, abs=1e-6)

