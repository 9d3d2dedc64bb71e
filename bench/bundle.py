"""Benchmark: a hub bundle of 2,000 sites and 2,000 issuer keys verified and applied on a
desk (issue 14's target: <= 1 s), against the floor of the same work done bare.

``run()`` times, on fresh copies of a real SQLite store (median of ``runs``, seconds):

- ``verify_s``: ``passport.bundle.verify`` (parse, canonical bytes, Ed25519 verify, shape);
- ``apply_first_s``: ``passport.bundle.apply`` on a store that has none of it (every key and
  revocation new, the list published as a new version);
- ``apply_update_s``: the usual case, on a store that applied the previous bundle: the list
  changed (a new version), 2,000 keys known, 100 new;
- ``floor_s``: the bare work in the same process: ``json.loads`` of the bytes, one Ed25519
  verification, and one ``executemany`` of the rows and keys into a plain table in one
  transaction; ``ratio_to_floor`` is (verify + first apply) / floor.

``python -m bench.bundle`` prints the figures as JSON.
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from bench.registry import environment
from passport import bundle, keys, store
from passport.importer import parse_file
from passport.institutions import DEFAULT_LIST_PATH

SITES = 2000
ISSUER_KEYS = 2000
NEW_KEYS = 100
TARGET_S = 1.0
ISSUED_AT = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _raw(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw)


def _sites(count: int, tag: str) -> list[dict]:
    """``count`` rows shaped like the shipped list's (its rows again, ids made unique,
    points moved a little)."""
    base = parse_file(DEFAULT_LIST_PATH).records
    return [{**base[n % len(base)], "id": f"{base[n % len(base)]['id']}-{n}",
             "name": f"{base[n % len(base)]['name']} {tag}{n}",
             "latitude": base[n % len(base)]["latitude"] + (n // len(base)) * 0.01}
            for n in range(count)]


def _issuer_keys(count: int) -> list[dict]:
    out = []
    for n in range(count):
        raw = _raw(Ed25519PrivateKey.generate())
        out.append({"key_id": keys.key_id_for(raw), "institution_id": f"institution-{n}",
                    "algorithm": "Ed25519", "public_key": keys.b64u_encode(raw),
                    "created_at": "2026-01-01T00:00:00+00:00", "retired_at": None,
                    "revoked_at": None})
    return out


def _signed(hub: Ed25519PrivateKey, sequence: int, sites: list[dict], issuers: list[dict]
            ) -> bytes:
    raw = _raw(hub)
    trust = {"format": "passport-trust-list", "version": 1, "keys": issuers,
             "revoked_cards": [{"institution_id": k["institution_id"], "member_id": "M-1",
                                "revoked_at": "2026-02-01T00:00:00+00:00", "reason": None}
                               for k in issuers[:200]]}
    content = bundle.build_content(
        sequence=sequence, issued_at=ISSUED_AT, valid_until=ISSUED_AT + timedelta(days=7),
        profiles=[], lists={"astc": {"version": sequence, "institutions": sites}},
        trust=trust, crosswalk=[], hub_keys=[{"key_id": bundle.hub_key_id(raw),
                                              "public_key": bundle.public_key_text(raw)}])
    return bundle.sign(content, hub, bundle.hub_key_id(raw))


def _floor(data: bytes, pinned: dict[str, bytes], folder: Path, n: int) -> float:
    started = time.perf_counter()
    envelope = json.loads(data)
    content = envelope["content"]
    signature = base64.urlsafe_b64decode(envelope["signature"] + "==")
    Ed25519PublicKey.from_public_bytes(pinned[envelope["key_id"]]).verify(
        signature, bundle.canonical_bytes(content))
    conn = sqlite3.connect(folder / f"floor-{n}.sqlite")
    columns = list(store.INSTITUTION_COLUMNS)
    conn.execute(f"CREATE TABLE rows ({', '.join(columns)})")
    conn.execute("CREATE TABLE k (key_id PRIMARY KEY, institution_id, public_key, created_at)")
    with conn:
        conn.executemany(f"INSERT INTO rows VALUES ({', '.join('?' for _ in columns)})",
                         [[r.get(c) for c in columns]
                          for r in content["lists"]["astc"]["institutions"]])
        conn.executemany("INSERT INTO k VALUES (?, ?, ?, ?)",
                         [[k["key_id"], k["institution_id"], k["public_key"], k["created_at"]]
                          for k in content["trust"]["keys"]])
    conn.close()
    return time.perf_counter() - started


def _timed_apply(base: Path, folder: Path, data: bytes, pinned: dict, n: int
                 ) -> tuple[float, float]:
    """(verify seconds, apply seconds) on a fresh copy of the store ``base``."""
    path = folder / f"desk-{n}.sqlite"
    shutil.copy(base, path)
    db = store.open_db(path)
    try:
        started = time.perf_counter()
        verified = bundle.verify(data, pinned, ISSUED_AT + timedelta(hours=1))
        middle = time.perf_counter()
        bundle.apply(db, verified)
        return middle - started, time.perf_counter() - middle
    finally:
        db.close()


def _stores(folder: Path, hub: Ed25519PrivateKey, first: bytes) -> tuple[Path, Path]:
    """An empty desk store and one that applied ``first`` (both WAL-checkpointed files)."""
    raw = _raw(hub)
    paths = []
    for name, data in (("empty", None), ("applied", first)):
        db = store.open_db(folder / f"{name}.sqlite")
        store.pin_hub_key(db, bundle.hub_key_id(raw), bundle.public_key_text(raw), "bench")
        if data is not None:
            bundle.apply(db, bundle.verify(data, {bundle.hub_key_id(raw): raw},
                                           ISSUED_AT + timedelta(hours=1)))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        paths.append(folder / f"{name}.sqlite")
    return paths[0], paths[1]


def run(runs: int = 5) -> dict:
    hub = Ed25519PrivateKey.generate()
    pinned = {bundle.hub_key_id(_raw(hub)): _raw(hub)}
    issuers = _issuer_keys(ISSUER_KEYS + NEW_KEYS)
    previous = _signed(hub, 1, _sites(SITES, "a"), issuers[:ISSUER_KEYS])
    data = _signed(hub, 2, _sites(SITES, "b"), issuers[NEW_KEYS:])
    with tempfile.TemporaryDirectory() as tmp, \
            environment(PASSPORT_INSTANCE=tmp, PASSPORT_DB=None):
        folder = Path(tmp)
        empty, applied = _stores(folder, hub, previous)
        first = [_timed_apply(empty, folder, data, pinned, n) for n in range(runs)]
        update = [_timed_apply(applied, folder, data, pinned, runs + n) for n in range(runs)]
        floor = [_floor(data, pinned, folder, n) for n in range(runs)]
    verify_s = statistics.median(v for v, _ in first + update)
    apply_first_s = statistics.median(a for _, a in first)
    out = {
        "sites": SITES, "issuer_keys": ISSUER_KEYS, "bundle_bytes": len(data),
        "verify_s": round(verify_s, 4), "apply_first_s": round(apply_first_s, 4),
        "apply_update_s": round(statistics.median(a for _, a in update), 4),
        "floor_s": round(statistics.median(floor), 4), "target_s": TARGET_S,
    }
    out["verify_and_apply_s"] = round(verify_s + apply_first_s, 4)
    out["ratio_to_floor"] = round(out["verify_and_apply_s"] / out["floor_s"], 2)
    out["meets_target"] = out["verify_and_apply_s"] <= TARGET_S
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
