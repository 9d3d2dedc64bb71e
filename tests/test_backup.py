"""Backups and restores (passport/backup.py, ``passport backup|restore``, the admin
console's download): consistent under write load, checked before a restore, reversible."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from passport import audit, backup, checkins, store

DECISION = {"visit": "site-a", "home": "site-b", "admit": True, "reasons": ["ELIGIBLE"],
            "list_version": 1}
DEADLINE_S = 30.0


def _log(db, n: int) -> list[int]:
    return [checkins.log_checkin(db, DECISION, party_size=1, staff_user="desk1",
                                 source="api")["id"] for _ in range(n)]


def _ids(path) -> set[int]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM checkins")}
    finally:
        conn.close()


class Writer(threading.Thread):
    """Logs check-ins through passport/checkins.py on its own connection until stopped;
    ``acknowledged`` holds the ids whose ``log_checkin`` returned (committed)."""

    def __init__(self, db_path) -> None:
        super().__init__(name="checkin-writer")
        self.db_path, self.acknowledged, self.error = db_path, [], None
        self.stop = threading.Event()

    def run(self) -> None:
        db = store.connect_migrated(self.db_path, "NORMAL")
        try:
            while not self.stop.is_set():
                self.acknowledged.extend(_log(db, 1))
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            db.close()

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while len(self.acknowledged) < count:
            assert self.error is None and time.monotonic() < deadline, self.error
            time.sleep(0.001)


def test_backup_under_write_load_holds_every_acknowledged_checkin(db, db_path, tmp_path):
    _log(db, 2000)  # a store big enough that the backup takes a while
    writer = Writer(db_path)
    writer.start()
    try:
        writer.wait_for(20)
        before = set(writer.acknowledged)  # acknowledged before the backup started
        result = backup.backup(db_path, tmp_path / "b.sqlite")
        during = len(writer.acknowledged)
        writer.wait_for(during + 20)  # writers were never blocked by the backup
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None
    saved = _ids(tmp_path / "b.sqlite")
    assert before <= saved and len(saved) == result["checkins"] >= 2000 + len(before)
    assert saved <= set(range(1, 2001)) | set(writer.acknowledged)
    conn = sqlite3.connect(tmp_path / "b.sqlite")
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
    conn.close()
    assert result["integrity"] == "ok" and result["schema_version"] == len(store.MIGRATIONS)
    assert not list(tmp_path.glob(".b.sqlite.*"))  # no partial file left


def test_backup_refusals_are_one_line_and_write_nothing(db, db_path, tmp_path, cli):
    (tmp_path / "taken.sqlite").write_bytes(b"keep me")
    cli("backup", tmp_path / "taken.sqlite", "--json", error="never overwrites")
    assert (tmp_path / "taken.sqlite").read_bytes() == b"keep me"
    cli("backup", tmp_path / "no" / "b.sqlite", "--json", error="does not exist")


def test_restore_round_trip(db, db_path, tmp_path, cli):
    kept = _log(db, 3)
    out = json.loads(cli("backup", tmp_path / "b.sqlite", "--json").stdout)
    assert out["checkins"] == 3 and out["bytes"] > 0
    later = _log(db, 2)
    db.close()
    result = json.loads(cli("restore", tmp_path / "b.sqlite", "--json").stdout)
    assert _ids(db_path) == set(kept)
    aside = tmp_path / result["kept_aside"].rsplit("/", 1)[-1]
    assert aside.name.startswith("passport.sqlite.before-restore-")
    assert _ids(aside) == set(kept + later)
    restored = store.open_db(db_path)
    try:
        assert [e["action"] for e in audit.entries(restored)][0] == "store.restored"
        assert restored.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert restored.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert _log(restored, 1) == [4]  # the restored log goes on from its own last id
    finally:
        restored.close()


def test_restore_into_a_new_place(tmp_path, monkeypatch, cli, db_path):
    source = store.open_db(tmp_path / "old.sqlite")
    _log(source, 4)
    source.close()
    result = json.loads(cli("restore", tmp_path / "old.sqlite", "--json").stdout)
    assert result["kept_aside"] is None and len(_ids(db_path)) == 4


def _corrupt(path) -> None:
    data = bytearray(path.read_bytes())
    page_bytes = int.from_bytes(data[16:18], "big")
    for page in range(2, len(data) // page_bytes):  # every page but the header's
        data[page * page_bytes:page * page_bytes + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))


def test_restore_refuses_what_it_cannot_trust(db, db_path, tmp_path, cli):
    _log(db, 2)
    cli("backup", tmp_path / "good.sqlite")
    before = db_path.read_bytes()
    (tmp_path / "notes.txt").write_text("not a database")
    cli("restore", tmp_path / "notes.txt", "--json", error="not an SQLite database")
    plain = sqlite3.connect(tmp_path / "plain.sqlite")
    plain.execute("CREATE TABLE t (x)")
    plain.commit()
    plain.close()
    cli("restore", tmp_path / "plain.sqlite", error="not a passport store")
    newer = tmp_path / "newer.sqlite"
    newer.write_bytes((tmp_path / "good.sqlite").read_bytes())
    conn = sqlite3.connect(newer)
    conn.execute("INSERT INTO schema_migrations VALUES (?, 'x')", [len(store.MIGRATIONS) + 1])
    conn.commit()
    conn.close()
    cli("restore", newer, error=f"schema version {len(store.MIGRATIONS) + 1}, newer")
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes((tmp_path / "good.sqlite").read_bytes())
    _corrupt(broken)
    cli("restore", broken, error="broken.sqlite")
    cli("restore", tmp_path / "missing.sqlite", error="cannot read")
    # the store is open here (``db``), as a serving kiosk keeps it: stop-first
    cli("restore", tmp_path / "good.sqlite", error="stop it first")
    assert db_path.read_bytes() == before
    assert not list(tmp_path.glob("passport.sqlite.before-restore-*"))


@pytest.fixture
def admin_client(kiosk_client, kiosk_login):
    kiosk_client.csrf = kiosk_login(kiosk_client, "root", "admin")
    return kiosk_client


def test_admin_downloads_a_backup(admin_client, db, tmp_path):
    _log(db, 5)
    page = admin_client.get("/admin")
    assert b"Download a backup" in page.data
    response = admin_client.post("/admin/backup", data={"csrf_token": admin_client.csrf})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith(
        "attachment; filename=passport-backup-")
    assert response.headers["Cache-Control"] == "no-store"
    saved = tmp_path / "download.sqlite"
    saved.write_bytes(response.data)
    response.close()
    assert backup.inspect(saved)["checkins"] == 5
    assert audit.entries(db)[0]["action"] == "store.backup"


def test_backup_download_needs_an_admin(kiosk_client, kiosk_login):
    csrf = kiosk_login(kiosk_client, "desk1", "desk")
    response = kiosk_client.post("/admin/backup", data={"csrf_token": csrf})
    assert response.status_code in (302, 403)
    assert b"SQLite format 3" not in response.data
