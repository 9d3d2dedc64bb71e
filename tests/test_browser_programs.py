"""The desk across programs in a real browser: the best benefit large under the verdict,
every other program's decision on a line below, NARM's city-level distances said so."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser import PASSWORD, desk_page, kiosk_server, screenshot
from geographiclib.geodesic import Geodesic

from passport import auth, institutions, store

DATA = Path(__file__).resolve().parents[1] / "data"
CHABOT = "chabot-space-science-center-oakland"
SITE = "valley-science-center-tracy"  # on both lists, 40 miles from Chabot (added below)
SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)


def _fill_store(db) -> dict:
    institutions.import_file(db, DATA / "institutions.csv")
    institutions.import_file(db, DATA / "narm_2026.csv", profile="narm")
    chabot = institutions.load_active(db).by_id[CHABOT]
    far = Geodesic.WGS84.Direct(chabot["latitude"], chabot["longitude"], 100, 40 * 1609.344)
    row = {"id": SITE, "name": "Valley Science Center", "city": "Tracy", "region": "CA",
           "country": "US", "latitude": far["lat2"], "longitude": far["lon2"],
           "timezone": "America/Los_Angeles", "proof_of_residence": 0,
           "reservation_required": 0, "store_discount_only": 0}
    for program in ("astc", "narm"):
        rows = institutions.load_active(db, program).records
        store.publish_list(db, profile=program, records=[*rows, row], source_name="test",
                           source_sha256=None, actor="test")
    auth.create_user(db, "desk1", PASSWORD, role="desk")
    return {}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with kiosk_server(tmp_path_factory.mktemp("programs"), SITE, SERVER_NOW,
                      _fill_store) as served:
        yield served


def test_the_desk_shows_the_best_program_large_and_the_others_below(browser, server,
                                                                     tmp_path):
    with desk_page(browser, server["url"]) as desk:
        desk.click("#manual-toggle")
        desk.wait_for_function("document.activeElement.id === 'manual-home'")
        desk.keyboard.type("chabot space")
        desk.wait_for_selector("#manual-home-list li[role=option]")
        desk.keyboard.press("Enter")
        assert desk.input_value("#manual-home-id") == CHABOT
        desk.fill("#manual-expires", "2099-12-31")
        desk.click("#manual-form button[type=submit]")
        desk.wait_for_selector("#verdict.admit")
        benefit = desk.locator("#r-benefit")
        assert benefit.is_visible() and "member admission" in benefit.inner_text()
        assert "NARM" in benefit.inner_text()
        others = desk.locator("#r-programs li")
        assert others.count() == 1
        assert others.first.get_attribute("data-program") == "astc"
        assert "DENY" in others.first.inner_text()
        assert "within the program distance" in others.first.inner_text()
        assert "city's centre" in desk.inner_text("#r-home")
        # the staff check names what a NARM card must show
        assert "NARM sticker" in desk.inner_text("#r-checks")
        screenshot(desk, "desk-programs.png", tmp_path)
        desk.click("#confirm")
        desk.wait_for_selector("#logged:has-text('Logged #')")
    row = list(server["db"].query("SELECT * FROM checkins ORDER BY id DESC LIMIT 1"))[0]
    assert row["program"] == "narm" and row["admit"] == 1
    assert json.loads(row["reasons"])[0] == "ELIGIBLE"
