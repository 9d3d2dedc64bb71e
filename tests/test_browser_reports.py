"""Issue 12's admin pages in a real browser (Debian's chromium through Playwright, the real
server on a free loopback port): Reports (the server-rendered SVG chart, the table, the
downloads) and Activity (filtered, local time). Skipped or failed without Chromium as
tests/test_browser_desk.py says. Screenshots: PASSPORT_SCREENSHOTS=docs/screenshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from browser import PASSWORD, kiosk_server, screenshot, sign_in

from passport import audit, auth, checkins, institutions

EXPLORATORIUM = "exploratorium-san-francisco"
HOMES = ["oregon-museum-of-science-and-industry-portland", "science-north-sudbury",
         "chabot-space-science-center-oakland", "museum-of-science-boston"]
SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
LA = ZoneInfo("America/Los_Angeles")


def fill_store(db, shipped_csv) -> dict:
    institutions.import_file(db, shipped_csv, actor="program-office")
    auth.create_user(db, "admin1", PASSWORD, role="admin", actor="setup")
    start = datetime(2026, 1, 5, 9, 30, tzinfo=LA)
    for n in range(400):  # five months of visits, busier at midday and on weekends
        at = start + timedelta(days=n % 140, hours=(n * 7) % 8, minutes=n % 60)
        admit = n % 5 != 0
        decision = {"visit": EXPLORATORIUM, "home": HOMES[n % len(HOMES)], "admit": admit,
                    "reasons": ["ELIGIBLE"] if admit else ["HOME_WITHIN_RADIUS"],
                    "covered": 6}
        checkins.log_checkin(db, decision, party_size=n % 8 + 1, staff_user="desk1",
                             source="desk", now=at)
    audit.record(db, "admin1", "key.created", "0123456789ab", {"institution_id": HOMES[0]},
                 now=SERVER_NOW - timedelta(days=1))
    return {}


@pytest.fixture(scope="module")
def server(tmp_path_factory, shipped_csv):
    folder = tmp_path_factory.mktemp("browser-reports")
    with kiosk_server(folder, EXPLORATORIUM, SERVER_NOW,
                      lambda db: fill_store(db, shipped_csv)) as served:
        yield served


def test_reports_and_activity_pages(browser, server, tmp_path):
    url = server["url"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, url, "admin1")
        page.goto(f"{url}/admin")
        with page.expect_navigation():
            page.click("#admin-pages a:has-text('Reports')")
        chart = page.locator("#report-chart svg")
        assert chart.is_visible()
        assert page.locator("#report-chart svg g.bar").count() == 5  # January to May
        assert chart.bounding_box()["width"] > 600  # drawn, not an empty box
        assert "local days in America/Los_Angeles" in page.inner_text("#report-about")
        assert page.locator("#report-table tbody tr").count() == 5
        screenshot(page, "admin-reports.png", tmp_path)

        page.select_option("select[name=by]", "home")
        page.fill("input[name=from]", "2026-02-01")
        with page.expect_navigation():
            page.click("#report-form button[type=submit]")
        assert page.locator("#report-chart svg g.bar").count() == len(HOMES)
        assert "museum-of-science-boston" in page.inner_text("#report-table")
        with page.expect_download() as download:
            page.click("#report-downloads a:has-text('XLSX')")
        assert download.value.suggested_filename == "visits-by-home_2026-02-01.xlsx"

        page.goto(f"{url}/admin")
        with page.expect_navigation():
            page.click("#admin-pages a:has-text('Activity')")
        assert "local time in America/Los_Angeles" in page.inner_text("main")
        page.select_option("select[name=action]", "key.created")
        with page.expect_navigation():
            page.click("#activity-form button[type=submit]")
        rows = page.locator("#activity-table tbody tr")
        assert rows.count() == 1
        assert rows.first.inner_text().startswith("2026-06-14 12:00 PDT\tadmin1\tcreated an "
                                                  "issuer key")
        screenshot(page, "admin-activity.png", tmp_path)
    finally:
        context.close()
