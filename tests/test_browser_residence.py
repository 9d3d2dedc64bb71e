"""The desk in a real browser (Debian's chromium through Playwright) at Markham Museum: a
Science North member's Canadian card whose postal code cannot be placed shows the code and
asks for the town; the town picked from the typeahead decides again. The printed-card flow
takes a Canadian town the same way.

Skipped on a developer machine without Chromium, failed in CI (as tests/test_browser_desk.py).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from browser import PASSWORD, desk_page, kiosk_server, scan
from browser import screenshot as save_screenshot

from passport import auth, cards, institutions, keys

MARKHAM_MUSEUM = "markham-museum-markham"
SCIENCE_NORTH = "science-north-sudbury"
SERVER_NOW = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)  # noon in Markham


def _fill_store(db) -> dict:
    institutions.ensure_default_list(db)
    auth.create_user(db, "desk1", PASSWORD, role="desk")
    keys.create_key(db, SCIENCE_NORTH)
    # lives by Markham in a rural postal area: too wide to place
    return {"rural": cards.issue(db, SCIENCE_NORTH, "SN-2", ["Ada Lovelace"],
                                 date(2099, 6, 30), postal_code="L0H 1J0", country="CA")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The kiosk at Markham Museum, served on 127.0.0.1:<free port>."""
    with kiosk_server(tmp_path_factory.mktemp("browser-residence"), MARKHAM_MUSEUM,
                      SERVER_NOW, _fill_store) as served:
        yield served


@pytest.fixture
def desk(browser, server):
    # the first town lookup may wait for the gazetteer
    with desk_page(browser, server["url"], timeout_ms=15_000) as page:
        yield page


def test_canadian_card_shows_its_postal_code_and_asks_for_the_town(desk, server, tmp_path):
    scan(desk, server["rural"])
    desk.wait_for_selector("#verdict.admit")
    # the postal code the card carries, and why it could not be placed
    residence = desk.inner_text("#r-residence")
    assert "L0H 1J0, CA" in residence and "not located" in residence
    assert "rural postal area" in residence
    assert desk.locator("#r-checks li[data-code='CHECK_RESIDENCE']").count() == 1
    assert desk.is_visible("#residence-form")

    desk.click("#residence-town")
    desk.keyboard.type("Markh")
    first = desk.locator("#residence-town-list li[role=option]").first
    first.wait_for()
    assert first.inner_text() == "Markham, ON, CA"  # the card's country first
    save_screenshot(desk, "desk-residence-ask.png", tmp_path)
    first.click()

    desk.wait_for_selector("#verdict.deny")
    assert "home address" in desk.inner_text("#r-reasons")  # RESIDENCE_WITHIN_RADIUS
    residence = desk.inner_text("#r-residence")
    assert "Markham, ON, CA" in residence and "miles away" in residence
    assert "the card says L0H 1J0, CA" in residence
    assert not desk.is_visible("#residence-form")
    save_screenshot(desk, "desk-residence-deny.png", tmp_path)

    # the re-decided result is the one logged
    desk.click("#confirm")
    desk.wait_for_selector("#logged:has-text('denied')")
    row = server["db"].execute("SELECT admit, reasons FROM checkins ORDER BY id DESC"
                               " LIMIT 1").fetchone()
    assert row[0] == 0 and json.loads(row[1]) == ["RESIDENCE_WITHIN_RADIUS"]


def test_printed_card_with_a_canadian_town(desk):
    desk.click("#manual-toggle")
    desk.wait_for_function("document.activeElement.id === 'manual-home'")
    desk.keyboard.type("science north")
    desk.wait_for_selector("#manual-home-list li[role=option]")
    desk.keyboard.press("Enter")
    assert desk.input_value("#manual-home-id") == SCIENCE_NORTH
    desk.fill("#manual-expires", "2099-12-31")
    desk.select_option("#manual-country", "CA")
    desk.click("#manual-postal")
    desk.keyboard.type("montreal")
    option = desk.locator("#manual-postal-list li[role=option]").first
    option.wait_for()
    assert option.inner_text() == "Montréal, QC, CA"
    desk.keyboard.press("Enter")  # picks the highlighted town
    assert desk.input_value("#manual-postal") == "Montréal, QC, CA"
    desk.click("#manual-form button[type=submit]")
    desk.wait_for_selector("#verdict.admit")
    residence = desk.inner_text("#r-residence")
    assert "Montréal, QC, CA" in residence and "miles away" in residence
    assert not desk.is_visible("#residence-form")

    # a Canadian postal code in the same field, placed by its area
    desk.fill("#manual-postal", "L3P 3J3")
    desk.click("#manual-form button[type=submit]")
    desk.wait_for_selector("#verdict.deny")
    assert "L3P 3J3, CA (Markham Central, ON)" in desk.inner_text("#r-residence")
