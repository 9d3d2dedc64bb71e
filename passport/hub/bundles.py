"""The bundle the hub serves: built from PostgreSQL, signed with the hub's key
(``passport.bundle.build_content`` / ``sign``), stored once per sequence and kept in memory.

Every change a bundle carries moves ``bundle_state.sequence`` in the changing transaction
(``hubstore``). ``current`` reads that sequence with the signed bundle's digest (one
primary-key read) and answers from memory when this process has the bytes already, so
thousands of desks polling with ``If-None-Match`` cost one small query each. A sequence is
signed once: the first worker to store it wins and every worker serves those bytes, so the
ETag is the same whichever worker answers. A bundle older than ``refresh_after`` is issued
again under the next sequence before it nears ``valid_until``.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from passport import bundle, hubstore
from passport.hub import HubError
from passport.hub.signing import NoHubKey, private_key
from passport.trust import TRUST_FORMAT, TRUST_VERSION

VALID_FOR = timedelta(days=7)
REFRESH_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Signed:
    """One signed bundle: its sequence, ETag (quotes included) and bytes."""

    sequence: int
    etag: str
    body: bytes


_lock = threading.Lock()
_cache: dict[tuple[int, int], Signed] = {}  # (id of the pool, sequence) -> newest signed


def trust_part(source: dict, issued_at: datetime) -> dict:
    """The trust list as ``passport trust export`` writes it, from the hub's rows."""
    keys = [{"key_id": k["key_id"], "institution_id": k["institution_id"],
             "algorithm": "Ed25519", "public_key": k["public_key"],
             "created_at": k["created_at"], "retired_at": k["retired_at"],
             "revoked_at": k["revoked_at"]} for k in source["keys"]]
    cards = [dict(r) for r in source["revocations"]]
    return {"format": TRUST_FORMAT, "version": TRUST_VERSION,
            "generated_at": issued_at.isoformat(), "keys": keys, "revoked_cards": cards}


def build(pool: hubstore.Pool, now: datetime, valid_for: timedelta = VALID_FOR) -> dict:
    """Sign the current sequence's bundle and store it (unless a worker already did):
    ``{"sequence", "sha256", "key_id", "bytes"}`` of the one built here."""
    source = hubstore.bundle_source(pool, now)
    if not source["hub_keys"]:
        raise NoHubKey("the hub has no signing key: run `passport hub init`")
    signer = source["hub_keys"][0]
    content = bundle.build_content(
        sequence=source["sequence"], issued_at=now, valid_until=now + valid_for,
        profiles=source["profiles"],
        lists={name: {"version": part["version"], "institutions": part["institutions"]}
               for name, part in source["lists"].items()},
        trust=trust_part(source, now), crosswalk=[],
        hub_keys=[{"key_id": k["key_id"], "public_key": k["public_key"]}
                  for k in source["hub_keys"]])
    body = bundle.sign(content, private_key(signer), signer["key_id"])
    sha256 = hashlib.sha256(body).hexdigest()
    hubstore.store_bundle(pool, {"sequence": source["sequence"], "issued_at": now,
                                 "valid_until": now + valid_for, "key_id": signer["key_id"],
                                 "sha256": sha256, "body": body})
    return {"sequence": source["sequence"], "sha256": sha256, "key_id": signer["key_id"],
            "bytes": len(body)}


def current(pool: hubstore.Pool, now: datetime | None = None, *,
            valid_for: timedelta = VALID_FOR, refresh_after: timedelta = REFRESH_AFTER) -> Signed:
    """The bundle to serve now (signing it first when its sequence has none yet)."""
    now = now or datetime.now(UTC)
    for _ in range(5):  # another writer may move the sequence between the reads below
        head = hubstore.bundle_head(pool)
        if head["sha256"] is None:
            build(pool, now, valid_for)
            continue
        if now - head["issued_at"] > refresh_after:
            hubstore.bump_stale_bundle(pool, head["sequence"])
            continue
        key = (id(pool), head["sequence"])
        signed = _cache.get(key)
        if signed is not None:
            return signed
        body = hubstore.bundle_body(pool, head["sequence"])
        if body is None:
            continue
        signed = Signed(head["sequence"], bundle.etag_for(head["sequence"], head["sha256"]),
                        body)
        with _lock:
            for old in [k for k in _cache if k[0] == key[0]]:
                del _cache[old]
            _cache[key] = signed
        return signed
    raise HubError("the bundle kept changing while it was read; try again")
