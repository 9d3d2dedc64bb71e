"""Enrolled sites: one-time enrolment tokens, credentials, and the trust uploads.

``passport hub site add SITE_ID`` (or the Sites page) makes a one-time token; the site
redeems it once (``POST /api/v1/enrol``) for a credential it keeps and sends as
``Authorization: Bearer`` from then on. The hub keeps only the SHA-256 of either (each is
256 random bits, so a plain hash is enough, as for the kiosk's API tokens). The site id is
its institution id: a site may send issuer keys and card revocations of its own institution
only, and they are in the next bundle for every other site.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from passport import hubstore
from passport.hub import HubError
from passport.hub.signing import current_keys
from passport.ids import check_institution_id
from passport.trust import TRUST_FORMAT, TRUST_VERSION, validate_trust

TOKEN_PREFIX = "hubenrol_"
CREDENTIAL_PREFIX = "hubsite_"
TOKEN_VALID_FOR = timedelta(days=7)
KEY_FIELDS = ("key_id", "institution_id", "public_key", "created_at", "retired_at",
              "revoked_at")
CARD_FIELDS = ("institution_id", "member_id", "revoked_at", "reason")


class EnrolmentRefused(HubError):
    """The enrolment token is wrong, used or expired."""


class TrustInvalid(HubError, ValueError):
    """A trust upload is malformed or conflicts with the hub's keys."""


class TrustNotOwn(HubError):
    """A trust upload names another institution than the site's own."""


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def add_site(pool: hubstore.Pool, site_id: str, *, actor: str | None = None,
             now: datetime | None = None) -> dict:
    """A new one-time enrolment token for ``site_id`` (its institution id), shown once:
    ``{"site", "token", "expires_at", "new_site"}``. A new token replaces an unused one."""
    try:
        check_institution_id(site_id)
    except ValueError as exc:
        raise HubError(str(exc)) from exc
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = (now or datetime.now(UTC)) + TOKEN_VALID_FOR
    new = hubstore.upsert_site_token(pool, site_id, _sha256(token), expires, actor)
    return {"site": site_id, "token": token, "expires_at": expires.isoformat(),
            "new_site": new}


def enrol(pool: hubstore.Pool, site_id: Any, token: Any) -> dict:
    """Redeem a token: ``{"site", "credential", "hub_keys"}``; ``EnrolmentRefused`` for a
    wrong, used or expired one (one message for all three: no oracle for guessing)."""
    if not isinstance(site_id, str) or not isinstance(token, str) or not token:
        raise EnrolmentRefused("enrolment refused: send the site id and its one-time token")
    credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    if not hubstore.redeem_token(pool, site_id, _sha256(token), _sha256(credential)):
        raise EnrolmentRefused("enrolment refused: the token is wrong, already used or "
                               "expired; ask the program office for a new one")
    return {"site": site_id, "credential": credential, "hub_keys": current_keys(pool)}


def site_for(pool: hubstore.Pool, credential: str | None) -> str | None:
    """The enrolled site a credential belongs to, or None."""
    if not credential:
        return None
    return hubstore.site_for_credential(pool, _sha256(credential))


def list_sites(pool: hubstore.Pool) -> list[dict]:
    return hubstore.site_rows(pool)


def _checked(payload: Any, site_id: str) -> tuple[list[dict], list[dict]]:
    """The upload's keys and card revocations, validated like ``passport trust import``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("keys", []), list) \
            or not isinstance(payload.get("revocations", []), list):
        raise TrustInvalid('send {"keys": [...], "revocations": [...]} as JSON')
    keys, cards = payload.get("keys", []), payload.get("revocations", [])
    errors = validate_trust({"format": TRUST_FORMAT, "version": TRUST_VERSION, "keys": keys,
                             "revoked_cards": cards})
    if errors:
        raise TrustInvalid("; ".join(errors[:5]).replace("revoked_cards[", "revocations["))
    others = sorted({item["institution_id"] for item in [*keys, *cards]} - {site_id})
    if others:
        raise TrustNotOwn(f"site {site_id} may send keys and revocations of its own "
                          f"institution only, not of {', '.join(others)}")
    return ([{f: key.get(f) for f in KEY_FIELDS} for key in keys],
            [{f: card.get(f) for f in CARD_FIELDS} for card in cards])


def accept_trust(pool: hubstore.Pool, site_id: str, payload: Any) -> dict:
    """Merge a site's new keys and card revocations: ``{"keys_accepted",
    "revocations_accepted"}`` (new or changed ones). ``TrustInvalid`` (nothing changed) for
    a bad upload or a key id the hub knows with another key; ``TrustNotOwn`` for another
    institution's key or card."""
    keys, cards = _checked(payload, site_id)
    stored = hubstore.issuer_key_rows(pool, [k["key_id"] for k in keys])
    for key in keys:
        known = stored.get(key["key_id"])
        if known is not None and (known["public_key"], known["institution_id"]) != (
                key["public_key"], key["institution_id"]):
            raise TrustInvalid(f"key {key['key_id']} conflicts with the hub's key of that id")
    keys_changed, cards_added = hubstore.merge_trust(pool, site_id, keys, cards)
    return {"keys_accepted": keys_changed, "revocations_accepted": cards_added}
