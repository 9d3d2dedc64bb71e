"""Helpers for the bundle and sync tests: a hub key, signed bundles made with the real
``passport.bundle.sign``, and a snapshot of a store to compare before and after."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passport import bundle, store
from passport.importer import parse_file

SHIPPED_CSV = Path(__file__).resolve().parents[1] / "data" / "institutions.csv"
# A fixed instant: bundles are issued here and checked shortly after (no time of day).
ISSUED_AT = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
CHECKED_AT = ISSUED_AT + timedelta(hours=1)
EMPTY_TRUST = {"format": "passport-trust-list", "version": 1, "keys": [], "revoked_cards": []}


@dataclass(frozen=True)
class HubKey:
    private: Ed25519PrivateKey
    raw: bytes
    key_id: str

    @property
    def text(self) -> str:
        return bundle.public_key_text(self.raw)

    @property
    def entry(self) -> dict:
        return {"key_id": self.key_id, "public_key": self.text}


def new_hub_key() -> HubKey:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    return HubKey(private, raw, bundle.hub_key_id(raw))


@functools.cache
def _shipped() -> tuple[dict, ...]:
    return tuple(parse_file(SHIPPED_CSV).records)


def shipped_rows() -> list[dict]:
    """The shipped list's rows (fresh copies: a test may change them)."""
    return [dict(r) for r in _shipped()]


def make_bundle(key: HubKey, sequence: int, *, lists: dict | None = None,
                trust: dict | None = None, profiles: list | None = None,
                issued_at: datetime = ISSUED_AT, valid_for: timedelta = timedelta(days=7),
                hub_keys: list | None = None, signer: HubKey | None = None) -> bytes:
    """Bundle ``sequence`` signed by ``signer`` (default ``key``) naming ``key`` (or
    ``hub_keys``) as the hub's keys; lists default to the shipped list under ``astc``."""
    if lists is None:
        lists = {"astc": {"version": 1, "institutions": shipped_rows()}}
    content = bundle.build_content(
        sequence=sequence, issued_at=issued_at, valid_until=issued_at + valid_for,
        profiles=profiles or [], lists=lists, trust=trust or EMPTY_TRUST, crosswalk=[],
        hub_keys=hub_keys if hub_keys is not None else [key.entry])
    signer = signer or key
    return bundle.sign(content, signer.private, signer.key_id)


SNAPSHOT_TABLES = ("profiles", "list_versions", "institutions", "list_events", "issuer_keys",
                   "card_revocations", "applied_bundles", "hub_pinned_keys", "settings")


def snapshot(db) -> dict:
    """Every row of the tables a bundle touches (to hold a refused bundle to "changed
    nothing")."""
    return {table: db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
            for table in SNAPSHOT_TABLES}


def pin(db, key: HubKey) -> None:
    store.pin_hub_key(db, key.key_id, key.text, "test")
