"""A real PostgreSQL database for the hub tests: one per test session, with a unique name,
dropped afterwards. PostgreSQL at ``$PASSPORT_TEST_POSTGRES_URL`` (default: the local
server, 127.0.0.1:5432, user postgres, trust auth). Unreachable: the hub tests skip with one
line on a developer machine, and fail under CI=true."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

SERVER_URL = os.environ.get("PASSPORT_TEST_POSTGRES_URL",
                            "postgresql://postgres@127.0.0.1:5432/postgres")
# Every table a test may fill; ``bundle_state`` is kept so sequences never repeat in a
# session (the hub caches signed bundles per sequence).
TABLES = ("checkins", "bundles", "hub_keys", "sites", "card_revocations", "issuer_keys",
          "list_drafts", "list_events", "institutions", "list_versions", "profiles", "users")


def _server_error() -> str | None:
    try:
        with psycopg.connect(SERVER_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def require_postgres() -> None:
    """Skip (fail under CI=true) when the server cannot be reached."""
    problem = _server_error()
    if problem is None:
        return
    message = f"PostgreSQL not reachable at {SERVER_URL} ({problem}): hub tests need it"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _with_db(name: str) -> str:
    base, _, _ = SERVER_URL.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database (its URL), dropped afterwards even if tests left connections."""
    require_postgres()
    name = f"passport_hub_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(name)
    finally:
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_tables(url: str) -> None:
    """Every hub table emptied (the schema stays), for the next test."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('profiles')").fetchone()[0]
        if exists is not None:
            conn.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
