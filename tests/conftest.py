"""Shared fixtures: a real SQLite store in tmp_path and the shipped participant list."""

from __future__ import annotations

from pathlib import Path

import pytest

from passport import store

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CSV = ROOT / "data" / "institutions.csv"


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    """A fresh store file; $PASSPORT_DB points at it so the CLI uses it too."""
    path = tmp_path / "passport.sqlite"
    monkeypatch.setenv("PASSPORT_DB", str(path))
    monkeypatch.setenv("PASSPORT_INSTANCE", str(tmp_path / "instance"))
    return path


@pytest.fixture
def db(db_path):
    database = store.open_db(db_path)
    yield database
    database.close()


@pytest.fixture(scope="session")
def shipped_csv() -> Path:
    return SHIPPED_CSV
