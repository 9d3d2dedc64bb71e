"""Issue 10 in a real browser (Debian's chromium through Playwright, the real server on a free
loopback port): a list without the kiosk's own site needs the admin's confirmation, the desk
shows a banner while its site is off the active list, a rollback shows its diff before
activating, and three-digit list versions fit a 360 px screen.

The server has its own store (this module changes the active list); list versions start at
100, so every version number on screen has three digits. Skipped or failed without Chromium
as tests/test_browser_desk.py says.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from browser import PASSWORD, kiosk_server, scan, screenshot, sign_in, wide_elements

from passport import auth, cards, importer, institutions, keys, store

EXPLORATORIUM = "exploratorium-san-francisco"
OMSI = "oregon-museum-of-science-and-industry-portland"
SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
FIRST_REAL_VERSION = 100


@pytest.fixture(scope="module")
def server(tmp_path_factory, shipped_csv):
    folder = tmp_path_factory.mktemp("browser-site")
    lines = shipped_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    without_site = folder / "without-site.csv"
    without_site.write_text("".join(line for line in lines
                                    if not line.startswith(EXPLORATORIUM)), encoding="utf-8")

    def fill_store(db) -> dict:
        small = importer.parse_file(shipped_csv).records[:3]
        for n in range(1, FIRST_REAL_VERSION):  # earlier versions, so the real ones are 100+
            store.publish_list(db, profile="astc", records=small, source_name="old.csv",
                               source_sha256=str(n), actor="history")
        assert institutions.import_file(db, shipped_csv).version == FIRST_REAL_VERSION
        auth.create_user(db, "desk1", PASSWORD, role="desk")
        auth.create_user(db, "admin1", PASSWORD, role="admin")
        keys.create_key(db, OMSI)
        far = cards.issue(db, OMSI, "M-1042", ["Ada Lovelace"], date(2099, 6, 30),
                          party_size=6)
        return {"far": far, "without_site": without_site}

    with kiosk_server(folder, EXPLORATORIUM, SERVER_NOW, fill_store) as served:
        yield served


@pytest.fixture
def pages(browser, server):
    """``pages(username, width=1280)``: a signed-in page in its own browser context."""
    contexts = []

    def open_page(username: str, width: int = 1280):
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in(page, server["url"], username)
        return page

    yield open_page
    for context in contexts:
        context.close()


def open_desk(page, url: str) -> None:
    page.goto(f"{url}/desk")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'scan'")


def active_version(server) -> int:
    return institutions.active_version(server["db"])


def test_own_site_banner_confirmation_and_rollback_review(pages, server, tmp_path):
    url = server["url"]
    desk = pages("desk1")
    open_desk(desk, url)
    assert not desk.is_visible("#site-banner")

    # the admin uploads a list without this kiosk's site: the review warns and asks
    admin = pages("admin1")
    admin.goto(f"{url}/admin")
    admin.set_input_files("#list-file", str(server["without_site"]))
    with admin.expect_navigation():
        admin.click("#upload-check")
    warning = admin.inner_text("#own-site-warning")
    assert f"this kiosk's own site Exploratorium ({EXPLORATORIUM}) is not on this list" in warning
    admin.click("button:has-text('Publish')")  # the unticked box stops the form here
    assert admin.evaluate("document.getElementById('allow-site-removal').validity.valueMissing")
    assert active_version(server) == FIRST_REAL_VERSION
    admin.check("#allow-site-removal")
    with admin.expect_navigation():
        admin.click("button:has-text('Publish')")
    assert f"Published list version {FIRST_REAL_VERSION + 1}" in admin.inner_text("main")
    assert admin.is_visible("#site-not-listed")

    # the open desk: a scan is denied, and logging it brings up the banner without a reload
    scan(desk, server["far"])
    desk.wait_for_selector("#verdict.deny")
    assert "not on the current participant list" in desk.inner_text("#r-reasons")
    desk.keyboard.press("Enter")
    desk.wait_for_selector("#site-banner:visible")
    open_desk(desk, url)  # and after a reload, from the server
    banner = desk.inner_text("#site-banner")
    assert f"This desk's site, {EXPLORATORIUM}, is not on the active participant list" in banner
    assert f"(version {FIRST_REAL_VERSION + 1})" in banner
    assert "(not on the active list)" in desk.inner_text(".site-line")
    screenshot(desk, "desk-site-banner.png", tmp_path)

    # rolling back: "Activate…" shows the diff first, then activates on confirmation
    admin.goto(f"{url}/admin")
    with admin.expect_navigation():
        admin.click(f"a[href='/admin/lists/{FIRST_REAL_VERSION}/rollback']")
    assert f"Activate list version {FIRST_REAL_VERSION}?" in admin.inner_text("h1")
    added = admin.locator("h3:has-text('Added') + ul").inner_text()
    assert f"Exploratorium ({EXPLORATORIUM})" in added
    assert not admin.is_visible("#own-site-warning")  # this version has the site
    with admin.expect_navigation():
        admin.click(f"button:has-text('Activate version {FIRST_REAL_VERSION}')")
    assert f"List version {FIRST_REAL_VERSION} is active again" in admin.inner_text("main")
    assert active_version(server) == FIRST_REAL_VERSION

    open_desk(desk, url)
    assert not desk.is_visible("#site-banner")
    assert "Desk at Exploratorium" in desk.inner_text(".site-line")
    scan(desk, server["far"])
    desk.wait_for_selector("#verdict.admit")


ONE_LINE = """(selector) => Array.from(document.querySelectorAll(selector)).map((e) => {
    const range = document.createRange();
    range.selectNodeContents(e);
    const lines = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
    return [e.textContent.trim(), lines.size, e.scrollWidth <= e.clientWidth];
})"""


def test_three_digit_versions_fit_360_px(pages, server):
    """Issue 10: at 360 px the version numbers broke digit by digit ("1/2/3")."""
    url = server["url"]
    page = pages("admin1", width=360)
    page.goto(f"{url}/admin")
    cells = page.evaluate(ONE_LINE, "#lists td.num")
    versions = [text for text, _, _ in cells[::2]]  # version, rows, version, rows, ...
    assert str(FIRST_REAL_VERSION) in versions  # and 1..99 below it
    assert [c for c in cells if c[1] != 1 or not c[2]] == []
    assert page.evaluate(ONE_LINE, "#lists th")[0][1] == 1  # "Version" in one piece
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, wide_elements(page)

    open_desk(page, url)
    scan(page, server["far"])
    page.wait_for_selector("#verdict")
    [(shown, lines, fits)] = page.evaluate(ONE_LINE, "#r-version")
    assert len(shown) == 3 and lines == 1 and fits
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, wide_elements(page)
