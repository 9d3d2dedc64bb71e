"""The desk in a real browser with a hostile list and card: a home institution named
``<script>...`` with ``onerror`` terms, a cardholder named with markup. The decision shows
them as text (desk.js sets textContent) and no script of theirs runs."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from browser import PASSWORD, desk_page, kiosk_server, scan
from test_hostile_text import HOSTILE_MEMBER, HOSTILE_NAME, HOSTILE_TERMS, OMSI, hostile_list

from passport import auth, cards, institutions, keys

EXPLORATORIUM = "exploratorium-san-francisco"
SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)


def _fill_store(db) -> dict:
    from conftest import SHIPPED_CSV

    institutions.import_bytes(db, hostile_list(SHIPPED_CSV), "hostile.csv")
    auth.create_user(db, "desk1", PASSWORD, role="desk")
    keys.create_key(db, OMSI)
    return {"card": cards.issue(db, OMSI, "M-1", [HOSTILE_MEMBER], date(2099, 6, 30))}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with kiosk_server(tmp_path_factory.mktemp("hostile"), EXPLORATORIUM, SERVER_NOW,
                      _fill_store) as served:
        yield served


def test_a_hostile_name_shows_as_text_and_runs_nothing(browser, server):
    with desk_page(browser, server["url"]) as desk:
        dialogs: list[str] = []
        desk.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        scan(desk, server["card"])
        desk.locator("#verdict").wait_for(state="visible")
        assert "ADMIT" in desk.inner_text("#verdict")
        assert HOSTILE_NAME in desk.inner_text("#r-home")  # the markup, as text
        assert desk.inner_text("#r-names") == HOSTILE_MEMBER
        assert HOSTILE_TERMS in desk.inner_text("#result")
        # nothing the texts hold became an element
        assert desk.locator("#result script, #result img, #result b").count() == 0
        desk.keyboard.press("Enter")  # log it: the log list shows the names too
        desk.wait_for_selector("#logged:has-text('Logged #')")
        entry = desk.locator("#log li").first
        entry.wait_for()
        assert HOSTILE_MEMBER in entry.inner_text()
        assert desk.locator("#log b, #log img, #log script").count() == 0
        assert dialogs == []  # every hostile text calls alert() if it ever runs
