"""Several programs at one desk: each program decided by its own rules on its own list, the
sites' own distance terms exact at their miles, and the best benefit first."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest
from geographiclib.geodesic import Geodesic

from passport import across, admission, institutions, plan, rules, store

MILE_M = 1609.344
WGS84 = Geodesic.WGS84
ON = "2026-06-01"
ORIGIN = (37.8188, -122.1805)  # Oakland hills


def point_at(origin: tuple[float, float], miles: float, azimuth_deg: float = 45.0
             ) -> tuple[float, float]:
    """The point ``miles`` from ``origin`` along ``azimuth_deg`` (geographiclib's Direct)."""
    line = WGS84.Direct(origin[0], origin[1], azimuth_deg, miles * MILE_M)
    return line["lat2"], line["lon2"]


def site(ident: str, where: tuple[float, float], **terms) -> dict:
    return {"id": ident, "name": ident.replace("-", " ").title(), "country": "US",
            "latitude": where[0], "longitude": where[1], "timezone": "America/Los_Angeles",
            "proof_of_residence": 0, "reservation_required": 0, "store_discount_only": 0,
            **terms}


def publish(db, program: str, rows: list[dict]) -> int:
    version, _ = store.publish_list(db, profile=program, records=rows, source_name="test",
                                    source_sha256=None, actor="test")
    return version


def test_a_site_s_own_term_is_exact_at_its_miles(db):
    """NARM ``**`` (15 miles) and ``#`` (50 miles): within, exactly at, and 0.01 mile
    beyond; the distance from geographiclib's Direct, the decision the engine's."""
    rows = [site("visit-15", ORIGIN, site_home_within_miles=15.0),
            site("visit-50", point_at(ORIGIN, 300, 180), site_home_within_miles=50.0)]
    cases = []
    for visit, centre, miles in (("visit-15", ORIGIN, 15.0),
                                 ("visit-50", (rows[1]["latitude"], rows[1]["longitude"]), 50.0)):
        for offset, denied in ((-0.01, True), (0.0, True), (0.01, False)):
            home = f"home-{visit}-{offset}"
            rows.append(site(home, point_at(centre, miles + offset, 120)))
            cases.append((visit, home, miles, denied))
    publish(db, "narm", rows)
    for visit, home, miles, denied in cases:
        decision = admission.check(db, visit, home=home, on=ON, program="narm")
        code = f"NARM_HOME_WITHIN_{miles:g}"
        assert (code in decision.reasons) is denied, (visit, home)
        assert decision.admit is not denied
        assert decision.radius_miles == miles  # distances read against the site's term


def test_reciprocal_restriction_follows_the_home_s_own_term(db):
    """NARM ``^``: a site does not extend the benefit to members of an institution whose
    own distance term covers it; a home without a term, or farther, is admitted."""
    visit = site("caret-site", ORIGIN, reciprocal_restriction=1)
    near_strict = site("strict-home", point_at(ORIGIN, 10), site_home_within_miles=15.0)
    far_strict = site("far-strict-home", point_at(ORIGIN, 16), site_home_within_miles=15.0)
    near_plain = site("plain-home", point_at(ORIGIN, 10, 200))
    publish(db, "narm", [visit, near_strict, far_strict, near_plain])
    denied = admission.check(db, "caret-site", home="strict-home", on=ON, program="narm")
    assert not denied.admit and denied.reasons == ["NARM_RECIPROCAL_RESTRICTION"]
    for home in ("far-strict-home", "plain-home"):
        admitted = admission.check(db, "caret-site", home=home, on=ON, program="narm")
        assert admitted.admit and admitted.benefit == "member_admission"


def test_narm_notes_and_no_program_radius(db):
    """No program radius: a site 2 miles away admits; its exclusions are notes."""
    publish(db, "narm", [
        site("star-site", ORIGIN, events_excluded=1, excluded_venue="the film archive"),
        site("next-door", point_at(ORIGIN, 2))])
    decision = admission.check(db, "star-site", home="next-door", on=ON, program="narm")
    assert decision.admit
    assert decision.reasons == ["ELIGIBLE", "EVENTS_EXCLUDED", "VENUE_EXCLUDED"]
    assert decision.radius_miles is None and decision.terms == "the film archive"
    assert decision.staff_checks == ["CHECK_MEMBER_CARD", "CHECK_PROGRAM_MARK"]
    assert "NARM sticker" in decision.to_json()["text"]["CHECK_PROGRAM_MARK"]


@pytest.mark.parametrize(("visit_tier", "home_tier", "benefit", "percent"), [
    ("100%", "100%", "general_admission", None),
    ("100%", "free-to-public", "general_admission", None),
    ("100%", "50%", "discount", 50.0),
    ("50%", "100%", "discount", 50.0),
    ("free-to-public", "100%", "store_discount", None),
])
def test_aza_tiers(db, visit_tier, home_tier, benefit, percent):
    publish(db, "aza", [site("zoo", ORIGIN, benefit_tier=visit_tier),
                        site("home-zoo", point_at(ORIGIN, 5), benefit_tier=home_tier)])
    decision = admission.check(db, "zoo", home="home-zoo", on=ON, program="aza")
    assert decision.admit
    assert (decision.benefit, decision.discount_percent) == (benefit, percent)
    assert ("DISCOUNT_BENEFIT" in decision.reasons) is (benefit == "discount")


def _two_programs(db, miles: float) -> None:
    """A home and a visited site on both the ASTC and the NARM list, ``miles`` apart."""
    far = point_at(ORIGIN, miles, 90)
    publish(db, "astc", [site("home-center", ORIGIN), site("both-site", far),
                         site("astc-only", point_at(ORIGIN, 200, 10))])
    publish(db, "narm", [site("home-center", ORIGIN), site("both-site", far),
                         site("narm-only", point_at(ORIGIN, 20, 10))])


def test_the_best_benefit_leads_across_programs(db):
    _two_programs(db, 120.0)  # beyond ASTC's 90 miles: free general admission beats NARM's
    decision = admission.check(db, "both-site", home="home-center", on=ON)
    body = decision.to_json()
    assert body["best"] == {"program": "astc", "benefit": "general_admission",
                            "discount_percent": None}
    assert [p["program"] for p in body["programs"]] == ["astc", "narm"]
    assert body["admit"] is True and body["program"] == "astc"


def test_another_program_admits_where_astc_denies(db):
    _two_programs(db, 40.0)  # within ASTC's 90 miles: NARM's member admission is the best
    decision = admission.check(db, "both-site", home="home-center", on=ON)
    body = decision.to_json()
    assert body["admit"] is True
    assert body["best"]["program"] == "narm" and body["best"]["benefit"] == "member_admission"
    astc = next(p for p in body["programs"] if p["program"] == "astc")
    assert astc["admit"] is False and astc["reasons"] == ["HOME_WITHIN_RADIUS"]
    only = admission.check(db, "both-site", home="home-center", on=ON, program="astc")
    assert not only.admit and only.to_json()["programs"][0]["program"] == "astc"


def test_a_site_on_one_list_is_decided_under_that_program_only(db):
    _two_programs(db, 40.0)
    decision = admission.check(db, "narm-only", home="home-center", on=ON)
    assert decision.program == "narm" and decision.admit
    assert [p["program"] for p in decision.to_json()["programs"]] == ["narm"]
    nowhere = admission.check(db, "astc-only", home="no-such-home", on=ON)
    assert nowhere.reasons == ["HOME_NOT_PARTICIPATING"] and nowhere.program == "astc"


def test_crosswalk_links_different_ids():
    """``entries``: an id is itself where listed and its counterpart elsewhere."""

    class Active:
        def __init__(self, name, ids):
            self.profile = rules.Profile(name, name, 0.0, False, {"group": (2, 4)})
            self.by_id = dict.fromkeys(ids, {})

    class Links:
        def counterpart(self, source, institution_id, target, on_target):
            pairs = {("astc", "chabot", "narm"): "chabot-space-center"}
            found = pairs.get((source, institution_id, target))
            return found if found in on_target else None

    actives = [Active("astc", ["chabot"]), Active("narm", ["chabot-space-center"]),
               Active("aza", ["zoo"])]
    assert across.entries(actives, Links(), "chabot") == {"astc": "chabot",
                                                          "narm": "chabot-space-center"}
    from passport import crosswalk  # no decisions: an entry's counterpart is the same id

    assert across.entries(actives, crosswalk.EMPTY, "chabot") == {"astc": "chabot"}
    assert across.entries(actives, Links(), "nowhere") == {}


def test_a_rejected_same_id_pair_is_not_the_same_institution(db):
    """The crosswalk decides: an admin's rejection of a same-id pair parts them."""
    from passport import crosswalk

    _two_programs(db, 40.0)
    both = admission.check(db, "both-site", home="home-center", on=ON)
    assert [p["program"] for p in both.to_json()["programs"]] == ["narm", "astc"]
    crosswalk.reject(db, crosswalk.parse_entry("astc:home-center"),
                     crosswalk.parse_entry("narm:home-center"), actor="admin1")
    parted = admission.check(db, "both-site", home="home-center", on=ON)
    assert parted.program == "astc" and not parted.admit
    assert [p["program"] for p in parted.to_json()["programs"]] == ["astc"]


# --------------------------------------------------------------------------- the real lists

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def real_lists(db):
    """The shipped ASTC, NARM and AZA lists, imported as an admin would."""
    for program, name in (("astc", "institutions.csv"), ("narm", "narm_2026.csv"),
                          ("aza", "aza_reciprocity.csv")):
        institutions.import_file(db, DATA / name, profile=program)
    return db


def _with_homes(db, program: str, homes: list[dict]) -> None:
    """The program's active list again, with ``homes`` added (a new version)."""
    active = institutions.load_active(db, program)
    publish(db, program, [*active.records, *homes])


def _narm_rows(db, symbols: str) -> list[dict]:
    return [r for r in institutions.load_active(db, "narm").records if r["symbols"] == symbols]


def test_ten_narm_fifteen_mile_sites_deny_near_homes_and_admit_farther_ones(real_lists):
    sites = _narm_rows(real_lists, "**")[:10]
    assert len(sites) == 10 and all(r["site_home_within_miles"] == 15 for r in sites)
    near_miles = (5.0, 7.5, 10.0, 12.5, 14.9)
    far_miles = (15.1, 20.0, 25.0, 32.0, 40.0)
    homes, cases = [], []
    for k, row in enumerate(sites):
        centre = (row["latitude"], row["longitude"])
        for miles in near_miles + far_miles:
            home = f"test-home-{k}-{miles:g}".replace(".", "-")
            homes.append(site(home, point_at(centre, miles, 30 + 7 * k)))
            cases.append((row["id"], home, miles))
    _with_homes(real_lists, "narm", homes)
    for visit, home, miles in cases:
        decision = admission.check(real_lists, visit, home=home, on=ON, program="narm")
        denied = miles < 15
        assert decision.admit is not denied, (visit, miles)
        assert ("NARM_HOME_WITHIN_15" in decision.reasons) is denied
        assert decision.distance_precision == "city"
        assert decision.home_distance_miles == pytest.approx(miles, abs=1e-6)


def test_the_fifty_mile_site(real_lists):
    (dali,) = _narm_rows(real_lists, "#")
    centre = (dali["latitude"], dali["longitude"])
    _with_homes(real_lists, "narm", [site("near-home", point_at(centre, 49.9)),
                                     site("far-home", point_at(centre, 50.1))])
    near = admission.check(real_lists, dali["id"], home="near-home", on=ON, program="narm")
    far = admission.check(real_lists, dali["id"], home="far-home", on=ON, program="narm")
    assert not near.admit and near.reasons == ["NARM_HOME_WITHIN_50"]
    assert far.admit and far.benefit == "member_admission"


def _shared_sites(db, home: str) -> list[tuple[str, float]]:
    """Sites on both the ASTC and the NARM list (the same id), with miles from ``home``."""
    astc = institutions.load_active(db, "astc")
    narm = institutions.load_active(db, "narm")
    both = [i for i in astc.by_id if i in narm.by_id and i != home]
    return sorted(((i, astc.distance_miles(home, i)) for i in both), key=lambda p: p[1])


def test_a_chabot_member_gets_the_best_of_astc_and_narm(real_lists):
    chabot = "chabot-space-science-center-oakland"
    shared = _shared_sites(real_lists, chabot)
    narm = institutions.load_active(real_lists, "narm")
    plain = [(i, m) for i, m in shared if not narm.by_id[i]["symbols"]]
    far_id, _ = next((i, m) for i, m in plain if m > 90)
    far = admission.check(real_lists, far_id, home=chabot, on=ON).to_json()
    assert far["best"]["program"] == "astc" and far["best"]["benefit"] == "general_admission"
    assert {p["program"] for p in far["programs"]} == {"astc", "narm"}
    # No site on both lists is within 90 miles of Chabot today: add one, 40 miles away.
    astc = institutions.load_active(real_lists, "astc")
    where = point_at((astc.by_id[chabot]["latitude"], astc.by_id[chabot]["longitude"]), 40, 100)
    for program in ("astc", "narm"):
        _with_homes(real_lists, program, [site("valley-science-center", where)])
    near = admission.check(real_lists, "valley-science-center", home=chabot, on=ON).to_json()
    assert near["admit"] and near["best"]["program"] == "narm"
    assert near["best"]["benefit"] == "member_admission"
    assert near["programs"][1]["program"] == "astc"
    assert near["programs"][1]["reasons"] == ["HOME_WITHIN_RADIUS"]


def test_plan_decide_all_equals_decide_on_the_narm_list(real_lists):
    """The planner's whole-table decisions are ``rules.decide``'s, site by site, under
    NARM's per-site terms (a `**` home, so that `^` sites deny too)."""
    active = institutions.load_active(real_lists, "narm")
    home = next(r["id"] for r in active.records if r["symbols"] == "**")
    decided = plan.decide_all(active, home)
    terms = plan.site_terms(active)
    for index, visit in enumerate(active.table.ids):
        if visit == home:
            continue
        one = rules.decide(active, visit, home, on=date(2026, 6, 1))
        assert bool(decided.admit[index]) == one.admit, visit
        if not one.admit:
            assert decided.reasons(index, terms) == one.reasons, visit


def test_the_planner_lists_every_program_s_sites_with_the_best_benefit(real_lists):
    from passport import planner

    chabot = "chabot-space-science-center-oakland"
    answer = planner.member_plan(real_lists, chabot)
    assert answer["programs"] == ["astc", "narm"]  # Chabot is on no AZA list
    by_id = {e["id"]: e for e in answer["eligible"]}
    astc_ids = set(institutions.load_active(real_lists, "astc").by_id)
    narm_ids = set(institutions.load_active(real_lists, "narm").by_id)
    both = next(i for i, m in _shared_sites(real_lists, chabot) if m > 90
                and not institutions.load_active(real_lists, "narm").by_id[i]["symbols"])
    assert by_id[both]["best"]["program"] == "astc"
    assert [p["program"] for p in by_id[both]["programs"]] == ["astc", "narm"]
    narm_only = next(e for e in answer["eligible"] if e["id"] in narm_ids - astc_ids)
    assert narm_only["best"] == {"program": "narm", "benefit": "member_admission",
                                 "discount_percent": None}
    # a site once, whatever the number of programs listing it
    ids = [e["id"] for e in answer["eligible"] + answer["ineligible"]]
    assert len(ids) == len(set(ids)) and both in ids
    assert answer["eligible_count"] == len(answer["eligible"])
    # nearby NARM sites (no program radius) are eligible; ASTC's within 90 miles are not
    near = [e for e in answer["eligible"] if e["home_distance_miles"] < 90]
    assert near and all(e["best"]["program"] == "narm" for e in near)
    only_narm = planner.member_plan(real_lists, chabot,
                                    filters=planner.Filters(program="narm"))
    assert all(any(p["program"] == "narm" for p in e["programs"])
               for e in only_narm["eligible"] + only_narm["ineligible"])
    with pytest.raises(admission.CheckInputError, match="not one of your home's programs"):
        planner.member_plan(real_lists, chabot, filters=planner.Filters(program="aza"))
    one = planner.member_plan(real_lists, chabot, program="astc")
    assert one["programs"] == ["astc"] and "best" not in one["eligible"][0]


def test_the_planner_page_shows_each_site_s_best_program_and_filters(real_lists, kiosk_client):
    chabot = "chabot-space-science-center-oakland"
    page = kiosk_client.get(f"/plan?home={chabot}&limit=400").get_data(as_text=True)
    assert 'data-program="narm"' in page and 'data-program="astc"' in page
    assert '<select id="program" name="program">' in page
    narm = kiosk_client.get(f"/plan?home={chabot}&program=narm&limit=400").get_data(as_text=True)
    assert 'data-program="narm"' in narm
    api = kiosk_client.get(f"/api/v1/plan?home={chabot}&program=narm").get_json()
    assert api["filters"]["program"] == "narm" and api["programs"] == ["astc", "narm"]


def test_a_program_added_through_the_cli_decides_at_its_own_radius(db, cli, tmp_path):
    """A new profile is data: `programs add` with a 60-mile rule, a list imported for it,
    then checks at 59.99 and 60.01 miles (points by geographiclib's Direct)."""
    added = json.loads(cli("programs", "add", "garden60", "--name", "Garden Network",
                           "--radius-miles", "60", "--json").output)
    assert (added["id"], added["distance_rule"], added["radius_miles"]) == ("garden60", "home",
                                                                            60.0)
    rows = [("garden-centre", ORIGIN), ("garden-near", point_at(ORIGIN, 59.99)),
            ("garden-far", point_at(ORIGIN, 60.01, 200))]
    path = tmp_path / "gardens.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "name", "city", "region", "country", "latitude", "longitude"])
        for ident, (lat, lon) in rows:
            writer.writerow([ident, ident.replace("-", " ").title(), "Oakland", "CA", "US",
                             f"{lat:.9f}", f"{lon:.9f}"])
    cli("import", str(path), "--program", "garden60", "--json")
    for home, admit in (("garden-near", False), ("garden-far", True)):
        shown = json.loads(cli("check", "--visit", "garden-centre", "--home", home,
                               "--program", "garden60", "--json").output)
        assert shown["admit"] is admit, home
        assert shown["program"] == "garden60" and shown["radius_miles"] == 60.0
        assert ("HOME_WITHIN_RADIUS" in shown["reasons"]) is not admit
    listed = json.loads(cli("programs", "--json").output)["programs"]
    assert any(p["id"] == "garden60" and p["radius_miles"] == 60 for p in listed)


def test_the_programs_api_lists_the_programs(real_lists, kiosk_client):
    body = kiosk_client.get("/api/v1/programs").get_json()
    by_id = {p["id"]: p for p in body["programs"]}
    assert list(by_id)[:3] == ["astc", "narm", "aza"]
    assert by_id["narm"]["distance_rule"] == "per_site" and by_id["narm"]["list_version"]
    assert by_id["acm"]["discount_percent"] == 50 and by_id["acm"]["list_version"] is None


# --------------------------------------------------------------------------- the card's programs

EXPIRES = date(2027, 6, 30)


def _card(db, home: str, programs: list[str] | None) -> str:
    from passport import cards, keys

    try:
        keys.signing_key(db, home)
    except keys.KeyStoreError:
        keys.create_key(db, home)
    return cards.issue(db, home, f"M-{len(programs or [])}", ["Ada Lovelace"], EXPIRES,
                       programs=programs)


def test_a_card_s_programs_limit_the_programs_decided(db):
    """A version 2 card is decided under its programs only; a version 1 card under ASTC
    only (here ASTC's free admission would otherwise beat NARM's member admission)."""
    _two_programs(db, 120.0)
    narm_only = admission.check(db, "both-site", card=_card(db, "home-center", ["narm"]),
                                on=ON).to_json()
    assert narm_only["program"] == "narm" and narm_only["benefit"] == "member_admission"
    assert [p["program"] for p in narm_only["programs"]] == ["narm"]
    v1 = admission.check(db, "both-site", card=_card(db, "home-center", None), on=ON)
    assert [p["program"] for p in v1.to_json()["programs"]] == ["astc"]
    both = admission.check(db, "both-site", card=_card(db, "home-center", ["astc", "narm"]),
                           on=ON).to_json()
    assert [p["program"] for p in both["programs"]] == ["astc", "narm"]


def test_a_card_naming_no_listed_program_is_never_decided_under_another(db):
    """A NARM-only card where only ASTC has a list, or asked under ASTC, is denied: its
    membership does not qualify for ASTC's free admission. So is a version 1 card under
    NARM."""
    publish(db, "astc", [site("home-center", ORIGIN),
                         site("far-site", point_at(ORIGIN, 200, 90))])
    narm_card = _card(db, "home-center", ["narm"])
    for program in (None, "astc"):
        decision = admission.check(db, "far-site", card=narm_card, on=ON, program=program)
        assert not decision.admit and decision.reasons == ["PROGRAM_NOT_ON_CARD"], program
        assert decision.benefit is None and decision.covered == 0
    v1 = _card(db, "home-center", None)
    assert admission.check(db, "far-site", card=v1, on=ON).admit
    publish(db, "narm", [site("home-center", ORIGIN),
                         site("far-site", point_at(ORIGIN, 200, 90))])
    under_narm = admission.check(db, "far-site", card=v1, on=ON, program="narm")
    assert under_narm.reasons == ["PROGRAM_NOT_ON_CARD"]


def test_a_card_s_home_is_found_through_the_crosswalk_on_its_program_s_list(db):
    """The card's home id is its ASTC entry; a NARM-only card finds the NARM entry through
    the confirmed link, and is decided there."""
    from passport import crosswalk

    far = point_at(ORIGIN, 120, 90)
    publish(db, "astc", [site("home-center", ORIGIN), site("both-site", far)])
    publish(db, "narm", [site("home-centre-of-science", ORIGIN), site("both-site", far)])
    crosswalk.confirm(db, crosswalk.parse_entry("astc:home-center"),
                      crosswalk.parse_entry("narm:home-centre-of-science"), actor="admin1")
    decision = admission.check(db, "both-site", card=_card(db, "home-center", ["narm"]),
                               on=ON)
    assert decision.admit and decision.program == "narm"
    assert decision.home == "home-centre-of-science"


def test_crosswalk_links_chain_across_programs():
    """ASTC = NARM and NARM = AZA confirmed (never ASTC = AZA): the AZA entry is found."""

    class Active:
        def __init__(self, name, ids):
            self.profile = rules.Profile(name, name, 0.0, False, {"group": (2, 4)})
            self.by_id = dict.fromkeys(ids, {})

    class Links:
        pairs = {("astc", "a", "narm"): "n", ("narm", "n", "astc"): "a",
                 ("narm", "n", "aza"): "z", ("aza", "z", "narm"): "n"}

        def counterpart(self, source, institution_id, target, on_target):
            found = self.pairs.get((source, institution_id, target))
            return found if found in on_target else None

    actives = [Active("astc", ["a"]), Active("narm", ["n"]), Active("aza", ["z"])]
    assert across.entries(actives, Links(), "a") == {"astc": "a", "narm": "n", "aza": "z"}
    assert across.entries(actives, Links(), "z") == {"narm": "n", "aza": "z", "astc": "a"}


# --------------------------------------------------------------------------- the planner's merge

def test_the_planner_lists_a_site_of_two_later_programs_once(db):
    """A zoo on the NARM and the AZA list (not ASTC's) is one site, AZA's free admission
    its best benefit."""
    from passport import planner

    zoo = point_at(ORIGIN, 30, 90)
    publish(db, "astc", [site("home-center", ORIGIN),
                         site("astc-far", point_at(ORIGIN, 200, 10))])
    publish(db, "narm", [site("home-center", ORIGIN), site("city-zoo", zoo)])
    publish(db, "aza", [site("home-center", ORIGIN, benefit_tier="100%"),
                        site("city-zoo", zoo, benefit_tier="100%")])
    answer = planner.member_plan(db, "home-center")
    assert answer["programs"] == ["astc", "narm", "aza"]
    zoos = [e for e in answer["eligible"] + answer["ineligible"] if e["id"] == "city-zoo"]
    assert len(zoos) == 1
    assert [p["program"] for p in zoos[0]["programs"]] == ["aza", "narm"]
    assert zoos[0]["best"]["program"] == "aza"
    assert answer["eligible_count"] == 2  # astc-far and the zoo


def test_the_planner_keeps_apart_what_the_crosswalk_keeps_apart(db):
    """ASTC's ``museum-x`` is confirmed as NARM's ``museum-x-narm``; NARM's own
    ``museum-x`` (the same id) is another institution: each program once per site."""
    from passport import crosswalk, planner

    there = point_at(ORIGIN, 150, 90)
    publish(db, "astc", [site("home-center", ORIGIN), site("museum-x", there)])
    publish(db, "narm", [site("home-center", ORIGIN), site("museum-x-narm", there),
                         site("museum-x", point_at(ORIGIN, 300, 200))])
    crosswalk.confirm(db, crosswalk.parse_entry("astc:museum-x"),
                      crosswalk.parse_entry("narm:museum-x-narm"), actor="admin1")
    answer = planner.member_plan(db, "home-center")
    entries = answer["eligible"] + answer["ineligible"]
    for entry in entries:
        programs = [p["program"] for p in entry["programs"]]
        assert len(programs) == len(set(programs)), entry["id"]
    assert sorted([p["program"] for p in e["programs"]] for e in entries) == [
        ["astc", "narm"], ["narm"]]


@pytest.mark.parametrize(("miles", "shown"), [(40.0, "NARM: member admission"),
                                                (120.0, "ASTC: free general admission")])
def test_the_planner_page_names_only_the_other_programs_that_admit(db, kiosk_client, miles,
                                                                    shown):
    """Within ASTC's 90 miles NARM admits and ASTC does not: "also: ASTC" would tell the
    member ASTC admits there too. Beyond, both admit: "also: NARM"."""
    _two_programs(db, miles)
    page = kiosk_client.get("/plan?home=home-center&limit=400").get_data(as_text=True)
    line = page[page.index('data-program', page.index("Both Site")):]
    line = line[:line.index("</p>")]
    assert shown in line.replace("member admission (the member price, often free)",
                                 "member admission")
    assert ("also: NARM" in line) is (miles > 90) and "also: ASTC" not in line


def test_eligible_reads_what_the_program_gives(db):
    """ELIGIBLE's text says free general admission only where that is the benefit."""
    publish(db, "aza", [site("zoo", ORIGIN, benefit_tier="50%"),
                        site("home-zoo", point_at(ORIGIN, 5), benefit_tier="100%")])
    publish(db, "narm", [site("museum", ORIGIN), site("home-museum", point_at(ORIGIN, 5))])
    aza = admission.check(db, "zoo", home="home-zoo", on=ON, program="aza").to_json()
    assert aza["text"]["ELIGIBLE"].startswith("Eligible: 50 % off admission under AZA")
    narm = admission.check(db, "museum", home="home-museum", on=ON, program="narm").to_json()
    assert "member admission" in narm["text"]["ELIGIBLE"]
    assert "free general admission" not in narm["text"]["ELIGIBLE"]


def test_eligible_takes_the_program(real_lists, cli):
    chabot = "chabot-space-science-center-oakland"
    narm = json.loads(cli("eligible", "--home", chabot, "--program", "narm", "--json").output)
    astc = json.loads(cli("eligible", "--home", chabot, "--json").output)
    assert narm["list_version"] != astc["list_version"]
    assert narm["eligible_count"] > astc["eligible_count"]  # no program radius, 1,543 sites
    cli("eligible", "--home", chabot, "--program", "nope", error="no program profile named")
