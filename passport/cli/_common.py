"""Helpers shared by the CLI modules: --json output, the store, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from passport import store

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


def open_store():
    """Open the store named by $PASSPORT_DB (or the instance default) or fail in one line."""
    try:
        return store.open_db()
    except store.StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def emit(payload: Any, as_json: bool, text: Callable[[Any], str] | None = None) -> None:
    """Print ``payload`` as JSON, or as ``text(payload)`` for people."""
    if as_json or text is None:
        click.echo(json.dumps(payload, indent=2 if not as_json else None, default=str))
    else:
        click.echo(text(payload))


def fail(message: str) -> None:
    """Exit non-zero with ``Error: message`` on one line."""
    raise click.ClickException(message.replace("\n", " "))
