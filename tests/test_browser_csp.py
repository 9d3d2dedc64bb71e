"""The Content-Security-Policy in a real browser (tests/browser.py): the desk (with a scan
decided and shown), the member planner with its map and a popup, the phone card, the admin
console and the printable card file load under their policies with no violation reported,
neither as a ``securitypolicyviolation`` event nor in the console."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from browser import PASSWORD, kiosk_server, scan, sign_in

from passport import auth, cards, institutions, keys, qr

EXPLORATORIUM = "exploratorium-san-francisco"
OMSI = "oregon-museum-of-science-and-industry-portland"
SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
# Every violation the document sees, from before its first script runs.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def _fill_store(db) -> dict:
    institutions.ensure_default_list(db)
    auth.create_user(db, "desk1", PASSWORD, role="desk")
    auth.create_user(db, "admin1", PASSWORD, role="admin")
    keys.create_key(db, OMSI)
    payload = cards.issue(db, OMSI, "M-1042", ["Ada Lovelace"], date(2099, 6, 30),
                          party_size=2)
    return {"card": payload}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with kiosk_server(tmp_path_factory.mktemp("browser-csp"), EXPLORATORIUM, SERVER_NOW,
                      _fill_store) as served:
        yield served


@pytest.fixture
def watched(browser):
    """A page whose CSP violations and console complaints are recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(15_000)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.console_complaints = []
    page.on("console", lambda message: page.console_complaints.append(message.text)
            if "Content Security Policy" in message.text else None)
    try:
        yield page
    finally:
        context.close()


def assert_no_violation(page) -> None:
    assert page.evaluate("window.cspViolations") == []
    assert page.console_complaints == []


def assert_policy(response) -> None:
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe" not in policy


def test_desk_with_a_decision_shown(watched, server):
    sign_in(watched, server["url"], "desk1")
    assert_policy(watched.goto(f"{server['url']}/desk"))
    watched.wait_for_function("document.activeElement && document.activeElement.id === 'scan'")
    scan(watched, server["card"])
    watched.wait_for_selector("#verdict.admit")
    assert_no_violation(watched)


def test_planner_with_its_map_and_a_popup(watched, server):
    assert_policy(watched.goto(f"{server['url']}/?home={OMSI}"))
    watched.wait_for_selector("#plan-map[data-ready]")
    assert watched.locator("path.map-land").count() > 100  # the outlines drew
    watched.locator(".leaflet-marker-icon.map-marker-eligible").first.dispatch_event("click")
    watched.wait_for_selector(".leaflet-popup .map-popup")
    assert_no_violation(watched)


def test_phone_card(watched, server):
    assert_policy(watched.goto(f"{server['url']}/card?c={server['card']}"))
    watched.wait_for_selector("html[data-offline=kept]")  # pwa.js ran, the worker too
    assert watched.locator(".card-qr svg").bounding_box()["width"] > 100
    assert_no_violation(watched)


def test_admin_console(watched, server):
    sign_in(watched, server["url"], "admin1")
    assert_policy(watched.goto(f"{server['url']}/admin"))
    watched.wait_for_selector("#token-scopes input[value='reports:read']")
    assert_no_violation(watched)
    # The policy is enforced and the recorder hears it: markup with a style attribute.
    watched.evaluate("document.body.insertAdjacentHTML('beforeend', "
                     "'<p id=styled style=\"color: rgb(255, 0, 0)\">x</p>')")
    watched.wait_for_function("window.cspViolations.length > 0")
    assert watched.evaluate("window.cspViolations")[0].startswith("style-src")
    assert watched.evaluate("getComputedStyle(document.getElementById('styled')).color") != (
        "rgb(255, 0, 0)")


def test_printable_card_file_under_its_own_policy(watched, tmp_path):
    """Opened from disk as people do, its one style block applies (the card is 85.6 mm
    wide, 323.5 CSS px) and nothing is refused."""
    import sqlite_utils

    from passport import store

    db = sqlite_utils.Database(memory=True)
    store.migrate(db)
    keys.create_key(db, OMSI)
    payload = cards.issue(db, OMSI, "M-1", ["Ada Lovelace"], date(2099, 6, 30))
    path = tmp_path / "card.html"
    path.write_text(qr.card_html(payload, cards.decode(payload), "Free admission."),
                    encoding="utf-8")
    watched.goto(path.as_uri())
    width_px = watched.evaluate("document.querySelector('.card').getBoundingClientRect().width")
    assert width_px == pytest.approx(85.6 / 25.4 * 96, abs=1)
    assert_no_violation(watched)
