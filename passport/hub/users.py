"""The hub's admins: argon2id password hashes in PostgreSQL, as the kiosk's staff in SQLite
(``passport.auth``: the same username and password rules, the same ``User`` the pages read,
the same equal-time answer for an unknown name)."""

from __future__ import annotations

import hashlib

from passport import hubstore
from passport.auth import User, UserExists, check_new_user, check_password, hash_password


def _user(row: dict) -> User:
    stamp = hashlib.sha256(row["password_hash"].encode("utf-8")).hexdigest()[:16]
    return User(row["username"], row["role"], row["created_at"].isoformat(),
                bool(row["disabled"]), stamp)


def create_admin(pool: hubstore.Pool, username: str, password: str) -> User:
    """Add a hub admin; ``AuthError`` for a bad name or short password, ``UserExists``."""
    check_new_user(username, password)
    if not hubstore.insert_user(pool, username, hash_password(password)):
        raise UserExists(f"user {username!r} already exists")
    return get_user(pool, username)


def get_user(pool: hubstore.Pool, username: str) -> User | None:
    row = hubstore.get_user_row(pool, username)
    return _user(row) if row else None


def authenticate(pool: hubstore.Pool, username: str, password: str) -> User | None:
    """The enabled admin whose password matches, else None (``passport.auth``'s check)."""
    row = hubstore.get_user_row(pool, username)
    ok, rehashed = check_password(row, password)
    if not ok:
        return None
    if rehashed is not None:
        row = {**row, "password_hash": rehashed}
        hubstore.update_password_hash(pool, username, rehashed)
    return _user(row)
