"""Helpers shared by the CLI modules: --json output, the store, one-line errors."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, NoReturn

import click

from passport import store

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


def open_store(*, must_exist: bool = False):
    """Open the store named by $PASSPORT_DB (or the instance default) or fail in one line.

    ``must_exist`` for commands that only read: a mistyped $PASSPORT_DB must not look like
    an empty store. An explicit $PASSPORT_DB folder is never created (only the default
    instance folder is).
    """
    path = store.default_db_path()
    if must_exist and not path.exists():
        fail(f"no passport store at {path}, so no participant list: check $PASSPORT_DB, "
             "or import a list first (passport import FILE)")
    if os.environ.get(store.DB_ENV_VAR) and not path.parent.is_dir():
        fail(f"the folder of $PASSPORT_DB does not exist: {path.parent}")
    try:
        return store.open_db(path)
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def emit(payload: Any, as_json: bool, text: Callable[[Any], str] | None = None) -> None:
    """Print ``payload`` as JSON, or as ``text(payload)`` for people."""
    if as_json or text is None:
        click.echo(json.dumps(payload, indent=2 if not as_json else None, default=str))
    else:
        click.echo(text(payload))


def fail(message: str) -> NoReturn:
    """Exit non-zero with ``Error: message`` on one line."""
    raise click.ClickException(message.replace("\n", " "))
