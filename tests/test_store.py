import sqlite3

import pytest

from passport import store


def test_open_db_creates_schema_with_wal(db_path):
    db = store.open_db(db_path)
    assert db_path.exists()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"institutions", "checkins", "users", "issuer_keys"} <= set(db.table_names())
    assert store.get_profile_row(db, "astc")["radius_miles"] == pytest.approx(90.0)


def test_migrations_are_idempotent(db_path):
    store.open_db(db_path).close()
    db = store.open_db(db_path)
    versions = [r[0] for r in db.execute("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, len(store.MIGRATIONS) + 1))


def test_checkin_log_is_append_only(db):
    db.execute(
        "INSERT INTO checkins (at, visit, admit, reasons, source) VALUES ('t', 'x', 1, '[]', 'cli')"
    )
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE checkins SET admit = 0")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM checkins")


def test_default_db_path_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("PASSPORT_DB", str(tmp_path / "x.sqlite"))
    assert store.default_db_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("PASSPORT_DB")
    monkeypatch.setenv("PASSPORT_INSTANCE", str(tmp_path / "inst"))
    assert store.default_db_path() == tmp_path / "inst" / "passport.sqlite"


def test_unusable_file_is_a_store_error(tmp_path):
    bad = tmp_path / "not.sqlite"
    bad.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(store.StoreError, match="cannot open passport store"):
        store.open_db(bad)
