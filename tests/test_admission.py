"""check() and eligible(): input handling, site-local dates, cards, and agreement with decide()."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime

import pytest

from passport import admission, cards, institutions, keys, rules

SF = "exploratorium-san-francisco"
ANCHORAGE = "anchorage-museum-anchorage"
OAKLAND = "chabot-space-science-center-oakland"


@pytest.fixture
def listed(db, shipped_csv):
    institutions.import_file(db, shipped_csv)
    return db


def test_manual_check_with_postal_residence(listed):
    d = admission.check(listed, SF, home=ANCHORAGE, postal="94110", country="US",
                     on="2026-07-04", expires="2026-12-31")
    assert not d.admit and d.reasons == ["RESIDENCE_WITHIN_RADIUS"]
    assert d.residence_distance_miles < 10 and d.home_distance_miles > 1900
    assert d.on == date(2026, 7, 4) and d.list_version == 1
    ok = admission.check(listed, SF, home=ANCHORAGE, residence="61.2,-149.9", on="2026-07-04")
    assert ok.admit and ok.reasons == ["ELIGIBLE"]
    assert ok.staff_checks[0] == rules.CHECK_MEMBER_CARD


def test_unknown_ids_are_reasons_not_errors(listed):
    d = admission.check(listed, "no-such-site", home="no-such-home")
    assert d.reasons == ["VISIT_NOT_PARTICIPATING", "HOME_NOT_PARTICIPATING"]


def test_expired_printed_card(listed):
    d = admission.check(listed, SF, home=ANCHORAGE, on="2026-07-04", expires="2026-07-03")
    assert d.reasons == ["CARD_EXPIRED"]
    assert admission.check(listed, SF, home=ANCHORAGE, on="2026-07-04",
                        expires="2026-07-04").admit


def test_default_date_is_today_at_the_visited_site(listed):
    anchorage = zoneinfo.ZoneInfo("America/Anchorage")
    before = datetime.now(anchorage).date()
    d = admission.check(listed, ANCHORAGE, home=SF)
    # Between the dates read just before and after: holds at any time of day, midnight too.
    assert before <= d.on <= datetime.now(anchorage).date()


@pytest.mark.parametrize("kwargs, message", [
    (dict(visit="bad id", home=SF), "not a valid institution id"),
    (dict(visit=SF), "exactly one of home, card or card image"),
    (dict(visit=SF, home=ANCHORAGE, card="PYZ1..."), "exactly one"),
    (dict(visit=SF, home="a b"), "not a valid institution id"),
    (dict(visit=SF, home=ANCHORAGE, on="July 4"), "not a date"),
    (dict(visit=SF, home=ANCHORAGE, on="2026-02-30"), "not a date"),
    (dict(visit=SF, home=ANCHORAGE, expires="soon"), "not a date"),
    (dict(visit=SF, card="x", expires="2026-01-01"), "only for the manual flow"),
    (dict(visit=SF, home=ANCHORAGE, residence="95,10"), "residence lat must be between -90 and 90"),
    (dict(visit=SF, home=ANCHORAGE, residence="north"), "must be LAT,LON"),
    (dict(visit=SF, home=ANCHORAGE, residence="1,2", postal="94110", country="US"),
     "not both"),
    (dict(visit=SF, home=ANCHORAGE, postal="94110"), "needs its country"),
    (dict(visit=SF, home=ANCHORAGE, country="US"), "without a postal code"),
    (dict(visit=SF, home=ANCHORAGE, postal="K1G 5A", country="CA"),
     "'K1G 5A' is not a Canadian postal code"),
    (dict(visit=SF, home=ANCHORAGE, postal="94110", country="XX"), "not a two-letter ISO"),
    (dict(visit=SF, home=ANCHORAGE, residence={"place": "Xyzzyville"}), "unknown place"),
    (dict(visit=SF, home=ANCHORAGE, residence={"place": "Markham", "lat": 1, "lon": 2}),
     "not both"),
    (dict(visit=SF, home=ANCHORAGE, residence_place="Markham", postal="94110",
          country="US"), "not both"),
    (dict(visit=SF, home=ANCHORAGE, party={"adults": 0, "children": 0}), "at least one"),
    (dict(visit=SF, home=ANCHORAGE, party={"pets": 2}), "unknown party field"),
    (dict(visit=SF, home=ANCHORAGE, membership="family"), "membership must be"),
])
def test_bad_input_raises_check_input_error(listed, kwargs, message):
    with pytest.raises(admission.CheckInputError, match=message):
        admission.check(listed, **kwargs)


def test_party_from_mapping(listed):
    d = admission.check(listed, SF, home=ANCHORAGE, party={"adults": 3, "children": 1})
    assert d.admit and d.covered == 3 and "PARTY_TOO_LARGE" in d.reasons


def test_card_supplies_home_expiry_residence_and_membership(listed):
    keys.create_key(listed, ANCHORAGE)
    payload = cards.issue(listed, ANCHORAGE, "M-1", ["Ada Lovelace"], date(2027, 1, 31),
                          party_size=1, postal_code="94110", country="US")
    d = admission.check(listed, SF, card=payload, on="2026-07-04",
                     party={"adults": 2})
    assert d.reasons == ["RESIDENCE_WITHIN_RADIUS"]  # residence from the card's ZIP
    assert d.home == ANCHORAGE and d.card["valid"] and d.card["member_id"] == "M-1"
    far = admission.check(listed, SF, card=payload, residence="61.2,-149.9",
                       party={"adults": 2}, on="2026-07-04")
    assert far.admit and far.covered == 1 and "PARTY_TOO_LARGE" in far.reasons
    assert far.staff_checks[0] == rules.CHECK_PHOTO_ID
    late = admission.check(listed, SF, card=payload, residence="61.2,-149.9", on="2027-02-01")
    assert late.reasons == ["CARD_EXPIRED"]
    junk = admission.check(listed, SF, card="garbage")
    assert junk.reasons == ["CARD_MALFORMED"] and junk.home is None


def test_eligible_agrees_with_check_everywhere(listed):
    residence = (37.7599, -122.4148)
    result = admission.eligible(listed, SF, residence=residence)
    admitted = {e["id"] for e in result["eligible"]}
    denied = {e["id"] for e in result["ineligible"]}
    active = institutions.load_active(listed)
    assert admitted | denied == set(active.table.ids) - {SF} and not admitted & denied
    for site_id in active.table.ids:
        if site_id != SF:
            d = admission.check(listed, site_id, home=SF, residence=residence)
            assert d.admit is (site_id in admitted), site_id
    distances = [e["distance_miles"] for e in result["eligible"]]
    assert distances == sorted(distances) and distances[0] > 90
    assert OAKLAND in denied
    assert result["eligible_count"] == len(admitted)
    assert set(active.table.eligible_from(SF, residence)) == admitted


def test_eligible_near_and_limit(listed):
    result = admission.eligible(listed, SF, near="34.05,-118.24", limit=3)
    assert len(result["eligible"]) == 3 and result["eligible_count"] > 300
    near = [e["near_miles"] for e in result["eligible"]]
    assert near == sorted(near) and near[0] < 30
    assert result["near"] == {"lat": 34.05, "lon": -118.24}


def test_eligible_errors(listed):
    with pytest.raises(admission.UnknownInstitution, match="not on the active list"):
        admission.eligible(listed, "nowhere-museum")
    with pytest.raises(admission.CheckInputError, match="limit"):
        admission.eligible(listed, SF, limit=-1)
    with pytest.raises(admission.CheckInputError):
        admission.eligible(listed, SF, near="1,2,3")


def test_no_active_list(db):
    with pytest.raises(institutions.NoActiveList):
        admission.check(db, SF, home=ANCHORAGE)
