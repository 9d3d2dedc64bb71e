"""Benchmark: a member card at the desk, up to the whole decision by card (issue 4's target:
<= 150 us median, signature verification included).

``run()`` returns timings in microseconds per call (median and 99th percentile), each with a
``note`` saying what it measures; the decision rows come first, with ``target_us``:

- ``check_db_cold``: the whole decision by card on a card's FIRST scan,
  ``passport.admission.check(db, visit, card=...)`` on the shipped participant list with a
  fresh Ed25519 verification (the figure the target is about);
- ``check_db``: the same on a REPEAT scan (the desk verifies a card again when it logs the
  visit; good signatures are memoized by their exact bytes);
- ``ed25519_verify`` / ``ed25519_verify_openssl``: the floor, one signature verification
  alone with libsodium (PyNaCl, what ``passport.cards`` uses) and, for comparison, with
  OpenSSL (``cryptography``);
- ``decode``: scanner normalization and strict parsing only;
- ``verify_with_trust_cold`` / ``verify_with_trust``: the offline check against in-memory
  keys, first and repeat scan;
- ``verify_db_cold`` / ``verify_db``: ``passport.cards.verify`` against a real SQLite store
  (one read of the trust stamp; keys and revocations held in memory), first and repeat;
- ``malformed``: rejecting junk (what a mis-scan costs).

A first scan is the verification floor plus everything else: ``check_db_cold`` minus
``ed25519_verify`` is the part code can still cut. ``openssl speed ed25519`` gives the
machine's own OpenSSL figure.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.bindings import crypto_sign_open

from bench.registry import sample_us
from passport import cards, keys, store, trust

ISSUER = "anniston-museums-and-gardens-anniston"  # median id length on the shipped list
VISIT = date(2027, 1, 1)
VISIT_FAR = "museum-of-science-boston-boston"  # about 1,000 miles from Anniston, AL
TARGET_US = 150  # issue 4: a whole decision by card, signature verification included

_NOTES = {
    "check_db_cold": "decision by card, FIRST scan: admission.check, fresh Ed25519 verify",
    "check_db": "decision by card, REPEAT scan (signature memoized, e.g. the check-in)",
    "ed25519_verify": "floor: one Ed25519 verify alone, libsodium (PyNaCl, used)",
    "ed25519_verify_openssl": "the same with OpenSSL (cryptography; not used)",
    "decode": "scanner cleanup + strict parse, no crypto",
    "verify_with_trust_cold": "card check vs in-memory keys, first scan",
    "verify_with_trust": "card check vs in-memory keys, repeat scan",
    "verify_db_cold": "cards.verify vs the store, first scan",
    "verify_db": "cards.verify vs the store, repeat scan",
    "malformed": "rejecting junk",
}


def _cold(call: Callable[[], object]) -> object:
    cards.forget_verified_signatures()  # measure a first scan
    return call()


def _signed_card() -> tuple[str, Ed25519PrivateKey, str]:
    private = Ed25519PrivateKey.generate()
    public_raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)
    key_id = keys.key_id_for(public_raw)
    card = cards.Card(1, ISSUER, key_id, "M-2026-00417", ("Ada Lovelace", "Charles Babbage"),
                      6, date(2027, 6, 30), "36206", "US")
    return cards.sign(card, private), private, keys.b64u_encode(public_raw)


def _whole_decision(db, scanned: str, repeat: int) -> dict:
    """``passport.admission.check`` with the card, on the shipped list (the desk's whole call)."""
    try:
        from passport import admission, institutions
    except ImportError:  # the lists part is not installed in this checkout
        return {}
    institutions.ensure_default_list(db)
    decision = admission.check(db, VISIT_FAR, card=scanned, on=VISIT)
    assert decision.admit, decision.reasons
    return {
        "check_db_cold": sample_us(
            lambda: _cold(lambda: admission.check(db, VISIT_FAR, card=scanned, on=VISIT)), repeat),
        "check_db": sample_us(lambda: admission.check(db, VISIT_FAR, card=scanned, on=VISIT),
                             repeat),
    }


def _floor(payload: str, private: Ed25519PrivateKey, repeat: int) -> dict:
    """One signature verification of this card, nothing else."""
    _, message, signature = cards._decode(payload)
    public = private.public_key()
    public_raw = public.public_bytes_raw()
    signed = signature + message
    return {
        "ed25519_verify": sample_us(lambda: crypto_sign_open(signed, public_raw), repeat),
        "ed25519_verify_openssl": sample_us(lambda: public.verify(signature, message), repeat),
    }


def run(repeat: int = 3000) -> dict:
    """Time card verification; returns ``{"name", "payload_chars", "target_us", "results":
    {case: timing}}``, the whole decision by card first."""
    payload, private, public_b64u = _signed_card()
    key_id = cards.decode(payload).key_id
    scanned = payload.lower() + "\r\n"  # what a Caps-Lock scanner types: the slow path
    trusted = {key_id: trust.TrustedKey(key_id, ISSUER, private.public_key(), keys.ACTIVE)}
    revoked = {(ISSUER, "M-1")}
    results = {
        "decode": sample_us(lambda: cards.decode(scanned), repeat),
        "verify_with_trust_cold": sample_us(
            lambda: _cold(lambda: cards.verify_with_trust(scanned, trusted, VISIT, revoked)),
            repeat),
        "verify_with_trust": sample_us(
            lambda: cards.verify_with_trust(scanned, trusted, VISIT, revoked), repeat),
        "malformed": sample_us(
            lambda: cards.verify_with_trust("HELLO WORLD\r\n", trusted, VISIT), repeat),
        **_floor(payload, private, repeat),
    }
    with tempfile.TemporaryDirectory() as folder:
        db = store.open_db(Path(folder) / "bench.sqlite")
        try:
            store.insert_issuer_key(db, key_id, ISSUER, public_b64u, None, store.utc_now_iso())
            trust.revoke_card(db, ISSUER, "M-1")
            assert cards.verify(db, scanned, VISIT).valid
            results["verify_db_cold"] = sample_us(
                lambda: _cold(lambda: cards.verify(db, scanned, VISIT)), repeat)
            results["verify_db"] = sample_us(lambda: cards.verify(db, scanned, VISIT), repeat)
            results.update(_whole_decision(db, scanned, repeat))
        finally:
            db.close()
    for case in ("check_db_cold", "check_db"):
        if case in results:
            results[case]["target_us"] = TARGET_US
    ordered = {case: {**results[case], "note": note} for case, note in _NOTES.items()
               if case in results}
    return {"name": "cards", "payload_chars": len(payload), "target_us": TARGET_US,
            "results": ordered}


if __name__ == "__main__":  # python -m bench.cards
    import json

    print(json.dumps(run(), indent=2))  # noqa: T201 (a script's output)
