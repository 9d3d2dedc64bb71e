"""Backups of the store and restoring one (``passport backup|restore``, the admin console's
download).

A backup is SQLite's online backup API in one step: the store as of one commit, taken
while the kiosk goes on logging check-ins (WAL lets writers continue beside the backup's
read transaction), written to a temporary file beside the target, checked with
``PRAGMA integrity_check`` and only then renamed into place, so a backup file is whole or
absent. It is one self-contained file.

A restore checks the backup first (an SQLite file, integrity ok, a passport store, a schema
no newer than this code's), refuses while anything else has the store open (a serving
kiosk keeps a handle open; stop it first), keeps the current store aside as
``<name>.before-restore-<UTC stamp>``, then writes the backup over the store through the
backup API: one transaction, so the store is the old one or the restored one, never a mix.
An older backup is migrated to the current schema afterwards, as any store is when opened.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from passport import store


class BackupError(ValueError):
    """A backup or restore was refused; the message says why and nothing was changed."""


def _schema_version_now() -> int:
    return len(store.MIGRATIONS)


def _describe(conn: sqlite3.Connection, path: Path) -> dict:
    """Integrity, schema version and check-in count of a store file, or ``BackupError``."""
    try:
        problems = store.integrity_problems(conn)
        version = store.schema_version_of(conn)
        checkins = store.count_checkin_rows(conn) if version else 0
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path.name} is not a readable SQLite database: {exc}") from None
    if problems:
        raise BackupError(f"{path.name} fails PRAGMA integrity_check: {problems[0]}")
    if version is None:
        raise BackupError(f"{path.name} is an SQLite database but not a passport store")
    if version > _schema_version_now():
        raise BackupError(f"{path.name} has schema version {version}, newer than this "
                          f"passport's {_schema_version_now()}: upgrade passport first")
    return {"schema_version": version, "checkins": checkins, "integrity": "ok"}


def inspect(path: str | os.PathLike[str]) -> dict:
    """What a restore of ``path`` would check: ``{"schema_version", "checkins",
    "integrity"}``; raises ``BackupError`` for anything a restore refuses."""
    file_path = Path(path)
    try:
        with file_path.open("rb") as handle:
            header = handle.read(len(store.SQLITE_HEADER))
    except OSError as exc:
        raise BackupError(f"cannot read {file_path}: {exc.strerror or exc}") from None
    if header != store.SQLITE_HEADER:
        raise BackupError(f"{file_path.name} is not an SQLite database (no SQLite header)")
    conn = store.open_read_only(file_path)
    try:
        return _describe(conn, file_path)
    finally:
        conn.close()


def backup(db_path: str | os.PathLike[str], target: str | os.PathLike[str]) -> dict:
    """Write a consistent copy of the store at ``db_path`` to the new file ``target``;
    ``{"backup", "bytes", "schema_version", "checkins", "integrity", "elapsed_ms"}``."""
    source_path, target_path = Path(db_path), Path(target)
    if not source_path.is_file():
        raise BackupError(f"no passport store at {source_path}")
    if target_path.exists():
        raise BackupError(f"{target_path} exists; a backup never overwrites a file")
    if not target_path.parent.is_dir():
        raise BackupError(f"the folder {target_path.parent} does not exist")
    started = time.perf_counter()
    handle, partial = tempfile.mkstemp(prefix=f".{target_path.name}.", suffix=".partial",
                                       dir=target_path.parent)
    os.close(handle)
    try:
        source = sqlite3.connect(source_path, timeout=store.BUSY_TIMEOUT_MS / 1000)
        try:
            store.backup_into(source, partial)
        finally:
            source.close()
        details = inspect(partial)
        os.replace(partial, target_path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return {"backup": str(target_path), "bytes": target_path.stat().st_size, **details,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}


def _aside_path(db_path: Path, now: datetime) -> Path:
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = db_path.with_name(f"{db_path.name}.before-restore-{stamp}")
    number = 1
    while candidate.exists():  # two restores within a second keep both copies
        number += 1
        candidate = db_path.with_name(f"{db_path.name}.before-restore-{stamp}-{number}")
    return candidate


def restore(backup_path: str | os.PathLike[str], db_path: str | os.PathLike[str],
            now: datetime | None = None) -> dict:
    """Put the backup at ``backup_path`` in place of the store at ``db_path`` (module
    docstring); ``{"restored", "store", "kept_aside", "schema_version", "checkins"}``
    (``kept_aside`` None when there was no store). Raises ``BackupError``."""
    source_path, store_path = Path(backup_path), Path(db_path)
    details = inspect(source_path)
    if source_path.resolve() == store_path.resolve():
        raise BackupError("the backup is the store itself")
    aside = None
    if store_path.exists():
        try:
            target = store.lock_exclusive(store_path)
        except store.StoreInUse as exc:
            raise BackupError(str(exc)) from None
        try:
            aside = _aside_path(store_path, now or datetime.now(UTC))
            store.backup_into(target, aside)
            _replace(source_path, target)
        finally:
            target.close()
    else:
        backup(source_path, store_path)
    store.open_db(store_path).close()  # WAL on, and an older schema migrated
    return {"restored": str(source_path), "store": str(store_path),
            "kept_aside": str(aside) if aside else None, **details}


def _replace(source_path: Path, target: sqlite3.Connection) -> None:
    source = store.open_read_only(source_path)
    try:
        store.replace_contents(source, target)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the store was left as it was: {exc}") from None
    finally:
        source.close()
