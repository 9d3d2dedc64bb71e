"""The member planner's domain (passport.planner): the plan agrees with `passport check` for
every site, says why not in words from the profile's radius, filters, answers "Can I visit
X?", resolves what a member types, and draws the exclusion zones that apply."""

from __future__ import annotations

import csv
import json
import random

import pytest
from conftest import ASTC_LIMITS
from geographiclib.geodesic import Geodesic
from shapely.geometry import Point, shape

from kiosk.ratelimit import RateLimiter
from passport import admission, institutions, planner, rules
from passport.rules import Profile

MILE_M = 1609.344
OMSI = "oregon-museum-of-science-and-industry-portland"
CHABOT = "chabot-space-science-center-oakland"
EXPLORATORIUM = "exploratorium-san-francisco"


def terms_csv(shipped_csv, path, seed: int = 11):
    """The shipped list with structured terms and free-text restrictions sprinkled in."""
    rng = random.Random(seed)
    with shipped_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    extra = ["reservation_required", "store_discount_only", "local_radius_miles",
             "local_discount_percent", "restrictions"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], *extra])
        writer.writeheader()
        for row in rows:
            writer.writerow({
                **row,
                "reservation_required": int(rng.random() < 0.1),
                "store_discount_only": int(rng.random() < 0.1),
                "local_radius_miles": rng.choice([""] * 6 + ["30", "60", "89.99", "120"]),
                "local_discount_percent": rng.choice([""] * 5 + ["50"]),
                "restrictions": rng.choice([""] * 8 + ["Members of sites within 50 miles "
                                                       "pay half price."]),
            })
    return path


@pytest.fixture
def listed(db, shipped_csv, tmp_path):
    institutions.import_file(db, terms_csv(shipped_csv, tmp_path / "terms.csv"))
    return db


def _residences(active, rng) -> list[dict]:
    """Ways to give a residence: none, a ZIP code, a town, and a point exactly the radius
    from a random site (placed with geographiclib's Direct: the boundary)."""
    site = active.by_id[active.table.ids[rng.randrange(len(active.table.ids))]]
    edge = Geodesic.WGS84.Direct(site["latitude"], site["longitude"], rng.uniform(0, 360),
                                 active.profile.radius_miles * MILE_M)
    return [{}, {"postal": "97214", "country": "US"}, {"residence_place": "Markham, ON"},
            {"residence": (edge["lat2"], edge["lon2"])}]


def test_the_plan_is_passport_checks_decision_for_every_site(listed):
    active = institutions.load_active(listed)
    rng = random.Random(3)
    homes = [OMSI, CHABOT, *rng.sample(list(active.table.ids), 3)]
    for home in homes:
        for residence in _residences(active, rng):
            answer = planner.member_plan(listed, home, **residence)
            entries = answer["eligible"] + answer["ineligible"]
            assert len(entries) == len(active.table.ids) - 1
            assert answer["eligible_count"] == len(answer["eligible"])
            for entry in entries:
                check = admission.check(listed, entry["id"], home=home, **residence)
                where = (home, entry["id"], residence)
                assert (entry in answer["eligible"]) == check.admit, where
                assert entry["reasons"] == check.reasons, where
                assert entry["home_distance_miles"] == pytest.approx(
                    check.home_distance_miles, abs=1e-9), where
                if check.residence_distance_miles is None:
                    assert entry["residence_distance_miles"] is None
                else:
                    assert entry["residence_distance_miles"] == pytest.approx(
                        check.residence_distance_miles, abs=1e-9), where


def test_the_cli_agrees_on_a_sample(listed, cli):
    answer = planner.member_plan(listed, OMSI, postal="97214", country="US")
    sample = answer["eligible"][:3] + answer["ineligible"][:3]
    for entry in sample:
        out = json.loads(cli("check", "--visit", entry["id"], "--home", OMSI, "--postal",
                             "97214", "--country", "US", "--json").output)
        assert out["admit"] == (entry in answer["eligible"])
        assert out["reasons"] == entry["reasons"]


def test_nearest_to_the_destination_first_and_both_distances(listed):
    answer = planner.member_plan(listed, OMSI, near_place="Chicago")
    assert answer["near"]["label"] == "Chicago, IL, US" and answer["near"]["source"] == "place"
    near = [e["near_distance_miles"] for e in answer["eligible"]]
    assert near == sorted(near)
    chicago = {i for i, row in institutions.load_active(listed).by_id.items()
               if row["city"] == "Chicago"}
    assert chicago and {e["id"] for e in answer["eligible"][:len(chicago)]} == chicago
    assert all(e["home_distance_miles"] > 1000 for e in answer["eligible"][:len(chicago)])
    by_home = planner.member_plan(listed, OMSI)
    home = [e["home_distance_miles"] for e in by_home["eligible"]]
    assert home == sorted(home) and by_home["near"] is None


def test_why_not_in_words_from_the_profiles_radius(shipped_csv, db):
    institutions.import_file(db, shipped_csv)
    rows = [dict(r) for r in institutions.load_active(db).records]
    for radius in (90.0, 50.0):
        profile = Profile("p", "P", radius, residence_rule=True, membership_limits=ASTC_LIMITS)
        active = institutions.build_active_list(1, profile, rows)
        plan = planner.plan_sites(active, OMSI)
        assert plan["ineligible"]
        for entry in plan["ineligible"]:
            miles = rules.format_miles(entry["home_distance_miles"], radius)
            assert entry["why"] == (f"{miles} miles from your home museum — the program needs "
                                    f"more than {radius:g}")
    text = planner.why_not(40.0, 30.0, home_within=True, residence_within=True,
                           site_radius_miles=60.0, radius_miles=90.0)
    assert text == ("40.0 miles from your home museum and 30.0 miles from where you live — "
                    "this site's own rule needs more than 60 from both")


def test_terms_in_member_words(listed):
    answer = planner.member_plan(listed, OMSI, limit=None)
    active = institutions.load_active(listed)
    for entry in answer["eligible"] + answer["ineligible"]:
        row = active.by_id[entry["id"]]
        codes = [t["code"] for t in entry["terms"]]
        texts = [t["text"] for t in entry["terms"]]
        if row.get("restrictions"):
            assert entry["terms"][-1] == {"code": None, "text": row["restrictions"]}
        for code, text in zip(codes, texts, strict=True):
            if code is not None:
                assert text.startswith(rules.MEMBER_TEXT[code])
                assert "member's" not in text  # a member's words, not the desk's
        assert rules.CHECK_RESIDENCE not in codes
        if entry in answer["eligible"]:
            assert (rules.CHECK_PROOF_OF_RESIDENCE in codes) == bool(row["proof_of_residence"])
            assert (entry["benefit"] == "store_discount") == bool(row["store_discount_only"])
        elif rules.LOCAL_DISCOUNT in codes:
            assert entry["benefit"] == "discount" and "(50% off)" in texts[codes.index(
                rules.LOCAL_DISCOUNT)]


def test_filters(listed):
    active = institutions.load_active(listed)
    everything = planner.member_plan(listed, OMSI)
    illinois = planner.member_plan(listed, OMSI, filters=planner.Filters(area="US-IL"))
    assert illinois["eligible"] and all(
        e["region"] == "IL" for e in illinois["eligible"] + illinois["ineligible"])
    canada = planner.member_plan(listed, OMSI, filters=planner.Filters(area="CA"))
    assert canada["eligible"] and {e["country"] for e in canada["eligible"]} == {"CA"}
    free = planner.member_plan(listed, OMSI, filters=planner.Filters(benefit="free"))
    assert {e["benefit"] for e in free["eligible"]} == {"general_admission"}
    assert free["ineligible"] == []
    discount = planner.member_plan(listed, OMSI, filters=planner.Filters(benefit="discount"))
    assert {e["benefit"] for e in discount["eligible"]} == {"store_discount"}
    assert {e["benefit"] for e in discount["ineligible"]} <= {"discount"}
    no_proof = planner.member_plan(listed, OMSI, filters=planner.Filters(no_proof=True))
    assert not any(active.by_id[e["id"]]["proof_of_residence"]
                   for e in no_proof["eligible"] + no_proof["ineligible"])
    assert (len(free["eligible"]) + len(discount["eligible"])
            == everything["eligible_count"])
    with pytest.raises(admission.CheckInputError, match="benefit"):
        planner.Filters(benefit="cheap")
    with pytest.raises(admission.CheckInputError, match="area"):
        planner.Filters(area="Illinois")


def test_can_i_visit(listed):
    yes = planner.member_plan(listed, OMSI, site=EXPLORATORIUM)["site"]
    check = admission.check(listed, EXPLORATORIUM, home=OMSI)
    assert yes["admit"] is check.admit is True and yes["reasons"] == check.reasons
    assert yes["text"].startswith("Yes: you can visit Exploratorium (San Francisco, CA)")
    assert "miles from your home museum" in yes["text"]
    # no residence given: the desk may ask where the member lives
    assert yes["terms"][-1]["code"] == rules.CHECK_RESIDENCE
    no = planner.member_plan(listed, CHABOT, site=EXPLORATORIUM)["site"]
    assert no["admit"] is False and rules.HOME_WITHIN_RADIUS in no["reasons"]
    assert no["text"].startswith("No: Exploratorium (San Francisco, CA) is ")
    assert "— the program needs more than 90" in no["text"]
    home = planner.member_plan(listed, OMSI, site=OMSI)["site"]
    assert home["reasons"] == admission.check(listed, OMSI, home=OMSI).reasons
    assert home["text"].startswith("No: Oregon Museum of Science and Industry is your home")
    # the site is where the member is going when nothing else says so
    plan = planner.member_plan(listed, OMSI, site=EXPLORATORIUM)
    assert plan["near"]["source"] == "site" and plan["near"]["site"] == EXPLORATORIUM


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"near": "41.8,-87.6", "near_place": "Chicago"}, admission.CheckInputError, "once"),
    ({"near_place": "Nowhere Atall Xq"}, admission.CheckInputError, "near_place"),
    ({"near": "91,0"}, admission.CheckInputError, "near lat"),
    ({"site": "no-such-site"}, admission.UnknownInstitution, "site 'no-such-site'"),
    ({"limit": 0}, admission.CheckInputError, "limit"),
    ({"postal": "L0H 1J0", "country": "CA"}, admission.CheckInputError, "give a town"),
])
def test_bad_input_names_itself(listed, kwargs, error, message):
    with pytest.raises(error, match=message):
        planner.member_plan(listed, OMSI, **kwargs)
    with pytest.raises(admission.UnknownInstitution, match="home institution 'nowhere'"):
        planner.member_plan(listed, "nowhere")


def test_what_a_member_types_finds_the_site(listed):
    active = institutions.load_active(listed)
    assert planner.resolve_institution(active, "OMSI") == (OMSI, [])
    assert planner.resolve_institution(active, OMSI) == (OMSI, [])
    assert planner.resolve_institution(active, "exploratorium") == (EXPLORATORIUM, [])
    found, choices = planner.resolve_institution(active, "science center")
    assert found is None and 1 < len(choices) <= planner.MAX_CHOICES
    assert planner.resolve_institution(active, "zzqxw") == (None, [])


def test_areas_for_the_filter(listed):
    areas = planner.area_choices(institutions.load_active(listed))
    assert areas[0]["code"] == "US" and areas[0]["region"] is None
    codes = [a["code"] for a in areas]
    assert "US-IL" in codes and "CA" in codes and "CA-ON" in codes
    assert codes.index("CA") < codes.index("CA-ON")


def _at(lat, lon, azimuth, miles) -> Point:
    out = Geodesic.WGS84.Direct(lat, lon, azimuth, miles * MILE_M)
    return Point(out["lon2"], out["lat2"])


def test_the_map_draws_the_zones_that_apply(listed, shipped_csv):
    answer = planner.member_plan(listed, OMSI, postal="97214", country="US")
    collection = json.loads(json.dumps(planner.plan_geojson(answer)))
    zones = [f for f in collection["features"] if f["properties"]["kind"] == "exclusion"]
    assert [z["properties"]["center"] for z in zones] == ["home", "residence"]
    home = answer["home"]
    zone = shape(zones[0]["geometry"])
    for azimuth in range(0, 360, 30):
        assert zone.covers(_at(home["latitude"], home["longitude"], azimuth, 89.9))
        assert not zone.covers(_at(home["latitude"], home["longitude"], azimuth, 90.1))
    sites = [f for f in collection["features"] if f["properties"]["kind"] == "site"]
    assert len(sites) == answer["eligible_count"] + answer["ineligible_count"]
    # no residence rule: no residence zone, even with a residence
    rows = [dict(r) for r in institutions.load_active(listed).records]
    garden = Profile("garden", "G", 90.0, residence_rule=False, membership_limits=ASTC_LIMITS)
    active = institutions.build_active_list(1, garden, rows)
    given = admission.located_residence(postal="97214", country="US")
    plain = planner.plan_geojson(planner.plan_for(active, OMSI, given))
    assert [f["properties"]["center"] for f in plain["features"]
            if f["properties"]["kind"] == "exclusion"] == ["home"]


def test_rate_limiter_bursts_then_spaces_requests():
    now = [0.0]
    limiter = RateLimiter(3, 60.0, clock=lambda: now[0], max_keys=4)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("a")
    assert wait == pytest.approx(20.0) and RateLimiter.retry_after(wait) == 20
    assert limiter.take("b") == 0.0  # another address has its own bucket
    now[0] = 20.0
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0.0
    for key in "cdefgh":
        limiter.take(key)
    assert len(limiter._buckets) <= 4
    with pytest.raises(ValueError):
        RateLimiter(0, 60.0)


def test_the_benchmarks_2000_sites_are_fixed_and_decided_alike():
    from bench.planner import HOME, NEAR, RESIDENCE, big_active, shipped_active, synthetic_rows

    rows = list(shipped_active().records)
    made = synthetic_rows(rows)
    assert len(made) == 2000 and len({r["id"] for r in made}) == 2000
    assert made == synthetic_rows(rows)  # seeded: every run plans over the same list
    active = big_active()
    plan = planner.plan_sites(active, HOME, RESIDENCE, NEAR)
    assert plan["eligible_count"] + plan["ineligible_count"] == 1999
    for entry in plan["eligible"][:50] + plan["ineligible"]:
        one = rules.decide(active, entry["id"], HOME, residence=RESIDENCE)
        assert (one.admit, one.reasons) == (entry in plan["eligible"], entry["reasons"])
