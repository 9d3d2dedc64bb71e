"""Issue 12's "Member cards" admin page in a real browser (Debian's chromium through
Playwright, the real server on a free loopback port): a roster with bad cells shows every
problem with its row and column and issues nothing; the fixed roster shows a preview, issues
with progress and offers the downloads, whose cards.csv holds every member's verified card.

Its own server and store. Skipped or failed without Chromium as tests/test_browser_desk.py
says. Screenshots: $PASSPORT_SCREENSHOTS (see tests/browser.py).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest
from browser import PASSWORD, kiosk_server, screenshot, sign_in
from rosterdata import ISSUER, issuing_store, member_rows, write_roster

from passport import auth, cards

SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
MEMBERS = 150


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-cards")

    def fill_store(db) -> dict:
        issuing_store(db)
        auth.create_user(db, "admin1", PASSWORD, role="admin")
        return {}

    with kiosk_server(folder, ISSUER, SERVER_NOW, fill_store) as served:
        yield served


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    sign_in(opened, server["url"], "admin1")
    yield opened
    context.close()


def _upload(page, path) -> None:
    page.set_input_files("#roster-file", str(path))
    with page.expect_navigation():
        page.click("#roster-form button[type=submit]")


def test_upload_errors_preview_issue_and_download(page, server, tmp_path):
    url = server["url"]
    page.goto(f"{url}/admin")
    with page.expect_navigation():
        page.click("#admin-pages >> text=Member cards")
    assert page.locator("h1").inner_text() == "Member cards"
    assert page.input_value("#institution") == ISSUER  # the kiosk's own site

    rows = member_rows(MEMBERS)
    good = dict(rows[9]), dict(rows[120])
    rows[9]["Exp Date"], rows[120]["Zip"] = "13/45/2098", "ABCDE"
    roster = write_roster(tmp_path / "members.csv", rows)
    _upload(page, roster)
    assert "No card was issued: the roster has 2 problems" in page.inner_text("#roster-refused")
    cells = page.eval_on_selector_all(
        "#row-errors tbody tr",
        "rows => rows.map(r => [r.cells[0].innerText, r.cells[1].innerText])")
    assert cells == [["11", "Exp Date"], ["122", "Zip"]]
    screenshot(page, "admin-cards-errors.png", tmp_path)
    assert list(server["db"].query("SELECT id FROM card_issuances")) == []

    rows[9], rows[120] = good
    write_roster(roster, rows)
    page.goto(f"{url}/admin/cards")
    _upload(page, roster)
    assert f"{MEMBERS} cards to issue ({MEMBERS} new, 0 changed)" in \
        " ".join(page.inner_text("#roster-summary").split())
    assert page.locator("#preview tbody tr").count() == 25
    screenshot(page, "admin-cards-preview.png", tmp_path)
    with page.expect_navigation():
        page.click("#issue-button")
    page.wait_for_selector("#downloads a")  # cardrun.js reloads the page when the run is done
    assert f"Issued {MEMBERS} cards" in page.inner_text("#run-done")
    links = page.eval_on_selector_all("#downloads a", "links => links.map(a => a.innerText)")
    assert [text.split(" ")[0] for text in links] == ["cards.csv", "cards.pdf"]
    screenshot(page, "admin-cards-done.png", tmp_path)

    with page.expect_download() as download_info:
        page.click("#downloads a >> text=cards.csv")
    saved = tmp_path / "downloaded.csv"
    download_info.value.save_as(saved)
    with saved.open(encoding="utf-8", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert [line["member_id"] for line in lines] == [row["Constituent ID"] for row in rows]
    assert all(cards.verify(server["db"], line["payload"], SERVER_NOW.date()).valid
               for line in lines)
    assert lines[0]["card_url"] == f"{url}/card?c={lines[0]['payload']}"

    # the member's link opens the member's own card page
    page.goto(lines[0]["card_url"])
    assert page.inner_text("#card-status") == "Valid"
