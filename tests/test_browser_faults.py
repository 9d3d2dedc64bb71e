"""The desk in a real browser while the store is locked by another program past the busy
timeout (issue 15): the verdict stops saying ADMIT once logging failed, the error says why,
and the same press logs the visit once the lock is gone. docs/reliability.md."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime

import pytest
from browser import PASSWORD, desk_page, kiosk_server, scan

from passport import auth, cards, institutions, keys

EXPLORATORIUM = "exploratorium-san-francisco"
OMSI = "oregon-museum-of-science-and-industry-portland"
SERVER_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)


def _fill_store(db) -> dict:
    institutions.ensure_default_list(db)
    auth.create_user(db, "desk1", PASSWORD, role="desk")
    keys.create_key(db, OMSI)
    return {"far": cards.issue(db, OMSI, "M-1042", ["Ada Lovelace"], date(2099, 6, 30))}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PASSPORT_SQLITE_BUSY_TIMEOUT_MS", "300")  # a locked store fails quickly
        with kiosk_server(tmp_path_factory.mktemp("faults"), EXPLORATORIUM, SERVER_NOW,
                          _fill_store) as served:
            yield served


def test_desk_never_shows_admit_for_a_visit_the_store_did_not_log(browser, server):
    db_file = server["db"].conn.execute("PRAGMA database_list").fetchone()[2]
    with desk_page(browser, server["url"]) as desk:
        before = server["db"].execute("SELECT COUNT(*) FROM checkins").fetchone()[0]
        scan(desk, server["far"])
        verdict = desk.locator("#verdict")
        verdict.wait_for(state="visible")
        assert "ADMIT" in verdict.inner_text()
        holder = sqlite3.connect(db_file, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
            desk.click("#confirm")
            desk.wait_for_selector("#verdict.fault")
            assert "NOT LOGGED" in verdict.inner_text()
            assert "ADMIT" not in verdict.inner_text()
            assert "locked by another program" in desk.inner_text("#error")
            assert desk.inner_text("#logged") == ""
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert server["db"].execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == before
        desk.click("#confirm")  # the lock is gone: the same press logs it, once
        desk.wait_for_selector("#logged:has-text('Logged #')")
        assert "ADMIT" in verdict.inner_text() and "fault" not in verdict.get_attribute("class")
        assert server["db"].execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == before + 1
