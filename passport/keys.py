"""Issuer signing keys (Ed25519), their encryption at rest, revocations and the trust list.

Each issuing institution holds one or more Ed25519 key pairs. A key id is the first 6 bytes
of SHA-256 over the raw 32-byte public key, written as 12 lowercase hex digits, so anyone
can recompute it from the public key and a trust list cannot pair a key with a wrong id.

Key life cycle:

- ``create_key`` makes an institution's first key; ``rotate_key`` adds a new one. The newest
  usable key signs new cards; older keys keep verifying the cards they signed.
- ``retire_key`` ends an old key in an orderly way (cards it signed no longer verify:
  ``KEY_UNKNOWN``); ``revoke_key`` is for a compromised key (its cards get ``CARD_REVOKED``).
  Both drop the private key from the store.
- ``revoke_card`` revokes every card of one member of one institution (``CARD_REVOKED``).

Private keys are encrypted at rest with AES-256-GCM under a key derived (HKDF-SHA256) from
``$PASSPORT_SECRET_KEY`` when set, else from the file ``card-keys.secret`` in the instance
folder, created on first use with 0600 permissions. Neither belongs in the repository; losing
the secret means re-creating keys (the public keys and cards stay verifiable).

The trust list (``export_trust`` / ``import_trust``) is versioned JSON holding every public
key with its status and every card revocation; kiosks verify cards offline against it.
``trust_snapshot`` keeps a store's keys and revocations in memory for ``cards.verify``,
re-read after any key or revocation write (the store stamps each one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import sqlite_utils
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from passport import store
from passport.ids import is_institution_id, is_key_id

log = logging.getLogger(__name__)

KEY_ID_BYTES = 6
SECRET_ENV_VAR = "PASSPORT_SECRET_KEY"
SECRET_FILENAME = "card-keys.secret"
MIN_SECRET_CHARS = 16
TRUST_FORMAT = "passport-trust-list"
TRUST_VERSION = 1

ACTIVE, RETIRED, REVOKED = "active", "retired", "revoked"

# Institution ids on the participant lists are slugs; a member id is the issuer's own
# reference. Both go on cards, so both are limited to printable text without spaces at the ends.
_BLOB_MAGIC = b"PK1"
_HKDF_INFO = b"passport issuer private keys v1"


class KeyStoreError(Exception):
    """A key operation cannot be done: unknown key, no signing key, unreadable secret."""


class TrustListError(ValueError):
    """A trust list is not valid; ``errors`` lists every problem found, nothing was changed."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"trust list rejected ({len(errors)} problem(s)): " + "; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class TrustedKey:
    """One public key as a verifier sees it."""

    key_id: str
    institution_id: str
    public_key: Ed25519PublicKey
    status: str  # ACTIVE, RETIRED or REVOKED


# ----------------------------------------------------------------------------- helpers

def key_id_for(public_raw: bytes) -> str:
    """The key id of a raw 32-byte Ed25519 public key (12 hex digits)."""
    return hashlib.sha256(public_raw).digest()[:KEY_ID_BYTES].hex()


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64u(text: str) -> bytes:
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _status(row: Mapping[str, Any]) -> str:
    if row["revoked_at"]:
        return REVOKED
    if row["retired_at"]:
        return RETIRED
    return ACTIVE


def check_institution_id(institution_id: str) -> str:
    """Return ``institution_id`` or raise ``ValueError`` naming it."""
    if not is_institution_id(institution_id):
        raise ValueError(f"not a valid institution id: {institution_id!r}")
    return institution_id


@lru_cache(maxsize=4096)
def _public_key(public_b64u: str) -> Ed25519PublicKey:
    # Cached: verifying a card must not re-parse the same key every time.
    return Ed25519PublicKey.from_public_bytes(_unb64u(public_b64u))


def _trusted(row: Mapping[str, Any]) -> TrustedKey:
    return TrustedKey(row["key_id"], row["institution_id"], _public_key(row["public_key"]),
                      _status(row))


# ----------------------------------------------------------------------------- secret

def _secret_bytes(create: bool) -> bytes:
    env = os.environ.get(SECRET_ENV_VAR)
    if env:
        if len(env) < MIN_SECRET_CHARS:
            raise KeyStoreError(f"${SECRET_ENV_VAR} is shorter than {MIN_SECRET_CHARS} characters")
        return env.encode("utf-8")
    path = store.default_instance_dir() / SECRET_FILENAME
    if not path.exists():
        if not create:
            raise KeyStoreError(f"no key secret: set ${SECRET_ENV_VAR} or restore {path}")
        _create_secret_file(path)
    mode = path.stat().st_mode
    if mode & 0o077:
        raise KeyStoreError(f"{path} is readable by others; run: chmod 600 {path}")
    text = path.read_text(encoding="ascii").strip()
    if len(text) < MIN_SECRET_CHARS:
        raise KeyStoreError(f"{path} holds no usable secret")
    return text.encode("ascii")


def _create_secret_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes creating keys at once must not overwrite each other's secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    log.info("created key secret %s", path)


def _aead(create: bool) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        _secret_bytes(create)
    )
    return AESGCM(key)


def _encrypt_private(private: Ed25519PrivateKey, key_id: str, institution_id: str) -> bytes:
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    nonce = os.urandom(12)
    # The key id and institution are bound in as associated data: a blob copied onto
    # another row does not decrypt.
    aad = f"{key_id}|{institution_id}".encode()
    return _BLOB_MAGIC + nonce + _aead(create=True).encrypt(nonce, raw, aad)


def _decrypt_private(blob: bytes, key_id: str, institution_id: str) -> Ed25519PrivateKey:
    blob = bytes(blob)
    if not blob.startswith(_BLOB_MAGIC):
        raise KeyStoreError(f"private key of {key_id} is in an unknown format")
    nonce, sealed = blob[3:15], blob[15:]
    aad = f"{key_id}|{institution_id}".encode()
    try:
        raw = _aead(create=False).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise KeyStoreError(
            f"cannot decrypt the private key of {key_id}: wrong ${SECRET_ENV_VAR} "
            "or instance secret file"
        ) from None
    return Ed25519PrivateKey.from_private_bytes(raw)


# ----------------------------------------------------------------------------- keys

def _key_info(row: Mapping[str, Any]) -> dict:
    return {
        "key_id": row["key_id"],
        "institution_id": row["institution_id"],
        "status": _status(row),
        "created_at": row["created_at"],
        "retired_at": row["retired_at"],
        "revoked_at": row["revoked_at"],
        "public_key": row["public_key"],
        "has_private_key": bool(row["has_private_key"]) if "has_private_key" in row
        else row.get("private_key") is not None,
    }


def list_keys(db: sqlite_utils.Database, institution_id: str | None = None) -> list[dict]:
    """Every key (optionally of one institution), oldest first, without private keys.

    ``signing`` marks the key that signs new cards of its institution in this store.
    """
    found = [_key_info(row) for row in store.list_issuer_key_rows(db, institution_id)]
    signer: dict[str, dict] = {}
    for key in found:  # oldest first, so the newest usable key wins
        key["signing"] = False
        if key["status"] == ACTIVE and key["has_private_key"]:
            signer[key["institution_id"]] = key
    for key in signer.values():
        key["signing"] = True
    return found


def _new_key(db: sqlite_utils.Database, institution_id: str) -> dict:
    private = Ed25519PrivateKey.generate()
    public_raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    key_id = key_id_for(public_raw)
    blob = _encrypt_private(private, key_id, institution_id)
    store.insert_issuer_key(db, key_id, institution_id, _b64u(public_raw), blob,
                            store.utc_now_iso())
    log.info("created card key %s for %s", key_id, institution_id)
    return _key_info(store.get_issuer_key_row(db, key_id))


def create_key(db: sqlite_utils.Database, institution_id: str) -> dict:
    """Create an institution's first signing key; refuse if it already has a usable one."""
    check_institution_id(institution_id)
    if store.signing_key_row(db, institution_id) is not None:
        raise KeyStoreError(f"{institution_id} already has a signing key; use rotate")
    return _new_key(db, institution_id)


def rotate_key(db: sqlite_utils.Database, institution_id: str) -> dict:
    """Add a new signing key; older keys keep verifying their cards until retired."""
    check_institution_id(institution_id)
    if store.signing_key_row(db, institution_id) is None:
        raise KeyStoreError(f"{institution_id} has no signing key to rotate; use create")
    return _new_key(db, institution_id)


def _end_key(db: sqlite_utils.Database, key_id: str, column: str) -> dict:
    if store.get_issuer_key_row(db, key_id) is None:
        raise KeyStoreError(f"unknown key id: {key_id!r}")
    store.end_issuer_key(db, key_id, column, store.utc_now_iso())
    return _key_info(store.get_issuer_key_row(db, key_id))


def retire_key(db: sqlite_utils.Database, key_id: str) -> dict:
    """Retire a key: it signs nothing more and its cards stop verifying (KEY_UNKNOWN)."""
    return _end_key(db, key_id, "retired_at")


def revoke_key(db: sqlite_utils.Database, key_id: str) -> dict:
    """Revoke a (compromised) key: every card it signed gets CARD_REVOKED."""
    return _end_key(db, key_id, "revoked_at")


def signing_key(db: sqlite_utils.Database, institution_id: str) -> tuple[str, Ed25519PrivateKey]:
    """(key id, private key) that signs new cards of ``institution_id``."""
    row = store.signing_key_row(db, institution_id)
    if row is None:
        raise KeyStoreError(
            f"{institution_id} has no signing key; run: passport keys create "
            f"--institution {institution_id}"
        )
    return row["key_id"], _decrypt_private(row["private_key"], row["key_id"], institution_id)


def trusted_key(db: sqlite_utils.Database, key_id: str) -> TrustedKey | None:
    """The public key ``key_id`` with its status, or None when the store does not know it."""
    row = store.get_issuer_key_row(db, key_id)
    return _trusted(row) if row is not None else None


def load_trust(db: sqlite_utils.Database) -> tuple[dict[str, TrustedKey], set[tuple[str, str]]]:
    """Every known key by id and every revoked (institution id, member id), for
    ``passport.cards.verify_with_trust``."""
    keys = {row["key_id"]: _trusted(row) for row in store.list_issuer_key_rows(db)}
    revoked = {(r["institution_id"], r["member_id"]) for r in store.list_card_revocation_rows(db)}
    return keys, revoked


TrustSnapshot = tuple[Mapping[str, TrustedKey], frozenset[tuple[str, str]]]
# stamp -> snapshot, or None when that stamp's rows hold an unreadable key (read row by row)
_snapshots: dict[str, TrustSnapshot | None] = {}
_NOT_READ = object()
_snapshots_lock = threading.Lock()
_SNAPSHOTS_MAX = 8  # a few stores per process at most (tests open many)


def trust_snapshot(db: sqlite_utils.Database) -> TrustSnapshot | None:
    """``load_trust(db)`` read-only, kept in memory while the store's trust stamp holds.

    Costs one primary-key read of the stamp; the keys and revocations are read again only
    after a key or revocation write (every such write in ``passport.store`` sets a new
    random stamp in the same transaction), from this connection or any other process, so a
    revocation takes effect on the next check. None when the store was never stamped (its
    rows predate the stamp) or a key row under this stamp is unreadable (edited by hand):
    then look rows up one by one (``trusted_key``, ``is_card_revoked``).
    """
    stamp = store.get_trust_stamp(db)
    if stamp is None:
        return None
    found = _snapshots.get(stamp, _NOT_READ)
    if found is not _NOT_READ:
        return found
    try:
        keys, revoked = load_trust(db)
        found = (MappingProxyType(keys), frozenset(revoked))
    except ValueError:  # a key row edited by hand into garbage: let only its cards fail,
        found = None    # and do not read every row again on each check under this stamp
    # Rows read after the stamp are at least as new as it; keep them only if no write
    # slipped in between (else the next check reads them again under the new stamp).
    if store.get_trust_stamp(db) == stamp:
        with _snapshots_lock:
            while len(_snapshots) >= _SNAPSHOTS_MAX:
                _snapshots.pop(next(iter(_snapshots)))
            _snapshots[stamp] = found
    return found


# ----------------------------------------------------------------------------- card revocations

def revoke_card(
    db: sqlite_utils.Database, institution_id: str, member_id: str, reason: str | None = None
) -> bool:
    """Revoke every card of ``member_id`` issued by ``institution_id``; False if already."""
    check_institution_id(institution_id)
    if not isinstance(member_id, str) or not member_id.strip():
        raise ValueError(f"not a valid member id: {member_id!r}")
    return store.insert_card_revocation(db, institution_id, member_id, store.utc_now_iso(),
                                        reason)


def is_card_revoked(db: sqlite_utils.Database, institution_id: str, member_id: str) -> bool:
    return store.is_card_revoked(db, institution_id, member_id)


# ----------------------------------------------------------------------------- trust list

def export_trust(db: sqlite_utils.Database) -> dict:
    """The trust list as a JSON-ready dict (public keys only)."""
    return {
        "format": TRUST_FORMAT,
        "version": TRUST_VERSION,
        "generated_at": store.utc_now_iso(),
        "keys": [
            {
                "key_id": k["key_id"],
                "institution_id": k["institution_id"],
                "algorithm": "Ed25519",
                "public_key": k["public_key"],
                "created_at": k["created_at"],
                "retired_at": k["retired_at"],
                "revoked_at": k["revoked_at"],
            }
            for k in list_keys(db)
        ],
        "revoked_cards": [
            {
                "institution_id": r["institution_id"],
                "member_id": r["member_id"],
                "revoked_at": r["revoked_at"],
                "reason": r["reason"],
            }
            for r in store.list_card_revocation_rows(db)
        ],
    }


def _check_time(value: Any, where: str, errors: list[str], optional: bool) -> None:
    if value is None and optional:
        return
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        errors.append(f"{where}: not an ISO 8601 time: {value!r}")


def validate_trust(data: Any, db: sqlite_utils.Database | None = None) -> list[str]:
    """Every problem of a trust list (empty when valid); with ``db``, also conflicts with it."""
    if not isinstance(data, dict):
        return ["the trust list is not a JSON object"]
    errors: list[str] = []
    if data.get("format") != TRUST_FORMAT:
        errors.append(f"format is not {TRUST_FORMAT!r}: {data.get('format')!r}")
    if data.get("version") != TRUST_VERSION:
        errors.append(f"unsupported trust list version: {data.get('version')!r}")
    keys, cards = data.get("keys"), data.get("revoked_cards", [])
    if not isinstance(keys, list):
        errors.append("keys is not a list")
        keys = []
    if not isinstance(cards, list):
        errors.append("revoked_cards is not a list")
        cards = []
    seen: set[str] = set()
    stored = ({row["key_id"]: row for row in store.list_issuer_key_rows(db)}
              if db is not None else {})
    for n, key in enumerate(keys):
        where = f"keys[{n}]"
        if not isinstance(key, dict):
            errors.append(f"{where}: not an object")
            continue
        key_id = key.get("key_id")
        where = f"keys[{n}] ({key_id})"
        if key.get("algorithm", "Ed25519") != "Ed25519":
            errors.append(f"{where}: unsupported algorithm {key.get('algorithm')!r}")
        try:
            check_institution_id(key.get("institution_id"))
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
        try:
            raw = _unb64u(key.get("public_key"))
            Ed25519PublicKey.from_public_bytes(raw)
        except (ValueError, TypeError, binascii.Error):
            errors.append(f"{where}: public_key is not a base64url Ed25519 key")
            raw = None
        if not is_key_id(key_id):
            errors.append(f"{where}: key_id is not 12 hex digits")
        elif raw is not None and key_id_for(raw) != key_id:
            errors.append(f"{where}: key_id does not match the public key")
        elif key_id in seen:
            errors.append(f"{where}: key_id appears twice")
        _check_time(key.get("created_at"), where, errors, optional=False)
        _check_time(key.get("retired_at"), where, errors, optional=True)
        _check_time(key.get("revoked_at"), where, errors, optional=True)
        if isinstance(key_id, str):  # a list or object here is an error above, not a crash
            seen.add(key_id)
            known = stored.get(key_id)
            if known is not None and (known["public_key"] != key.get("public_key")
                                      or known["institution_id"] != key.get("institution_id")):
                errors.append(f"{where}: conflicts with the key of that id in this store")
    for n, card in enumerate(cards):
        where = f"revoked_cards[{n}]"
        if not isinstance(card, dict):
            errors.append(f"{where}: not an object")
            continue
        try:
            check_institution_id(card.get("institution_id"))
        except ValueError as exc:
            errors.append(f"{where}: {exc}")
        member = card.get("member_id")
        if not isinstance(member, str) or not member.strip():
            errors.append(f"{where}: member_id is missing")
        _check_time(card.get("revoked_at"), where, errors, optional=False)
        if card.get("reason") is not None and not isinstance(card.get("reason"), str):
            errors.append(f"{where}: reason is not text")
    return errors


def import_trust(db: sqlite_utils.Database, data: Any) -> dict:
    """Merge a trust list into the store: all or nothing.

    Raises ``TrustListError`` listing every bad entry; then nothing is changed. Known keys
    only ever move towards retired/revoked. Returns counts of what was added.
    """
    errors = validate_trust(data, db)
    if errors:
        raise TrustListError(errors)
    keys = [
        {name: key.get(name) for name in
         ("key_id", "institution_id", "public_key", "created_at", "retired_at", "revoked_at")}
        for key in data["keys"]
    ]
    cards = [
        {name: card.get(name) for name in ("institution_id", "member_id", "revoked_at", "reason")}
        for card in data.get("revoked_cards", [])
    ]
    keys_added, cards_added = store.import_trust_rows(db, keys, cards)
    return {"keys": len(keys), "keys_added": keys_added,
            "revoked_cards": len(cards), "revoked_cards_added": cards_added}
