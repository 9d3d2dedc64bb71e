"""The hub's admins: argon2id password hashes in PostgreSQL, as the kiosk's staff in SQLite
(``passport.auth``: the same username and password rules, the same ``User`` the pages read,
the same equal-time answer for an unknown name)."""

from __future__ import annotations

import functools
import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from passport import hubstore
from passport.auth import MIN_PASSWORD_CHARS, USERNAME_RE, AuthError, User, UserExists

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not a real password")


def _user(row: dict) -> User:
    stamp = hashlib.sha256(row["password_hash"].encode("utf-8")).hexdigest()[:16]
    return User(row["username"], row["role"], row["created_at"].isoformat(),
                bool(row["disabled"]), stamp)


def create_admin(pool: hubstore.Pool, username: str, password: str) -> User:
    """Add a hub admin; ``AuthError`` for a bad name or short password, ``UserExists``."""
    if not USERNAME_RE.match(username):
        raise AuthError(f"invalid username {username!r}: use 1-64 letters, digits, _ . @ -")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AuthError(f"password must be at least {MIN_PASSWORD_CHARS} characters")
    if not hubstore.insert_user(pool, username, _hasher.hash(password)):
        raise UserExists(f"user {username!r} already exists")
    return get_user(pool, username)


def get_user(pool: hubstore.Pool, username: str) -> User | None:
    row = hubstore.get_user_row(pool, username)
    return _user(row) if row else None


def authenticate(pool: hubstore.Pool, username: str, password: str) -> User | None:
    """The enabled admin whose password matches, else None."""
    row = hubstore.get_user_row(pool, username)
    try:
        _hasher.verify(row["password_hash"] if row else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or row["disabled"]:
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        row = {**row, "password_hash": _hasher.hash(password)}
        hubstore.update_password_hash(pool, username, row["password_hash"])
    return _user(row)
