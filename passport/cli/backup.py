"""``passport backup FILE`` and ``passport restore FILE``: the work is ``passport.backup``."""

from __future__ import annotations

from pathlib import Path

import click

from passport import audit, backup, store
from passport.cli import main
from passport.cli.common import emit, fail, json_option


def _backup_text(result: dict) -> str:
    return (f"Backed up {result['checkins']} check-ins (schema {result['schema_version']}, "
            f"integrity ok) to {result['backup']}: {result['bytes']:,} bytes in "
            f"{result['elapsed_ms']} ms.")


def _restore_text(result: dict) -> str:
    aside = (f"; the previous store is kept as {result['kept_aside']}"
             if result["kept_aside"] else "")
    return (f"Restored {result['restored']} ({result['checkins']} check-ins, schema "
            f"{result['schema_version']}) into {result['store']}{aside}.")


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def backup_command(file: Path, as_json: bool) -> None:
    """Write a consistent copy of the store to FILE (a new file), safe while the kiosk is
    serving and logging check-ins (SQLite's online backup API); the copy passes PRAGMA
    integrity_check before it gets its name.

    \b
    Example:
      passport backup backups/passport-$(date +%F).sqlite --json
    """
    try:
        result = backup.backup(store.default_db_path(), file)
    except backup.BackupError as exc:
        fail(str(exc))
    emit(result, as_json, _backup_text)


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@json_option
def restore_command(file: Path, as_json: bool) -> None:
    """Replace the store with the backup FILE. Stop the kiosk first (a restore refuses
    while the store is open elsewhere). The backup must pass PRAGMA integrity_check and
    have a schema no newer than this passport's; the current store is kept as
    <name>.before-restore-<UTC stamp>, and the backup is written over it in one
    transaction.

    \b
    Example:
      passport restore backups/passport-2026-06-15.sqlite --json
    """
    db_path = store.default_db_path()
    try:
        result = backup.restore(file, db_path)
    except backup.BackupError as exc:
        fail(str(exc))
    db = store.open_db(db_path)
    try:
        audit.record(db, audit.cli_actor(), "store.restored", file.name,
                     {"kept_aside": result["kept_aside"] and Path(result["kept_aside"]).name})
    finally:
        db.close()
    emit(result, as_json, _restore_text)
