"""Signed bundles: what every desk of a program network needs, as one object the hub signs.

A bundle carries the program profiles, each program's active participant list with every
row and term, the trust list (issuer public keys, key and card revocations), the crosswalk,
the hub's own current public keys, a sequence number, issued-at and valid-until. The hub
signs it with its Ed25519 key; a desk verifies it against the hub keys it pinned at
enrolment and applies it in one SQLite transaction, so the desk decides with the old bundle
or the new one, never a mix. The byte format is in the README ("Running a program network").

- ``build_content`` / ``sign`` (the hub): the content dict and the signed bytes.
- ``verify`` (every site): the signed bytes -> ``Bundle``, or ``BundleError`` with its code.
- ``apply`` (a site): write a verified bundle into the store, all or nothing.

Canonical bytes: JSON with sorted keys, no whitespace, UTF-8 (not ASCII-escaped), no NaN.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from passport import audit, store, trust
from passport.keys import key_id_for

FORMAT = "passport-bundle"
FORMAT_VERSION = 1
ALGORITHM = "Ed25519"
PUBLIC_KEY_BYTES = 32
ETAG_SHA_CHARS = 16  # the sha256 hex digits in an ETag: "<sequence>-<prefix>"

CODES = ("BUNDLE_MALFORMED", "BUNDLE_SIGNATURE_INVALID", "BUNDLE_KEY_UNKNOWN",
         "BUNDLE_EXPIRED", "BUNDLE_NOT_NEWER")
CONTENT_KEYS = ("format", "format_version", "sequence", "issued_at", "valid_until",
                "profiles", "lists", "trust", "crosswalk", "hub_keys")
ENVELOPE_KEYS = ("format", "version", "algorithm", "key_id", "content", "signature")


class BundleError(ValueError):
    """A bundle was refused; ``code`` (one of ``CODES``) says why, and nothing was changed."""

    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"not a bundle error code: {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: its content and where it came from (``data``: the bytes as
    received, what ``passport bundle export`` writes back out)."""

    sequence: int
    issued_at: datetime
    valid_until: datetime
    content: dict
    key_id: str
    sha256: str
    data: bytes = field(repr=False)

    @property
    def etag(self) -> str:
        return etag_for(self.sequence, self.sha256)


# --------------------------------------------------------------------------- bytes

def canonical_bytes(value: Any) -> bytes:
    """``value`` as canonical JSON: sorted keys, no whitespace, UTF-8; NaN and infinities
    are refused (``ValueError``), they have no JSON form."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def etag_for(sequence: int, sha256_hex: str) -> str:
    """The HTTP ETag of a bundle (quotes included): ``"<sequence>-<sha256 prefix>"``."""
    return f'"{sequence}-{sha256_hex[:ETAG_SHA_CHARS]}"'


def public_key_text(raw: bytes) -> str:
    """A raw 32-byte public key as the bundle writes it (standard base64, padded)."""
    return base64.b64encode(raw).decode("ascii")


def public_key_raw(text: Any) -> bytes:
    """The raw 32 bytes of a public key written as base64 (standard or URL-safe, padded or
    not); ``ValueError`` when it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a public key must be base64 text")
    text = text.strip()
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4),
                               validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"not base64: {text[:20]!r}") from None
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError(f"an Ed25519 public key is {PUBLIC_KEY_BYTES} bytes, not {len(raw)}")
    return raw


def hub_key_id(raw: bytes) -> str:
    """A hub key's id: the first 6 bytes of SHA-256 over the raw key, in hex (as issuer keys)."""
    return key_id_for(raw)


def _utc_text(moment: datetime, name: str) -> str:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, not {moment!r}")
    return moment.isoformat()


def build_content(*, sequence: int, issued_at: datetime, valid_until: datetime,
                  profiles: list[dict], lists: dict[str, dict], trust: dict,
                  crosswalk: list[dict], hub_keys: list[dict]) -> dict:
    """The content of bundle ``sequence`` (see the module doc for each part)."""
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 1:
        raise ValueError(f"sequence must be a whole number >= 1, not {sequence!r}")
    if valid_until <= issued_at:
        raise ValueError("valid_until must be after issued_at")
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "sequence": sequence,
        "issued_at": _utc_text(issued_at, "issued_at"),
        "valid_until": _utc_text(valid_until, "valid_until"),
        "profiles": list(profiles), "lists": dict(lists), "trust": trust,
        "crosswalk": list(crosswalk), "hub_keys": list(hub_keys),
    }


def sign(content: dict, private_key: Ed25519PrivateKey, key_id: str) -> bytes:
    """The signed bundle: the canonical bytes of the envelope ``{"algorithm", "content",
    "format", "key_id", "signature", "version"}``; the signature is Ed25519 over the
    canonical bytes of ``content``, in unpadded base64url."""
    signature = private_key.sign(canonical_bytes(content))
    envelope = {"format": FORMAT, "version": FORMAT_VERSION, "algorithm": ALGORITHM,
                "key_id": key_id, "content": content,
                "signature": base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")}
    return canonical_bytes(envelope)


# --------------------------------------------------------------------------- verify

def _envelope(data: bytes) -> dict:
    if not isinstance(data, bytes | bytearray) or not data:
        raise BundleError("BUNDLE_MALFORMED", "the bundle is empty")
    try:
        envelope = json.loads(bytes(data).decode("utf-8"),
                              parse_constant=lambda name: _refuse_constant(name))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError("BUNDLE_MALFORMED", f"not UTF-8 JSON: {exc}") from None
    except RecursionError:  # json's C parser stops at the interpreter's recursion limit
        raise BundleError("BUNDLE_MALFORMED", "the JSON is nested too deeply") from None
    if not isinstance(envelope, dict) or sorted(envelope) != sorted(ENVELOPE_KEYS):
        raise BundleError("BUNDLE_MALFORMED", f"the envelope must hold exactly {ENVELOPE_KEYS}")
    if envelope["format"] != FORMAT or envelope["version"] != FORMAT_VERSION:
        raise BundleError("BUNDLE_MALFORMED", f"not a {FORMAT} version {FORMAT_VERSION}: "
                          f"{envelope['format']!r} {envelope['version']!r}")
    if envelope["algorithm"] != ALGORITHM:
        raise BundleError("BUNDLE_MALFORMED", f"unsupported algorithm {envelope['algorithm']!r}")
    if not isinstance(envelope["content"], dict):
        raise BundleError("BUNDLE_MALFORMED", "content is not an object")
    return envelope


def _refuse_constant(name: str) -> Any:
    raise BundleError("BUNDLE_MALFORMED", f"{name} is not a JSON number")


def _check_signature(envelope: dict, pinned: Mapping[str, bytes]) -> None:
    key_id = envelope["key_id"]
    raw = pinned.get(key_id) if isinstance(key_id, str) else None
    if raw is None:
        raise BundleError("BUNDLE_KEY_UNKNOWN",
                          f"signed with hub key {key_id!r}, which this site has not pinned "
                          f"(pinned: {', '.join(sorted(pinned)) or 'none'})")
    text = envelope["signature"]
    try:
        if not isinstance(text, str):
            raise ValueError("not text")
        signature = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        Ed25519PublicKey.from_public_bytes(bytes(raw)).verify(
            signature, canonical_bytes(envelope["content"]))
    except (InvalidSignature, ValueError, binascii.Error):
        raise BundleError("BUNDLE_SIGNATURE_INVALID",
                          f"the signature does not match the content under hub key {key_id}"
                          ) from None


def _moment(content: dict, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(content[name])
    except (TypeError, ValueError):
        raise BundleError("BUNDLE_MALFORMED", f"{name} is not an ISO 8601 time: "
                          f"{content.get(name)!r}") from None
    if moment.tzinfo is None:
        raise BundleError("BUNDLE_MALFORMED", f"{name} has no UTC offset: {content[name]!r}")
    return moment


def _check_content(content: dict) -> None:
    """The shape of each part (the rows themselves are checked as they are applied)."""
    missing = [k for k in CONTENT_KEYS if k not in content]
    if missing:
        raise BundleError("BUNDLE_MALFORMED", f"content lacks {missing}")
    sequence = content["sequence"]
    if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 1:
        raise BundleError("BUNDLE_MALFORMED", f"sequence is not a whole number >= 1: "
                          f"{sequence!r}")
    shapes = {"profiles": list, "lists": dict, "trust": dict, "crosswalk": list,
              "hub_keys": list}
    for name, kind in shapes.items():
        if not isinstance(content[name], kind):
            raise BundleError("BUNDLE_MALFORMED", f"{name} is not a JSON {kind.__name__}")
    for name, part in content["lists"].items():
        if (not isinstance(part, dict) or not isinstance(part.get("institutions"), list)
                or not isinstance(part.get("version"), int)):
            raise BundleError("BUNDLE_MALFORMED", f"lists[{name!r}] needs an integer version "
                              "and a list of institutions")
    _hub_keys(content)


def _hub_keys(content: dict) -> dict[str, bytes]:
    """The hub's keys the content names: key id -> raw public key."""
    found = {}
    for n, key in enumerate(content["hub_keys"]):
        try:
            if not isinstance(key, dict) or not isinstance(key.get("key_id"), str):
                raise ValueError("needs key_id and public_key")
            found[key["key_id"]] = public_key_raw(key.get("public_key"))
        except ValueError as exc:
            raise BundleError("BUNDLE_MALFORMED", f"hub_keys[{n}]: {exc}") from None
    return found


def verify(data: bytes, pinned: Mapping[str, bytes], now: datetime) -> Bundle:
    """The bundle in ``data`` once its signature verifies under one of the ``pinned`` hub
    keys (key id -> raw public key) and it is still valid at ``now`` (aware).

    Raises ``BundleError``: BUNDLE_MALFORMED (not a bundle), BUNDLE_KEY_UNKNOWN (signed by a
    key not pinned), BUNDLE_SIGNATURE_INVALID (tampered), BUNDLE_EXPIRED (valid_until past).
    """
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, not {now!r}")
    envelope = _envelope(data)
    _check_signature(envelope, pinned)
    content = envelope["content"]
    _check_content(content)
    issued_at, valid_until = _moment(content, "issued_at"), _moment(content, "valid_until")
    if now >= valid_until:
        raise BundleError("BUNDLE_EXPIRED", f"bundle {content['sequence']} was valid until "
                          f"{content['valid_until']}")
    return Bundle(sequence=content["sequence"], issued_at=issued_at, valid_until=valid_until,
                  content=content, key_id=envelope["key_id"],
                  sha256=hashlib.sha256(data).hexdigest(), data=bytes(data))


# --------------------------------------------------------------------------- apply (a site)

def _row_problem(row: Any) -> str | None:
    """Why an institution row cannot be stored (None when it can)."""
    if not isinstance(row, dict):
        return "not an object"
    for name in ("id", "name", "country"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            return f"{name} is missing"
    for name in _ROW_DEFAULTS:
        if name in row and not isinstance(row[name], int):
            return f"{name} must be 0/1 or true/false, not {row[name]!r}"
    for name, limit in (("latitude", 90), ("longitude", 180)):
        value = row.get(name)
        if (not isinstance(value, int | float) or isinstance(value, bool)
                or not math.isfinite(value) or abs(value) > limit):
            return f"{name} is not a number within +-{limit}: {value!r}"
    return None


def _stored_value(value: Any) -> Any:
    # JSON true/false from the hub's PostgreSQL are SQLite's 1/0
    return int(value) if isinstance(value, bool) else value


# Columns the store keeps NOT NULL with a default: a hub row may leave them out.
_ROW_DEFAULTS = {"proof_of_residence": 0, "reservation_required": 0, "store_discount_only": 0}


def _records(program: str, part: dict) -> list[dict]:
    records, seen = [], set()
    for n, row in enumerate(part["institutions"]):
        problem = _row_problem(row)
        if problem is None and row["id"] in seen:
            problem = "the id appears twice"
        if problem:
            ident = row.get("id") if isinstance(row, dict) else None
            raise BundleError("BUNDLE_MALFORMED",
                              f"lists[{program!r}] institutions[{n}] ({ident}): {problem}")
        seen.add(row["id"])
        records.append({c: _stored_value(row.get(c, _ROW_DEFAULTS.get(c)))
                        for c in store.INSTITUTION_COLUMNS})
    return records


def _apply_list(db: sqlite_utils.Database, program: str, part: dict, sequence: int) -> dict:
    """Publish ``part`` as a new version of ``program`` unless the active one holds the same
    rows; inside the caller's transaction."""
    records = _records(program, part)
    if store.get_profile_row(db, program) is None:
        raise BundleError("BUNDLE_MALFORMED", f"lists[{program!r}]: no such program profile")
    active = store.get_active_list_version(db, program)
    if active is not None and store.get_institution_rows(db, active) == records:
        return {"hub_version": part["version"], "list_version": active, "changed": False}
    try:
        version, _ = store.insert_list_version(
            db, profile=program, records=records,
            source_name=f"hub list version {part['version']}", source_sha256=None,
            actor="hub", note=f"bundle {sequence}")
    except sqlite3.IntegrityError as exc:
        raise BundleError("BUNDLE_MALFORMED", f"lists[{program!r}]: {exc}") from None
    return {"hub_version": part["version"], "list_version": version, "changed": True}


def _apply_trust(db: sqlite_utils.Database, data: dict) -> dict:
    errors = trust.validate_trust(data, db)
    if errors:
        raise BundleError("BUNDLE_MALFORMED", "trust: " + "; ".join(errors[:5]))
    keys = [{name: key.get(name) for name in ("key_id", "institution_id", "public_key",
                                               "created_at", "retired_at", "revoked_at")}
            for key in data["keys"]]
    cards = [{name: card.get(name) for name in ("institution_id", "member_id", "revoked_at",
                                                 "reason")}
             for card in data.get("revoked_cards", [])]
    keys_added, cards_added = store.import_trust_rows(db, keys, cards)
    return {"keys": len(keys), "keys_added": keys_added, "revoked_cards": len(cards),
            "revoked_cards_added": cards_added}


def _check_newer(db: sqlite_utils.Database, bundle: Bundle) -> None:
    last = store.last_applied_bundle_row(db)
    if last is not None and bundle.sequence <= last["sequence"]:
        raise BundleError("BUNDLE_NOT_NEWER",
                          f"bundle {bundle.sequence} is not newer than the applied bundle "
                          f"{last['sequence']} (a hub never rolls a site back)")


def apply(db: sqlite_utils.Database, bundle: Bundle, *, etag: str | None = None,
          actor: str | None = "hub") -> dict:
    """Write a verified bundle into the store in ONE transaction: profiles, each program's
    list (a new version only when it differs from the active one), the trust list, the hub's
    keys (a rotation is followed) and the applied sequence. ``BundleError`` (and any other
    failure) leaves the store as it was; BUNDLE_NOT_NEWER for a sequence not above the last
    applied one."""
    content = bundle.content
    with db.atomic():
        _check_newer(db, bundle)
        try:
            store.upsert_profile_rows(db, [
                {k: _stored_value(v) for k, v in row.items()} for row in content["profiles"]])
        except (ValueError, TypeError, KeyError, sqlite3.Error) as exc:
            raise BundleError("BUNDLE_MALFORMED", f"profiles: {exc}") from None
        lists = {program: _apply_list(db, program, part, bundle.sequence)
                 for program, part in sorted(content["lists"].items())}
        trust_result = _apply_trust(db, content["trust"])
        hub_keys = _hub_keys(content)
        if hub_keys:
            store.replace_pinned_hub_keys(
                db, {k: public_key_text(raw) for k, raw in hub_keys.items()}, source="bundle")
        store.record_applied_bundle(db, {
            "sequence": bundle.sequence, "sha256": bundle.sha256, "key_id": bundle.key_id,
            "issued_at": content["issued_at"], "valid_until": content["valid_until"],
            "etag": etag, "data": bundle.data})
    result = {"bundle_sequence": bundle.sequence, "applied": True, "lists": lists,
              "trust": trust_result, "profiles": len(content["profiles"])}
    audit.record(db, actor, "bundle.applied", str(bundle.sequence),
                 {"sha256": bundle.sha256, "lists": lists})
    return result
