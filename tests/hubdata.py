"""Rows and keys the hub tests send: check-in rows as a site's outbox writes them, issuer
keys and revocations as `passport trust export` writes them."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passport.keys import b64u_encode, key_id_for

SITE = "exploratorium-san-francisco"
OTHER = "anchorage-museum-anchorage"


def checkin(n: int, *, site: str = SITE, home: str = OTHER, admit: bool = True,
            day: str = "2026-06-13", party: int = 3, **changes) -> dict:
    row = {"uid": f"{site}:{n}", "program": "astc", "home": home, "visit": site,
           "local_date": day, "local_hour": 11, "party_size": party,
           "people_free": party if admit else 0, "people_paying": 0, "admit": admit,
           "reasons": ["ELIGIBLE"] if admit else ["HOME_WITHIN_RADIUS"], "kind": "visit",
           "undoes": None}
    row.update(changes)
    return row


def issuer_key(institution_id: str, created_at: str = "2026-06-01T00:00:00+00:00") -> dict:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"key_id": key_id_for(raw), "institution_id": institution_id,
            "algorithm": "Ed25519", "public_key": b64u_encode(raw), "created_at": created_at,
            "retired_at": None, "revoked_at": None}


def revocation(institution_id: str, member_id: str = "M-1") -> dict:
    return {"institution_id": institution_id, "member_id": member_id,
            "revoked_at": "2026-06-02T00:00:00+00:00", "reason": "lost"}
