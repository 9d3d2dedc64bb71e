"""The trust list: public keys as verifiers see them, card revocations, export and import.

- ``revoke_card`` revokes every card of one member of one institution (``CARD_REVOKED``).
- ``export_trust`` / ``import_trust``: versioned JSON holding every public key with its
  status and every card revocation; kiosks verify cards offline against it. An import is all
  or nothing (``validate_trust`` lists every problem).
- ``trust_snapshot`` keeps a store's keys and revocations in memory for ``cards.verify``,
  re-read after any key or revocation write (the store stamps each one).

Keys themselves are made, rotated and ended in ``passport.keys``.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from passport import audit, store
from passport.ids import check_institution_id, is_key_id
from passport.keys import b64u_decode, key_id_for, key_status, list_keys
from passport.memo import BoundedCache

TRUST_FORMAT = "passport-trust-list"
TRUST_VERSION = 1


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
    status: str  # keys.ACTIVE, keys.RETIRED or keys.REVOKED


@lru_cache(maxsize=4096)
def _public_key(public_b64u: str) -> Ed25519PublicKey:
    # Cached: verifying a card must not re-parse the same key every time.
    return Ed25519PublicKey.from_public_bytes(b64u_decode(public_b64u))


def _trusted(row: Mapping[str, Any]) -> TrustedKey:
    return TrustedKey(row["key_id"], row["institution_id"], _public_key(row["public_key"]),
                      key_status(row))


# ----------------------------------------------------------------------------- keys in memory

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
# stamp -> snapshot, or None when that stamp's rows hold an unreadable key (read row by row);
# a few stores per process at most (tests open many)
_snapshots: BoundedCache[str, TrustSnapshot | None] = BoundedCache(8)
_NOT_READ = object()


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
        _snapshots.put(stamp, found)
    return found


# ----------------------------------------------------------------------------- card revocations

def revoke_card(
    db: sqlite_utils.Database, institution_id: str, member_id: str, reason: str | None = None,
    *, actor: str | None = None,
) -> bool:
    """Revoke every card of ``member_id`` issued by ``institution_id``; False if already.
    Audited as ``actor`` (the member id, not the reason's free text)."""
    check_institution_id(institution_id)
    if not isinstance(member_id, str) or not member_id.strip():
        raise ValueError(f"not a valid member id: {member_id!r}")
    added = store.insert_card_revocation(db, institution_id, member_id, store.utc_now_iso(),
                                         reason)
    audit.record(db, actor, "card.revoked", f"{institution_id}/{member_id}",
                 {"institution_id": institution_id, "member_id": member_id,
                  "newly_revoked": added})
    return added


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


def _check_envelope(data: dict, errors: list[str]) -> tuple[list, list]:
    """Format and version; the ``keys`` and ``revoked_cards`` lists ([] when not lists)."""
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
    return keys, cards


def _check_key(n: int, key: Any, seen: set[str], stored: Mapping[str, Mapping[str, Any]],
               errors: list[str]) -> None:
    """One entry of ``keys``: its fields, its id against its public key, the store's keys."""
    if not isinstance(key, dict):
        errors.append(f"keys[{n}]: not an object")
        return
    key_id = key.get("key_id")
    where = f"keys[{n}] ({key_id})"
    if key.get("algorithm", "Ed25519") != "Ed25519":
        errors.append(f"{where}: unsupported algorithm {key.get('algorithm')!r}")
    try:
        check_institution_id(key.get("institution_id"))
    except ValueError as exc:
        errors.append(f"{where}: {exc}")
    try:
        raw = b64u_decode(key.get("public_key"))
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


def _check_revoked_card(n: int, card: Any, errors: list[str]) -> None:
    """One entry of ``revoked_cards``."""
    where = f"revoked_cards[{n}]"
    if not isinstance(card, dict):
        errors.append(f"{where}: not an object")
        return
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


def validate_trust(data: Any, db: sqlite_utils.Database | None = None) -> list[str]:
    """Every problem of a trust list (empty when valid); with ``db``, also conflicts with it."""
    if not isinstance(data, dict):
        return ["the trust list is not a JSON object"]
    errors: list[str] = []
    keys, cards = _check_envelope(data, errors)
    seen: set[str] = set()
    stored = ({row["key_id"]: row for row in store.list_issuer_key_rows(db)}
              if db is not None else {})
    for n, key in enumerate(keys):
        _check_key(n, key, seen, stored, errors)
    for n, card in enumerate(cards):
        _check_revoked_card(n, card, errors)
    return errors


def import_trust(db: sqlite_utils.Database, data: Any, *, actor: str | None = None) -> dict:
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
    result = {"keys": len(keys), "keys_added": keys_added,
              "revoked_cards": len(cards), "revoked_cards_added": cards_added}
    audit.record(db, actor, "trust.imported", None, result)
    return result
