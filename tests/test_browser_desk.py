"""The desk page in a real browser (Debian's chromium through Playwright, tests/browser.py)
against the real server on a free loopback port: scan like a keyboard-wedge scanner, admit,
log, deny, undo, the manual flow for printed cards; and when the page tests run at all.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from browser import (
    PASSWORD,
    PHONE,
    chromium_problem,
    desk_page,
    kiosk_server,
    require_browser,
    scan,
    screenshot,
    scroll_width,
    sign_in,
    wide_elements,
)

from passport import auth, cards, institutions, keys

EXPLORATORIUM = "exploratorium-san-francisco"
OMSI = "oregon-museum-of-science-and-industry-portland"
CHABOT = "chabot-space-science-center-oakland"
# The server's CLOCK: one fixed instant (noon in San Francisco), so today's log never
# straddles the site's midnight and every entry stays within the undo window.
SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)


def _fill_store(db) -> dict:
    institutions.ensure_default_list(db)
    auth.create_user(db, "desk1", PASSWORD, role="desk")
    auth.create_user(db, "admin1", PASSWORD, role="admin")
    keys.create_key(db, OMSI)
    keys.create_key(db, CHABOT)
    return {
        "far": cards.issue(db, OMSI, "M-1042", ["Ada Lovelace", "Charles Babbage"],
                           date(2099, 6, 30), party_size=6),
        "near": cards.issue(db, CHABOT, "C-7", ["Grace Hopper"], date(2099, 6, 30)),
        "single": cards.issue(db, OMSI, "M-7", ["Alan Turing"], date(2099, 6, 30)),
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with kiosk_server(tmp_path_factory.mktemp("browser"), EXPLORATORIUM, SERVER_NOW,
                      _fill_store) as served:
        yield served


@pytest.fixture
def desk(browser, server):
    """A signed-in desk page."""
    with desk_page(browser, server["url"]) as page:
        yield page


def log_rows(db) -> list[dict]:
    return list(db.query("SELECT * FROM checkins ORDER BY id"))


def test_scan_admit_confirm_and_find_in_log(desk, server, tmp_path):
    before = len(log_rows(server["db"]))
    scan(desk, server["far"])
    verdict = desk.locator("#verdict")
    verdict.wait_for(state="visible")
    assert "ADMIT" in verdict.inner_text() and "admit" in verdict.get_attribute("class")
    assert desk.inner_text("#r-names") == "Ada Lovelace, Charles Babbage"
    assert "Oregon Museum of Science and Industry" in desk.inner_text("#r-home")
    assert "miles away" in desk.inner_text("#r-home")
    assert "free general admission" in desk.inner_text("#r-reasons")
    assert desk.inner_text("#r-version") == "1"
    # one photo-ID reminder, first of the staff checks, not repeated elsewhere on screen
    assert desk.locator("#r-checks li").first.get_attribute("data-code") == "CHECK_PHOTO_ID"
    assert desk.inner_text("#result").lower().count("photo id") == 1
    assert desk.evaluate("document.activeElement.id") == "scan"  # ready for the next scan

    # keyboard only: "2+5" + Enter sets 2 adults and 5 children and re-decides with that
    # party (a group covers 2 adults + 4 children); Enter on the empty field logs it
    assert desk.inner_text("#r-party") == "Party of 1 (1 adult + 0 children): covers all 1"
    scan(desk, "2+5")
    assert desk.input_value("#party-adults") == "2"
    assert desk.input_value("#party-children") == "5"
    desk.wait_for_selector("#r-party:has-text('covers 6 of 7: the others pay')")
    assert "does not cover the whole party" in desk.inner_text("#r-reasons")
    screenshot(desk, "desk-admit.png", tmp_path)
    desk.keyboard.press("Enter")
    desk.wait_for_selector("#logged:has-text('Logged #')")
    assert "covers 6 of 7" in desk.inner_text("#logged")
    rows = log_rows(server["db"])
    assert len(rows) == before + 1
    row = rows[-1]
    assert (row["admit"], row["party_size"], row["home"], row["staff_user"]) == (
        1, 7, OMSI, "desk1")
    assert json.loads(row["reasons"]) == ["ELIGIBLE", "PARTY_TOO_LARGE"]
    entry = desk.locator(f"#log li[data-id='{row['id']}']")
    entry.wait_for()
    assert "ADMIT" in entry.inner_text() and "Ada Lovelace" in entry.inner_text()
    # pressing Enter again does not log twice: the page sends no second check-in. The key
    # press returns once the page has handled it, so the count is read after any fetch
    # the Enter could have started.
    count_checkin_posts(desk)
    desk.keyboard.press("Enter")
    assert desk.evaluate("window.checkinPosts") == 0
    assert "covers 6 of 7" in desk.inner_text("#logged")
    assert len(log_rows(server["db"])) == before + 1


def test_scan_deny_within_90_miles_then_undo(desk, server, tmp_path):
    scan(desk, server["near"])
    verdict = desk.locator("#verdict")
    verdict.wait_for(state="visible")
    assert "DENY" in verdict.inner_text() and "deny" in verdict.get_attribute("class")
    assert "within the program distance" in desk.inner_text("#r-reasons")
    assert "Chabot" in desk.inner_text("#r-home")
    assert not desk.is_visible("#r-checks-box")  # nothing to check before a denial
    assert "photo id" not in desk.inner_text("#result").lower()
    screenshot(desk, "desk-deny.png", tmp_path)
    desk.click("#confirm")  # a denial can be logged too
    desk.wait_for_selector("#logged:has-text('denied')")
    row = log_rows(server["db"])[-1]
    assert row["admit"] == 0 and "HOME_WITHIN_RADIUS" in row["reasons"]
    desk.locator(f"#log li[data-id='{row['id']}']").wait_for()
    desk.click("#undo")
    desk.wait_for_selector(f"#log li.undone[data-id='{row['id']}']")
    undo = log_rows(server["db"])[-1]
    assert undo["undoes"] == row["id"]


def test_manual_flow_for_printed_card(desk, server, tmp_path):
    desk.click("#manual-toggle")
    desk.wait_for_function("document.activeElement.id === 'manual-home'")
    desk.keyboard.type("oregon museum")
    desk.wait_for_selector("#manual-home-list li[role=option]")
    desk.keyboard.press("Enter")  # picks the highlighted institution
    assert desk.input_value("#manual-home-id") == OMSI
    assert desk.evaluate("document.activeElement.id") == "manual-expires"
    desk.fill("#manual-expires", "2099-12-31")
    desk.fill("#manual-postal", "97214")
    desk.click("#manual-form button[type=submit]")
    verdict = desk.locator("#verdict")
    verdict.wait_for(state="visible")
    assert "ADMIT" in verdict.inner_text()
    assert "printed card" in desk.inner_text("#r-card")
    assert "miles away" in desk.inner_text("#r-residence")
    screenshot(desk, "desk-manual.png", tmp_path)

    # the same visitor living in San Francisco is denied (residence rule)
    desk.fill("#manual-postal", "94111")
    desk.click("#manual-form button[type=submit]")
    desk.wait_for_selector("#verdict.deny")
    assert "home address" in desk.inner_text("#r-reasons")


def test_photo_of_card_decoded_on_server(desk, server, tmp_path):
    from passport import qr

    photo = tmp_path / "card.png"
    photo.write_bytes(qr.qr_png(server["far"]))
    desk.set_input_files("#photo", str(photo))
    desk.wait_for_selector("#verdict.admit")
    assert desk.inner_text("#r-names") == "Ada Lovelace, Charles Babbage"
    assert desk.evaluate("document.activeElement.id") == "scan"


def test_individual_card_party_re_decided_before_logging(desk, server):
    """An individual membership covers its cardholder only: staff enter the party in the
    confirm step, see who pays, and the logged decision is the one with that party."""
    scan(desk, server["single"])
    desk.wait_for_selector("#verdict.admit")
    assert "covers all 1" in desk.inner_text("#r-party")
    desk.fill("#party-children", "2")
    desk.wait_for_selector("#r-party:has-text('covers 1 of 3: the others pay')")
    desk.click("#confirm")
    desk.wait_for_selector("#logged:has-text('Logged #')")
    row = log_rows(server["db"])[-1]
    assert row["party_size"] == 3
    assert json.loads(row["reasons"]) == ["ELIGIBLE", "PARTY_TOO_LARGE"]
    # a bare number + Enter sets the adults
    scan(desk, server["single"])
    desk.wait_for_selector("#r-party:has-text('covers all 1')")
    scan(desk, "3")
    desk.wait_for_selector("#r-party:has-text('3 adults + 0 children): covers 1 of 3')")


def test_desk_distance_text_matches_the_member_pages(desk):
    """static/miles.js follows passport.rules.format_miles (the pages' Jinja filter)."""
    import random

    from passport.rules import format_miles

    rng = random.Random(7)
    values = [90.037, 89.887, 90.0, 89.999, 90.004, 90.0001, 91.2, 532.08, 12.04, 0.25,
              90.125, 90.995, 91.0, 89.0, 88.95]
    values += [rng.uniform(88.5, 91.5) for _ in range(300)] + [rng.uniform(0, 3000)
                                                               for _ in range(100)]
    for radius in (90.0, 60.0):
        shown = desk.evaluate("([values, radius]) => values.map((v) => formatMiles(v, radius))",
                              [values, radius])
        assert shown == [format_miles(v, radius) for v in values]
    assert desk.evaluate("formatMiles(90.004, null)") == format_miles(90.004, None) == "90.0"


def test_no_page_scrolls_sideways_on_a_phone(browser, server, tmp_path):
    """At 390x844 no page is wider than the screen: the desk with a result shown, the
    admin console, the member pages and sign-in."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        url = server["url"]
        checked = {}
        page.goto(f"{url}/login")
        checked["/login"] = (scroll_width(page), wide_elements(page))
        page.goto(f"{url}/?home={OMSI}")  # the member planner
        page.wait_for_selector("#eligible-list")
        page.click("#ineligible summary")
        page.click("#plan-edit > summary")  # the form, folded above a plan
        page.click("#plan-form details summary")  # the filters
        checked["/"] = (scroll_width(page), wide_elements(page))
        page.goto(f"{url}/card?c={server['far']}")
        page.wait_for_selector(".card-qr svg")
        checked["/card"] = (scroll_width(page), wide_elements(page))
        sign_in(page, url, "admin1")
        page.goto(f"{url}/admin")
        checked["/admin"] = (scroll_width(page), wide_elements(page))
        page.goto(f"{url}/desk")
        page.wait_for_function("document.activeElement && document.activeElement.id === 'scan'")
        scan(page, server["far"])
        page.wait_for_selector("#verdict.admit")
        page.wait_for_selector("#r-party:has-text('covers')")
        checked["/desk"] = (scroll_width(page), wide_elements(page))
        screenshot(page, "desk-phone.png", tmp_path)
        assert {path: width for path, (width, _) in checked.items() if width > 390} == {}, \
            {path: wide for path, (width, wide) in checked.items() if width > 390}
    finally:
        context.close()


def test_photo_that_is_not_an_image(desk, tmp_path):
    not_image = tmp_path / "notes.png"
    not_image.write_bytes(b"this is not a picture")
    desk.set_input_files("#photo", str(not_image))
    desk.wait_for_selector("#error:visible")
    assert desk.inner_text("#error") == (
        "That file is not an image we can read; take a photo of the QR code and try again.")
    assert desk.evaluate("document.activeElement.id") == "scan"


def count_checkin_posts(page) -> None:
    """From now on, ``window.checkinPosts`` counts the page's POSTs to the check-in log."""
    page.evaluate("""() => {
        const send = window.fetch;
        window.checkinPosts = 0;
        window.fetch = (url, options) => {
            if (String(url).includes("/checkins") && options && options.method === "POST") {
                window.checkinPosts += 1;
            }
            return send(url, options);
        };
    }""")


MISREAD = "Could not read that card — scan again or use the printed-card flow."


def test_a_misread_is_not_a_denial(desk, server, tmp_path):
    """Issue 10: junk from the scanner shows a neutral line, no DENY, nothing to log."""
    scan(desk, server["far"])
    desk.wait_for_selector("#verdict.admit")
    before = len(log_rows(server["db"]))
    scan(desk, "PYZ1NOTACARDATALL")
    desk.wait_for_selector("#misread:visible")
    assert desk.inner_text("#misread") == MISREAD
    assert "flash-error" not in desk.get_attribute("#misread", "class")
    # the earlier result is gone: no verdict, no "member ?, expires ?", no Log button
    assert not desk.is_visible("#result") and not desk.is_visible("#confirm")
    assert not desk.is_visible("#error")
    assert desk.evaluate("document.activeElement.id") == "scan"
    screenshot(desk, "desk-misread.png", tmp_path)
    count_checkin_posts(desk)
    desk.keyboard.press("Enter")  # Enter on the empty field: nothing to log
    assert desk.evaluate("window.checkinPosts") == 0
    assert len(log_rows(server["db"])) == before
    # the next good scan replaces the notice with its decision
    scan(desk, server["near"])
    desk.wait_for_selector("#verdict.deny")
    assert not desk.is_visible("#misread")


def test_undo_clears_the_result(desk, server):
    """Issue 10: after Undo the undone result does not stay on screen ("Logged #N") for
    Enter to log again; the counts say who paid."""
    scan(desk, server["far"])
    desk.wait_for_selector("#verdict.admit")
    desk.keyboard.press("Enter")
    desk.wait_for_selector("#logged:has-text('Logged #')")
    row = log_rows(server["db"])[-1]
    desk.click("#undo")
    desk.wait_for_selector(f"#log li.undone[data-id='{row['id']}']")
    desk.wait_for_selector("#result", state="hidden")
    assert desk.inner_text("#busy") == f"Undid #{row['id']}."
    desk.wait_for_function("document.activeElement.id === 'scan'")
    count_checkin_posts(desk)
    desk.keyboard.press("Enter")
    assert desk.evaluate("window.checkinPosts") == 0
    rows = log_rows(server["db"])
    assert rows[-1]["undoes"] == row["id"] and rows[-2]["id"] == row["id"]
    # the side panel's counts are the server's words for today's counts
    today = desk.evaluate("fetch('/desk/today').then((r) => r.json())")
    assert desk.inner_text("#count-admitted") == today["counts_text"]["admitted"]
    assert desk.inner_text("#count-denied") == today["counts_text"]["denied"]


# -- whether the page tests run: skip on a developer machine, fail in CI -----------------

def test_missing_chromium_is_named(tmp_path):
    assert chromium_problem(tmp_path / "no-chromium") == (
        f"Debian chromium not found at {tmp_path / 'no-chromium'} (apt-get install -y chromium)")
    not_executable = tmp_path / "chromium"
    not_executable.write_text("")
    assert chromium_problem(not_executable) is not None


@pytest.mark.parametrize("ci", ["true", "TRUE", "1", "yes"])
def test_missing_browser_fails_in_ci(ci):
    with pytest.raises(pytest.fail.Exception, match="CI=true, so the browser tests must run"):
        require_browser("Debian chromium not found at /nowhere", {"CI": ci})


@pytest.mark.parametrize("environ", [{}, {"CI": ""}, {"CI": "false"}, {"CI": "0"}])
def test_missing_browser_skips_on_a_developer_machine(environ):
    with pytest.raises(pytest.skip.Exception, match="browser tests skipped"):
        require_browser("Debian chromium not found at /nowhere", environ)


def test_present_browser_runs_everywhere():
    for environ in ({}, {"CI": "true"}):
        assert require_browser(None, environ) is None
