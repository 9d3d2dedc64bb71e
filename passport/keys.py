"""Issuer signing keys (Ed25519): their life cycle in the store.

Each issuing institution holds one or more Ed25519 key pairs. A key id is the first 6 bytes
of SHA-256 over the raw 32-byte public key, written as 12 lowercase hex digits, so anyone
can recompute it from the public key and a trust list cannot pair a key with a wrong id.

- ``create_key`` makes an institution's first key; ``rotate_key`` adds a new one. The newest
  usable key signs new cards; older keys keep verifying the cards they signed.
- ``retire_key`` ends an old key in an orderly way (cards it signed no longer verify:
  ``KEY_UNKNOWN``); ``revoke_key`` is for a compromised key (its cards get ``CARD_REVOKED``).
  Both drop the private key from the store.
- ``signing_key`` is the (key id, private key) that signs an institution's new cards.

Private keys are stored encrypted (``passport.keyvault``); public keys, their status and
card revocations travel to verifiers in the trust list (``passport.trust``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Any

import sqlite_utils
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passport import audit, store
from passport.ids import check_institution_id
from passport.keyvault import KeyStoreError, decrypt_private, encrypt_private

__all__ = [
    "ACTIVE", "KEY_ID_BYTES", "RETIRED", "REVOKED", "KeyStoreError", "b64u_decode",
    "b64u_encode", "create_key", "key_id_for", "key_status", "list_keys", "retire_key",
    "revoke_key", "rotate_key", "signing_key",
]

log = logging.getLogger(__name__)

KEY_ID_BYTES = 6

ACTIVE, RETIRED, REVOKED = "active", "retired", "revoked"


def key_id_for(public_raw: bytes) -> str:
    """The key id of a raw 32-byte Ed25519 public key (12 hex digits)."""
    return hashlib.sha256(public_raw).digest()[:KEY_ID_BYTES].hex()


def b64u_encode(data: bytes) -> str:
    """Unpadded base64url, as public keys are written in the store and the trust list."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """The bytes of unpadded base64url text; ``ValueError`` when it is not base64url."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_status(row: Mapping[str, Any]) -> str:
    """ACTIVE, RETIRED or REVOKED for a key row of the store."""
    if row["revoked_at"]:
        return REVOKED
    if row["retired_at"]:
        return RETIRED
    return ACTIVE


def _key_info(row: Mapping[str, Any]) -> dict:
    return {
        "key_id": row["key_id"],
        "institution_id": row["institution_id"],
        "status": key_status(row),
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
    blob = encrypt_private(private, key_id, institution_id)
    store.insert_issuer_key(db, key_id, institution_id, b64u_encode(public_raw), blob,
                            store.utc_now_iso())
    log.info("created card key %s for %s", key_id, institution_id)
    return _key_info(store.get_issuer_key_row(db, key_id))


def _audited(db: sqlite_utils.Database, actor: str | None, action: str, key: dict) -> dict:
    audit.record(db, actor, action, key["key_id"], {"institution_id": key["institution_id"]})
    return key


def create_key(db: sqlite_utils.Database, institution_id: str, *,
               actor: str | None = None) -> dict:
    """Create an institution's first signing key; refuse if it already has a usable one."""
    check_institution_id(institution_id)
    if store.signing_key_row(db, institution_id) is not None:
        raise KeyStoreError(f"{institution_id} already has a signing key; use rotate")
    return _audited(db, actor, "key.created", _new_key(db, institution_id))


def rotate_key(db: sqlite_utils.Database, institution_id: str, *,
               actor: str | None = None) -> dict:
    """Add a new signing key; older keys keep verifying their cards until retired."""
    check_institution_id(institution_id)
    if store.signing_key_row(db, institution_id) is None:
        raise KeyStoreError(f"{institution_id} has no signing key to rotate; use create")
    return _audited(db, actor, "key.rotated", _new_key(db, institution_id))


def _end_key(db: sqlite_utils.Database, key_id: str, column: str) -> dict:
    if store.get_issuer_key_row(db, key_id) is None:
        raise KeyStoreError(f"unknown key id: {key_id!r}")
    store.end_issuer_key(db, key_id, column, store.utc_now_iso())
    return _key_info(store.get_issuer_key_row(db, key_id))


def retire_key(db: sqlite_utils.Database, key_id: str, *, actor: str | None = None) -> dict:
    """Retire a key: it signs nothing more and its cards stop verifying (KEY_UNKNOWN)."""
    return _audited(db, actor, "key.retired", _end_key(db, key_id, "retired_at"))


def revoke_key(db: sqlite_utils.Database, key_id: str, *, actor: str | None = None) -> dict:
    """Revoke a (compromised) key: every card it signed gets CARD_REVOKED."""
    return _audited(db, actor, "key.revoked", _end_key(db, key_id, "revoked_at"))


def signing_key(db: sqlite_utils.Database, institution_id: str) -> tuple[str, Ed25519PrivateKey]:
    """(key id, private key) that signs new cards of ``institution_id``."""
    row = store.signing_key_row(db, institution_id)
    if row is None:
        raise KeyStoreError(
            f"{institution_id} has no signing key; run: passport keys create "
            f"--institution {institution_id}"
        )
    return row["key_id"], decrypt_private(row["private_key"], row["key_id"], institution_id)
