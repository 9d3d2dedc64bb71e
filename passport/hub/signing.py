"""The hub's Ed25519 signing keys: created at init, rotated with a grace period.

A rotation adds a new key and sets the current ones to retire after ``grace``: meanwhile
the oldest key still signs and every bundle lists both under ``hub_keys``, so a site that
syncs in the grace period pins the new key before it is used (``bundle.apply`` follows the
list). Private keys are sealed at rest exactly as issuer keys are (``passport.keyvault``:
AES-256-GCM under ``$PASSPORT_SECRET_KEY`` or the instance secret file), with ``hub`` as
the institution part of the associated data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passport import bundle, hubstore, keyvault
from passport.hub import HubError

HUB_LABEL = "hub"
DEFAULT_GRACE = timedelta(days=7)


class NoHubKey(HubError):
    """The hub has no signing key yet (run ``passport hub init``)."""


def _public(row: dict) -> dict:
    return {"key_id": row["key_id"], "public_key": row["public_key"]}


def _new_key(pool: hubstore.Pool, retire_others_at: datetime | None) -> dict:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    key_id = bundle.hub_key_id(raw)
    blob = keyvault.encrypt_private(private, key_id, HUB_LABEL)
    hubstore.insert_hub_key(pool, key_id, bundle.public_key_text(raw), blob, retire_others_at)
    return {"key_id": key_id, "public_key": bundle.public_key_text(raw)}


def ensure_key(pool: hubstore.Pool) -> tuple[dict, bool]:
    """The signing key's public part, creating the first key when there is none; and
    whether it was created now."""
    if hubstore.count_hub_keys(pool) == 0:
        return _new_key(pool, None), True
    return current_keys(pool)[0], False


def rotate(pool: hubstore.Pool, grace: timedelta = DEFAULT_GRACE,
           now: datetime | None = None) -> dict:
    """Add a new key; the current ones retire after ``grace`` (0: at once)."""
    if grace < timedelta(0):
        raise HubError(f"the grace period cannot be negative: {grace}")
    now = now or datetime.now(UTC)
    if hubstore.count_hub_keys(pool) == 0:
        raise NoHubKey("the hub has no key to rotate yet: run `passport hub init`")
    key = _new_key(pool, now + grace)
    return {"new_key": key, "retire_at": (now + grace).isoformat(),
            "keys": current_keys(pool, now)}


def current_keys(pool: hubstore.Pool, now: datetime | None = None) -> list[dict]:
    """The keys not retired at ``now``, oldest (the signing one) first: ``[{"key_id",
    "public_key"}]`` (standard base64 of the raw 32 bytes), as bundles list them."""
    return [_public(row) for row in hubstore.hub_key_rows(pool, now or datetime.now(UTC))]


def private_key(row: dict) -> Ed25519PrivateKey:
    """The private key of a ``hub_keys`` row; ``HubError`` when the secret cannot open it."""
    try:
        return keyvault.decrypt_private(bytes(row["private_key"]), row["key_id"], HUB_LABEL)
    except keyvault.KeyStoreError as exc:
        raise HubError(str(exc)) from exc


def check_can_sign(pool: hubstore.Pool, now: datetime | None = None) -> dict:
    """The signing key (``current_keys``' first), once its private key has been opened with
    this process's secret: ``HubError`` saying what is missing, before a hub serves
    anything it could not sign."""
    rows = hubstore.hub_key_rows(pool, now or datetime.now(UTC))
    if not rows:
        raise HubError("the hub has no signing key: run `passport hub init`")
    private_key(rows[0])
    return _public(rows[0])
