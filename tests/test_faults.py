"""Store faults on the live app (issue 15): a read-only database file, a full disk (a small
tmpfs) and a database locked past the busy timeout. The API answers 503 with the fault's
code and logs nothing, a decision is never shown as logged without its row, the check that
only reads goes on working, and the same request succeeds once the fault is gone, with no
restart. docs/reliability.md, "Crashes and faults"."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from browser import in_ci
from test_api import assert_matches

from passport import auth, institutions, store

EXPLORATORIUM = "exploratorium-san-francisco"
OMSI = "oregon-museum-of-science-and-industry-portland"  # ~530 miles away: admit
CHECKIN = {"visit": EXPLORATORIUM, "home": OMSI, "party_size": 1}
BUSY_TIMEOUT_MS = 200


def unavailable(reason: str) -> None:
    """Skip with one line on a developer machine; fail under CI=true."""
    if in_ci(os.environ):
        pytest.fail(f"{reason}; CI=true, so the fault tests must run", pytrace=False)
    pytest.skip(reason)


def fault_app(db_path: Path):
    from kiosk import create_app

    return create_app({"TESTING": True, "DB": str(db_path), "SECRET_KEY": "test-only-secret",
                       "SQLITE_BUSY_TIMEOUT_MS": BUSY_TIMEOUT_MS})


def prepared(db_path: Path, shipped_csv: Path, *, running: bool = True):
    """A listed store at ``db_path``, the app on it and a Bearer header; ``running``: one
    request served already (its idle store handle open, as on a running server)."""
    db = store.open_db(db_path)
    institutions.import_file(db, shipped_csv)
    _, token = auth.create_token(db, "ticketing")
    db.close()
    client = fault_app(db_path).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    if running:
        assert client.post("/api/v1/check", json=CHECKIN, headers=headers).status_code == 200
    return client, headers


def logged_rows(db_path: Path) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute("SELECT id, idempotency_key FROM checkins").fetchall()


def post_checkin(client, headers: dict, key: str):
    return client.post("/api/v1/checkins", json=CHECKIN,
                       headers={**headers, "Idempotency-Key": key})


def assert_fault(response, code: str) -> None:
    """503, the fault's code in the one error shape, Retry-After, and no decision in it."""
    assert response.status_code == 503, response.data
    assert response.json == {"error": {"code": code, "message": response.json["error"]
                                       ["message"]}}
    assert "logged" in response.json["error"]["message"]
    assert int(response.headers["Retry-After"]) >= 1
    assert_matches(response, "/checkins", "post")  # as kiosk/openapi.yaml documents it


def assert_recovers(client, headers: dict, db_path: Path, key: str, rows_before: list) -> None:
    """The retry with the same key logs the check-in once, now that the fault is gone."""
    retried = post_checkin(client, headers, key)
    assert retried.status_code == 201, retried.data
    assert retried.json["admit"] is True and retried.json["decision"]["admit"] is True
    assert post_checkin(client, headers, key).status_code == 200  # a replay, not a new row
    rows = logged_rows(db_path)
    assert len(rows) == len(rows_before) + 1 and rows[-1][0] == retried.json["id"]


@contextlib.contextmanager
def read_only(path: Path):
    """``path`` read-only for this process: mode 0444, or for root (whom modes do not stop)
    the immutable attribute (chattr +i, ext4/xfs/btrfs/tmpfs on recent kernels)."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        unavailable(f"cannot make {path.name} read-only as root: chattr: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_database_answers_503_then_recovers(db_path, shipped_csv):
    """The kiosk started on a read-only file (a restored copy with the wrong owner, a file
    system mounted read-only). A file made read-only under a running kiosk does not stop it:
    SQLite goes on writing through the handles the process already holds."""
    client, headers = prepared(db_path, shipped_csv, running=False)
    before = logged_rows(db_path)
    with read_only(db_path):
        refused = post_checkin(client, headers, "k-ro")
        assert_fault(refused, "store_read_only")
        # Deciding only reads: the desk can still check a card and say why it cannot log.
        assert client.post("/api/v1/check", json=CHECKIN, headers=headers).json["admit"]
        assert logged_rows(db_path) == before
    assert_recovers(client, headers, db_path, "k-ro", before)


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs mounted in tmp_path (root only), unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        unavailable(f"cannot mount a small tmpfs for the full-disk test: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(folder: Path) -> Path:
    """Write a file into ``folder`` until its file system has no space left."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1 << 9):  # the big blocks first, then the last crumbs
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def test_full_disk_answers_503_then_recovers(small_disk, shipped_csv, monkeypatch):
    db_path = small_disk / "passport.sqlite"
    monkeypatch.setenv("PASSPORT_INSTANCE", str(small_disk.parent / "instance"))
    client, headers = prepared(db_path, shipped_csv)
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        # An empty WAL: the next commit must grow a file, which a full disk refuses.
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = logged_rows(db_path)
    filler = fill(small_disk)
    refused = post_checkin(client, headers, "k-full")
    assert_fault(refused, "disk_full")
    assert logged_rows(db_path) == before
    filler.unlink()
    assert_recovers(client, headers, db_path, "k-full", before)


def test_locked_database_answers_503_after_the_busy_timeout_then_recovers(db_path,
                                                                          shipped_csv):
    client, headers = prepared(db_path, shipped_csv)
    before = logged_rows(db_path)
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another program's write lock, held on
        refused = post_checkin(client, headers, "k-lock")
        assert_fault(refused, "store_unavailable")
        assert "locked" in refused.json["error"]["message"]
        assert client.post("/api/v1/check", json=CHECKIN, headers=headers).status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_recovers(client, headers, db_path, "k-lock", before)


def test_a_page_that_writes_shows_the_fault_in_words(db_path, shipped_csv, kiosk_login):
    """A form post while the store is locked: the 503 page says what is wrong."""
    client, _ = prepared(db_path, shipped_csv)
    csrf = kiosk_login(client, "boss", role="admin")
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        page = client.post("/admin/site", data={"site": EXPLORATORIUM, "csrf_token": csrf})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert b"The check-in database is unavailable" in page.data
    assert b"locked by another program" in page.data


def test_fault_of_maps_only_store_faults():
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        with pytest.raises(sqlite3.OperationalError) as syntax:
            conn.execute("SELEC 1")
    assert store.fault_of(syntax.value) is None  # a bug stays a 500
    wrapped = store.StoreError("cannot open")
    wrapped.__cause__ = sqlite3.OperationalError("database is locked")
    wrapped.__cause__.sqlite_errorcode = sqlite3.SQLITE_BUSY
    assert store.fault_of(wrapped).code == "store_unavailable"
