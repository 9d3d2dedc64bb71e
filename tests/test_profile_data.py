"""The program profile row is the only home of the radius and the party rule: change it in
the store and every decision, distance text, card sentence and page follows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from passport import admission, auth, institutions, keys, rules

NEW_RADIUS_MILES = 50.0


@pytest.fixture
def listed(db, shipped_csv):
    institutions.import_file(db, shipped_csv)
    return db


def _pair_between(active, low_miles: float, high_miles: float) -> tuple[str, str, float]:
    """Two listed institutions ``low < distance < high`` miles apart (found, not assumed)."""
    ids = active.table.ids
    for home in ids:
        miles = active.table.distances_from(*_point(active, home))
        hits = np.flatnonzero((miles > low_miles) & (miles < high_miles))
        if hits.size:
            visit = ids[int(hits[0])]
            return home, visit, float(miles[hits[0]])
    raise AssertionError(f"no pair {low_miles}-{high_miles} miles apart on the list")


def _point(active, institution_id: str) -> tuple[float, float]:
    row = active.by_id[institution_id]
    return row["latitude"], row["longitude"]


def _set_profile(db, **fields) -> None:
    db["profiles"].update(rules.DEFAULT_PROFILE_NAME, fields)


def test_a_new_radius_changes_decisions_text_cards_and_pages(listed, cli, tmp_path,
                                                             kiosk_client):
    home, visit, miles = _pair_between(institutions.load_active(listed), 60.0, 85.0)
    before = admission.check(listed, visit, home=home)
    assert not before.admit and rules.HOME_WITHIN_RADIUS in before.reasons
    assert before.radius_miles == 90.0

    _set_profile(listed, radius_miles=NEW_RADIUS_MILES)

    after = admission.check(listed, visit, home=home)
    assert after.admit and after.reasons == [rules.ELIGIBLE]
    assert after.radius_miles == NEW_RADIUS_MILES
    assert after.home_distance_miles == pytest.approx(miles, abs=1e-6)
    # the engine's precomputed matrix was rebuilt for the new radius, not only the profile
    assert institutions.load_active(listed).table.radius_miles == NEW_RADIUS_MILES

    shown = json.loads(cli("check", "--visit", visit, "--home", home, "--json").output)
    assert shown["admit"] is True and shown["radius_miles"] == NEW_RADIUS_MILES
    assert rules.format_miles(50.004, after.radius_miles) == "more than 50"

    sentence = rules.benefit_sentence(institutions.get_profile(listed))
    assert "more than 50 miles" in sentence and "90" not in sentence
    keys.create_key(listed, home)
    page = tmp_path / "card.html"
    cli("card", "issue", "--institution", home, "--member", "M-1", "--names", "Ada",
        "--expires", "2099-01-01", "--out", page)
    assert "more than 50 miles" in page.read_text(encoding="utf-8")

    member_page = kiosk_client.get(f"/?home={home}&limit=4000")
    assert member_page.status_code == 200
    eligible_part = member_page.get_data(as_text=True).split("too close or not covered", 1)[0]
    assert active_name(listed, visit) in eligible_part

    _, token = auth.create_token(listed, "t")
    api = kiosk_client.post("/api/v1/check", json={"visit": visit, "home": home},
                            headers={"Authorization": f"Bearer {token}"})
    assert api.json["admit"] is True and api.json["radius_miles"] == NEW_RADIUS_MILES


def active_name(db, institution_id: str) -> str:
    from markupsafe import escape

    return str(escape(institutions.load_active(db).by_id[institution_id]["name"]))


def test_the_party_rule_comes_from_the_profile(listed, kiosk_client, kiosk_login):
    home, visit, _ = _pair_between(institutions.load_active(listed), 200.0, 2000.0)
    party = rules.Party(adults=2, children=4)
    assert admission.check(listed, visit, home=home, party=party).covered == 6

    _set_profile(listed, group_max_adults=1, group_max_children=3)

    decision = admission.check(listed, visit, home=home, party=party)
    assert decision.covered == 4 and rules.PARTY_TOO_LARGE in decision.reasons
    assert institutions.get_profile(listed).group_party_size == 4
    kiosk_client.application.config["SITE"] = visit
    kiosk_login(kiosk_client)
    desk = kiosk_client.get("/desk").get_data(as_text=True)
    assert "up to 1 adult and 3 children" in desk
