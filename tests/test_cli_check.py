"""`passport check` and `passport eligible` end to end on a real SQLite file."""

from __future__ import annotations

import json

import pytest

SF = "exploratorium-san-francisco"
ANCHORAGE = "anchorage-museum-anchorage"
OAKLAND = "chabot-space-science-center-oakland"


@pytest.fixture
def run(cli, shipped_csv):
    """The CLI on a store with the shipped list published."""
    cli("import", shipped_csv)
    return cli


def test_check_json_has_the_design_keys(run):
    out = json.loads(run("check", "--visit", SF, "--home", ANCHORAGE, "--residence",
                         "61.2,-149.9", "--on", "2026-07-04", "--json").stdout)
    assert {"admit", "reasons", "home_distance_miles", "residence_distance_miles",
            "list_version"} <= set(out)
    assert out["admit"] and out["reasons"] == ["ELIGIBLE"] and out["list_version"] == 1
    assert out["on"] == "2026-07-04" and out["home_distance_miles"] > 1900


def test_deny_is_a_decision_not_an_error(run):
    result = run("check", "--visit", SF, "--home", OAKLAND, "--json")
    out = json.loads(result.stdout)
    assert not out["admit"] and out["reasons"] == ["HOME_WITHIN_RADIUS"]
    text = run("check", "--visit", SF, "--home", OAKLAND).stdout
    assert text.startswith("DENY") and "HOME_WITHIN_RADIUS" in text


def test_check_party_postal_and_expiry(run):
    out = json.loads(run("check", "--visit", SF, "--home", ANCHORAGE, "--postal", "99501",
                         "--country", "US", "--adults", "2", "--children", "5", "--on",
                         "2026-07-04", "--expires", "2026-12-31", "--json").stdout)
    assert out["admit"] and out["covered"] == 6 and out["party_size"] == 7
    assert out["reasons"] == ["ELIGIBLE", "PARTY_TOO_LARGE"]
    absent = json.loads(run("check", "--visit", SF, "--home", ANCHORAGE, "--no-named-member",
                            "--json").stdout)
    assert absent["reasons"] == ["NAMED_MEMBER_ABSENT"]
    expired = json.loads(run("check", "--visit", SF, "--home", ANCHORAGE, "--on",
                             "2026-07-04", "--expires", "2026-07-03", "--json").stdout)
    assert expired["reasons"] == ["CARD_EXPIRED"]


@pytest.mark.parametrize("args, fragment", [
    (["--visit", SF], "exactly one of home, card or card image"),
    (["--visit", "a b", "--home", ANCHORAGE], "not a valid institution id"),
    (["--visit", SF, "--home", ANCHORAGE, "--on", "tomorrow"], "not a date"),
    (["--visit", SF, "--home", ANCHORAGE, "--residence", "north"], "must be LAT,LON"),
    (["--visit", SF, "--home", ANCHORAGE, "--postal", "K1G 5A", "--country", "CA"],
     "'K1G 5A' is not a Canadian postal code"),
    (["--visit", SF, "--home", ANCHORAGE, "--residence-place", "Xyzzyville, ON"],
     "unknown place 'Xyzzyville, ON'"),
])
def test_check_bad_input_is_one_line(run, args, fragment):
    run("check", *args, error=fragment)


def test_check_card_image_that_holds_no_qr(run, tmp_path):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(blank)
    result = run("check", "--visit", SF, "--card-image", blank, ok=False)
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1


def test_eligible(run):
    out = json.loads(run("eligible", "--home", SF, "--postal", "94110", "--country", "US",
                         "--limit", "5", "--json").stdout)
    assert len(out["eligible"]) == 5 and out["list_version"] == 1
    assert {"id", "name", "city", "distance_miles"} <= set(out["eligible"][0])
    assert all(e["distance_miles"] > 90 for e in out["eligible"])
    assert OAKLAND in {e["id"] for e in out["ineligible"]}
    near = json.loads(run("eligible", "--home", SF, "--near", "34.05,-118.24", "--limit", "2",
                          "--json").stdout)
    assert near["eligible"][0]["near_miles"] < 30
    text = run("eligible", "--home", SF, "--limit", "2").stdout
    assert "eligible sites for members of Exploratorium" in text
    run("eligible", "--home", "nowhere", error="not on the active list")
