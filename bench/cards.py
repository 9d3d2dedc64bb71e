"""Benchmark: verifying a member card (the card's share of the <= 150 us desk decision).

``run()`` returns timings in microseconds per call (median and 99th percentile) for:

- ``decode``: scanner normalization and strict parsing only;
- ``verify_with_trust_cold``: the whole offline check against in-memory keys with a fresh
  Ed25519 verification (a card's first scan);
- ``verify_with_trust``: the same for a card verified before (the desk verifies a card
  again when it logs the visit; good signatures are memoized by their exact bytes);
- ``verify_db_cold`` / ``verify_db``: ``passport.cards.verify`` against a real SQLite store
  (key and revocation lookups), as the desk and ``passport check --card`` call it;
- ``malformed``: rejecting junk (what a mis-scan costs);
- ``check_db_cold`` / ``check_db``: the whole desk decision with that card,
  ``passport.checks.check(db, visit, card=...)`` on the shipped participant list.

The cold cases are dominated by OpenSSL's Ed25519 verification (about 100-160 us on the
2-core development VM; ``openssl speed ed25519`` measures the machine's own figure).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.registry import sample_us
from passport import cards, keys, store

ISSUER = "anniston-museums-and-gardens-anniston"  # median id length on the shipped list
VISIT = date(2027, 1, 1)
VISIT_FAR = "museum-of-science-boston-boston"  # about 1,000 miles from Anniston, AL


def _cold(call: Callable[[], object]) -> object:
    cards._GOOD_SIGNATURES.clear()  # forget verified signatures: measure a first scan
    return call()


def _signed_card() -> tuple[str, Ed25519PrivateKey, str]:
    private = Ed25519PrivateKey.generate()
    public_raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)
    key_id = keys.key_id_for(public_raw)
    card = cards.Card(1, ISSUER, key_id, "M-2026-00417", ("Ada Lovelace", "Charles Babbage"),
                      cards.GROUP_PARTY_SIZE, date(2027, 6, 30), "36206", "US")
    return cards.sign(card, private), private, keys._b64u(public_raw)


def _whole_decision(db, scanned: str, repeat: int) -> dict:
    """``passport.checks.check`` with the card, on the shipped list (the desk's whole call)."""
    try:
        from passport import checks, institutions
    except ImportError:  # the lists part is not installed in this checkout
        return {}
    institutions.ensure_default_list(db)
    decision = checks.check(db, VISIT_FAR, card=scanned, on=VISIT)
    assert decision.admit, decision.reasons
    return {
        "check_db_cold": sample_us(
            lambda: _cold(lambda: checks.check(db, VISIT_FAR, card=scanned, on=VISIT)), repeat),
        "check_db": sample_us(lambda: checks.check(db, VISIT_FAR, card=scanned, on=VISIT),
                             repeat),
    }


def run(repeat: int = 3000) -> dict:
    """Time card verification; returns ``{"name", "payload_chars", "results": {case: timing}}``."""
    payload, private, public_b64u = _signed_card()
    key_id = cards.decode(payload).key_id
    scanned = payload.lower() + "\r\n"  # what a Caps-Lock scanner types: the slow path
    trust = {key_id: keys.TrustedKey(key_id, ISSUER, private.public_key(), keys.ACTIVE)}
    revoked = {(ISSUER, "M-1")}
    results = {
        "decode": sample_us(lambda: cards.decode(scanned), repeat),
        "verify_with_trust_cold": sample_us(
            lambda: _cold(lambda: cards.verify_with_trust(scanned, trust, VISIT, revoked)),
            repeat),
        "verify_with_trust": sample_us(
            lambda: cards.verify_with_trust(scanned, trust, VISIT, revoked), repeat),
        "malformed": sample_us(
            lambda: cards.verify_with_trust("HELLO WORLD\r\n", trust, VISIT), repeat),
    }
    with tempfile.TemporaryDirectory() as folder:
        db = store.open_db(Path(folder) / "bench.sqlite")
        try:
            store.insert_issuer_key(db, key_id, ISSUER, public_b64u, None, store.utc_now_iso())
            keys.revoke_card(db, ISSUER, "M-1")
            assert cards.verify(db, scanned, VISIT).valid
            results["verify_db_cold"] = sample_us(
                lambda: _cold(lambda: cards.verify(db, scanned, VISIT)), repeat)
            results["verify_db"] = sample_us(lambda: cards.verify(db, scanned, VISIT), repeat)
            results.update(_whole_decision(db, scanned, repeat))
        finally:
            db.close()
    return {"name": "cards", "payload_chars": len(payload), "results": results}


if __name__ == "__main__":  # python -m bench.cards
    import json

    print(json.dumps(run(), indent=2))  # noqa: T201 (a script's output)
