"""Staff users (argon2 password hashes, roles desk/admin) and API tokens (sha256 stored).

A user row never leaves this module with its hash: callers get ``User``, whose
``session_stamp`` (a digest of the hash, which changes with the password) lets the kiosk end
sessions opened before a password change. An API token is
shown once at creation; the store keeps only its SHA-256, so a leaked database does not
leak usable tokens (the token is 256 random bits, so a plain hash is enough — no salt or
slow hash is needed the way it is for passwords).

Each token carries scopes (``SCOPES``); the kiosk's API names the one each endpoint needs.
A token's last use is kept to the minute: the hot path writes at most once a minute per
token, and never fails a request because that write could not be made.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from passport import audit, store

ROLES = ("desk", "admin")
TOKEN_PREFIX = "ppt_"
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_CHARS = 12  # for new passwords; existing ones keep working
# API token scopes and what each allows (kiosk/api.py maps every endpoint to one). A new
# token gets all of them unless it names some; migration 9 gave older tokens these four.
SCOPES = {
    "check": "decide admission and look up sites (check, eligible, institutions)",
    "checkins:read": "read the check-in log",
    "checkins:write": "log check-ins and undo them",
    "reports:read": "read visit reports",
}
LAST_USED_RESOLUTION = timedelta(minutes=1)

log = logging.getLogger(__name__)

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both paths take the same time."""
    return _hasher.hash("not a real password")


class AuthError(Exception):
    """A user or token request is invalid (bad name, weak password, unknown user...)."""


class UserExists(AuthError):
    """The username is already taken."""


class UnknownUser(AuthError):
    """No user with that username."""


class WrongPassword(AuthError):
    """The current password given to confirm a change is wrong."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    created_at: str
    disabled: bool
    session_stamp: str = ""  # changes whenever the password does


    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class ApiClient:
    """The caller an API token belongs to."""

    token_id: int
    name: str
    scopes: frozenset[str] = frozenset(SCOPES)

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def _session_stamp(password_hash: str) -> str:
    # A digest of the salted argon2 hash: safe to keep in the (signed, readable) session
    # cookie; it reveals nothing that helps guess the password.
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def _user(row: dict) -> User:
    return User(row["username"], row["role"], row["created_at"], bool(row["disabled"]),
                _session_stamp(row["password_hash"]))


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}, not {role!r}")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AuthError(f"password must be at least {MIN_PASSWORD_CHARS} characters")


def create_user(
    db: sqlite_utils.Database, username: str, password: str, role: str = "desk", *,
    actor: str | None = None,
) -> User:
    """Create a staff user with an argon2id hash of ``password`` (audited as ``actor``)."""
    check_new_user(username, password)
    _check_role(role)
    try:
        store.insert_user(db, username, _hasher.hash(password), role)
    except sqlite3.IntegrityError as exc:
        raise UserExists(f"user {username!r} already exists") from exc
    audit.record(db, actor, "user.created", username, {"role": role})
    return get_user(db, username)


def get_user(db: sqlite_utils.Database, username: str) -> User | None:
    row = store.get_user_row(db, username)
    return _user(row) if row else None


def list_users(db: sqlite_utils.Database) -> list[User]:
    return [_user(row) for row in store.list_user_rows(db)]


def check_password(row: dict | None, password: str) -> tuple[bool, str | None]:
    """Whether ``password`` is that of the enabled user ``row`` (None: no such user, checked
    against a dummy hash so that both take the same time), and the new hash to store when
    the argon2 parameters have changed since (else None). The kiosk's and the hub's users."""
    try:
        _hasher.verify(row["password_hash"] if row else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if row is None or row["disabled"]:
        return False, None
    if _hasher.check_needs_rehash(row["password_hash"]):
        return True, _hasher.hash(password)
    return True, None


def check_new_user(username: str, password: str) -> None:
    """AuthError for a username or a password a new user cannot have."""
    if not USERNAME_RE.match(username):
        raise AuthError(f"invalid username {username!r}: use 1-64 letters, digits, _ . @ -")
    _check_password(password)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def authenticate(db: sqlite_utils.Database, username: str, password: str) -> User | None:
    """The enabled user whose password matches, else None. Upgrades outdated hashes."""
    row = store.get_user_row(db, username)
    ok, rehashed = check_password(row, password)
    if not ok:
        return None
    if rehashed is not None:
        row = {**row, "password_hash": rehashed}
        store.update_user(db, username, password_hash=rehashed)
    return _user(row)


def set_password(db: sqlite_utils.Database, username: str, password: str, *,
                 actor: str | None = None) -> User:
    """Set a new password (an admin's reset, or the last step of ``change_password``);
    audited as ``actor`` (never the password)."""
    _check_password(password)
    if not store.update_user(db, username, password_hash=_hasher.hash(password)):
        raise UnknownUser(f"no user {username!r}")
    audit.record(db, actor, "user.password_changed", username,
                 {"own": actor == username})
    return get_user(db, username)


def change_password(
    db: sqlite_utils.Database, username: str, current_password: str, new_password: str
) -> User:
    """A user's own change: ``current_password`` must verify (``WrongPassword`` if not);
    the new one must be long enough and differ from it. Returns the updated user."""
    if authenticate(db, username, current_password) is None:
        raise WrongPassword("the current password is wrong")
    if new_password == current_password:
        raise AuthError("the new password must differ from the current one")
    return set_password(db, username, new_password, actor=username)


def set_disabled(db: sqlite_utils.Database, username: str, disabled: bool, *,
                 actor: str | None = None) -> None:
    """Disable or re-enable a user; the last enabled admin cannot be disabled. Audited."""
    user = get_user(db, username)
    if user is None:
        raise UnknownUser(f"no user {username!r}")
    if disabled and user.is_admin and not user.disabled and store.count_active_admins(db) <= 1:
        raise AuthError("cannot disable the last admin")
    store.update_user(db, username, disabled=int(disabled))
    audit.record(db, actor, "user.disabled" if disabled else "user.enabled", username)


def has_admin(db: sqlite_utils.Database) -> bool:
    return store.count_active_admins(db) > 0


def generate_password() -> str:
    """A random password for a generated first admin (about 120 bits)."""
    return secrets.token_urlsafe(15)


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_scopes(scopes: Iterable[str] | None) -> tuple[str, ...]:
    """``scopes`` validated, in ``SCOPES`` order; None means every scope."""
    if scopes is None:
        return tuple(SCOPES)
    wanted = {scope.strip() for scope in scopes}
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise AuthError(f"unknown scope {unknown[0]!r}: use {', '.join(SCOPES)}")
    if not wanted:
        raise AuthError(f"give a token at least one scope ({', '.join(SCOPES)})")
    return tuple(scope for scope in SCOPES if scope in wanted)


def create_token(db: sqlite_utils.Database, name: str, scopes: Iterable[str] | None = None,
                 *, actor: str | None = None) -> tuple[int, str]:
    """Create an API token named ``name`` with ``scopes`` (None: all of ``SCOPES``); return
    (id, token). The token is not stored (nor audited: the audit row names the token's id,
    name and scopes)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AuthError("token name must be 1-100 characters")
    granted = check_scopes(scopes)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = store.insert_api_token(db, name, _token_sha256(token), " ".join(granted))
    audit.record(db, actor, "token.created", str(token_id),
                 {"token_name": name, "scopes": list(granted)})
    return token_id, token


def verify_token(db: sqlite_utils.Database, token: str,
                 now: datetime | None = None) -> ApiClient | None:
    """The live (not revoked) token's client, else None; notes the use at ``now`` (default:
    the current time) when the last noted use is a minute old or more."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = store.get_live_api_token_row(db, _token_sha256(token))
    if row is None:
        return None
    _note_use(db, row, (now or datetime.now(UTC)).astimezone(UTC))
    return ApiClient(row["id"], row["name"], frozenset(row["scopes"].split()))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _note_use(db: sqlite_utils.Database, row: dict, now: datetime) -> None:
    last = row["last_used_at"]
    if last is not None and now - datetime.fromisoformat(last) < LAST_USED_RESOLUTION:
        return
    try:
        store.touch_api_token(db, row["id"], _iso(now), _iso(now - LAST_USED_RESOLUTION))
    except sqlite3.OperationalError as exc:
        # A read-only, full or locked store must not refuse a valid client: the last-used
        # time is information for admins, not part of the answer.
        log.warning("could not note the use of API token %s: %s", row["id"], exc)


def list_tokens(db: sqlite_utils.Database) -> list[dict]:
    """Tokens as ``{id, name, scopes (list), created_at, last_used_at, revoked_at}`` (never
    the token itself)."""
    return [{**row, "scopes": row["scopes"].split()} for row in store.list_api_token_rows(db)]


def find_token(db: sqlite_utils.Database, ref: str) -> int:
    """The id of the token ``ref`` names: digits are an id, anything else the name of one
    live token (``AuthError`` when no live token or several have that name)."""
    ref = ref.strip()
    if ref.isdigit():
        return int(ref)
    ids = store.live_api_token_ids_named(db, ref)
    if not ids:
        raise AuthError(f"no live API token named {ref!r}")
    if len(ids) > 1:
        raise AuthError(f"{len(ids)} live API tokens are named {ref!r} "
                        f"(ids {', '.join(map(str, ids))}): give the id")
    return ids[0]


def revoke_token(db: sqlite_utils.Database, token_id: int, *,
                 actor: str | None = None) -> None:
    """Revoke a live token (audited as ``actor``)."""
    if not store.revoke_api_token_row(db, token_id):
        raise AuthError(f"no live API token with id {token_id}")
    audit.record(db, actor, "token.revoked", str(token_id))
