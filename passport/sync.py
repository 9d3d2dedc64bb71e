"""A site of a program network: enrol with the hub, sync, and the offline bundle path.

- ``enrol``: pin the hub key the operator was given, trade the one-time token for a site
  credential (POST /api/v1/enrol), keep the credential sealed under the instance secret.
- ``sync``: download the bundle (ETag / If-None-Match), verify and apply it
  (``passport.bundle``); then send this site's new issuer keys and card revocations
  (POST /api/v1/trust) and the check-in outbox (POST /api/v1/checkins, batches of at most
  ``BATCH_ROWS``). A high-water mark advances only after the hub's 200, so a failed POST is
  sent again on the next sync; the hub keeps each row once by its uid, so a retry never
  doubles. No names or member ids ever leave the site.
- ``import_bundle`` / ``export_bundle``: the same verification for a file carried by hand.
- ``bundle_status``: how old the applied bundle is (the desk warns past a configured age).

HTTP is the standard library's urllib with a timeout on every request.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlite_utils
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from passport import audit, bundle, store
from passport.ids import check_institution_id
from passport.keyvault import KeyStoreError, derived_key
from passport.rules import DEFAULT_PROFILE_NAME

log = logging.getLogger(__name__)

BATCH_ROWS = 5000  # the hub's limit per POST /api/v1/checkins
TIMEOUT_SECONDS = 15.0
BUNDLE_WARN_HOURS = 48.0
CHECKINS_STREAM = "checkins"
_CREDENTIAL_PURPOSE = b"passport hub credential v1"
_SEAL_MAGIC = b"HC1"


class SyncError(Exception):
    """Enrolment or a sync step failed (hub unreachable, refused, not enrolled...)."""


# --------------------------------------------------------------------------- HTTP

def _request(method: str, url: str, *, body: Any = None, headers: dict | None = None,
             timeout: float = TIMEOUT_SECONDS) -> tuple[int, dict, bytes]:
    """(status, headers, body); 4xx/5xx/304 are answers, not exceptions. ``SyncError``
    when the hub cannot be reached."""
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), _bounded(response, url)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers or {}), _bounded(exc, url) or b""
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SyncError(f"hub unreachable at {url}: {reason}") from None


# The most a hub's answer may hold: a bundle of thousands of sites and keys is a few MB.
MAX_ANSWER_BYTES = 64 * 1024 * 1024


def _bounded(response: Any, url: str) -> bytes:
    """The answer's body, refused past ``MAX_ANSWER_BYTES`` (a hostile hub or proxy)."""
    body = response.read(MAX_ANSWER_BYTES + 1)
    if len(body) > MAX_ANSWER_BYTES:
        raise SyncError(f"the answer from {url} is larger than "
                        f"{MAX_ANSWER_BYTES // (1024 * 1024)} MiB: refused")
    return body


def _error_text(status: int, payload: bytes) -> str:
    try:
        error = json.loads(payload)["error"]
        return f"{status} {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"


def _json(status: int, payload: bytes, what: str) -> dict:
    try:
        value = json.loads(payload)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise SyncError(f"{what}: the hub answered {status} without a JSON object")
    return value


def normalise_url(url: str) -> str:
    """The hub's base URL without a trailing slash; ``SyncError`` unless http(s)."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SyncError(f"the hub URL must be http(s)://host[:port][/path], not {url!r}")
    return (url or "").strip().rstrip("/")


# --------------------------------------------------------------------------- the credential

def _aead() -> AESGCM:
    return AESGCM(derived_key(_CREDENTIAL_PURPOSE, create=True))


def seal_credential(credential: str, site: str) -> bytes:
    """The credential encrypted under the instance secret (AES-256-GCM, bound to ``site``):
    a copied store file or backup does not carry a usable credential."""
    nonce = os.urandom(12)
    return _SEAL_MAGIC + nonce + _aead().encrypt(nonce, credential.encode("utf-8"),
                                                 site.encode("utf-8"))


def open_credential(blob: bytes, site: str) -> str:
    blob = bytes(blob)
    try:
        if not blob.startswith(_SEAL_MAGIC):
            raise InvalidTag
        return _aead().decrypt(blob[3:15], blob[15:], site.encode("utf-8")).decode("utf-8")
    except (InvalidTag, KeyStoreError):
        raise SyncError("cannot read the hub credential: the instance secret changed; "
                        "enrol again with a new token") from None


# --------------------------------------------------------------------------- enrolment

def _parse_hub_key(text: str) -> tuple[str | None, bytes]:
    """``KEY`` or ``KEY_ID:KEY`` (base64 raw public key) -> (key id or None, raw)."""
    key_id, _, key = (text or "").strip().rpartition(":")
    try:
        return key_id or None, bundle.public_key_raw(key)
    except ValueError as exc:
        raise SyncError(f"--hub-key is not a hub public key: {exc}") from None


def _pinned_key_id(answer: dict, raw: bytes, given_id: str | None) -> str:
    """The id under which the hub lists the key the operator gave (``SyncError`` when the
    hub does not hold that key: the operator's key, not the network, decides whom to trust)."""
    for key in answer.get("hub_keys") or []:
        try:
            if bundle.public_key_raw(key.get("public_key")) == raw and (
                    given_id is None or key.get("key_id") == given_id):
                return key["key_id"]
        except (ValueError, AttributeError):
            continue
    raise SyncError("the hub does not hold the --hub-key you gave: check the key and the URL")


def enrol(db: sqlite_utils.Database, *, url: str, hub_key: str, token: str, site: str,
          timeout: float = TIMEOUT_SECONDS, actor: str | None = None) -> dict:
    """Enrol this site with the hub at ``url``; returns ``{"site", "hub_url", "key_id"}``."""
    base = normalise_url(url)
    check_institution_id(site)
    given_id, raw = _parse_hub_key(hub_key)
    if not token or not token.strip():
        raise SyncError("the enrolment token is empty")
    status, _, payload = _request("POST", f"{base}/api/v1/enrol",
                                  body={"site": site, "token": token.strip()}, timeout=timeout)
    if status != 200:
        raise SyncError(f"enrolment refused by the hub: {_error_text(status, payload)}")
    answer = _json(status, payload, "enrolment")
    credential = answer.get("credential")
    if not isinstance(credential, str) or not credential:
        raise SyncError("the hub's enrolment answer holds no credential")
    key_id = _pinned_key_id(answer, raw, given_id)
    store.save_hub_enrolment(db, base, site, seal_credential(credential, site), key_id,
                             bundle.public_key_text(raw))
    audit.record(db, actor, "hub.enrolled", site, {"hub_url": base, "key_id": key_id})
    return {"site": site, "hub_url": base, "key_id": key_id}


def enrolment(db: sqlite_utils.Database) -> dict | None:
    """``{"hub_url", "site", "enrolled_at"}`` or None when this site is not enrolled."""
    row = store.get_hub_enrolment(db)
    return None if row is None else {k: row[k] for k in ("hub_url", "site", "enrolled_at")}


def _pinned(db: sqlite_utils.Database) -> dict[str, bytes]:
    return {k: bundle.public_key_raw(v) for k, v in store.pinned_hub_keys(db).items()}


# --------------------------------------------------------------------------- bundles

def _utc(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def receive_bundle(db: sqlite_utils.Database, data: bytes, *, now: datetime | None = None,
                   etag: str | None = None, actor: str | None = "hub") -> dict:
    """Verify ``data`` against the pinned hub keys and apply it (``bundle.BundleError``
    otherwise, nothing changed)."""
    pinned = _pinned(db)
    if not pinned:
        raise SyncError("no hub key is pinned: enrol first (passport hub enrol), or give "
                        "--hub-key to pin the key the hub's operator gave you")
    verified = bundle.verify(data, pinned, _utc(now))
    return bundle.apply(db, verified, etag=etag, actor=actor)


def import_bundle(db: sqlite_utils.Database, data: bytes, *, now: datetime | None = None,
                  hub_key: str | None = None, actor: str | None = None) -> dict:
    """The offline path: a bundle file, verified exactly like a download. ``hub_key`` pins
    that key first (a site that never reached the hub); it is pinned only if the bundle is
    signed with it and applied (a refused bundle changes nothing, the pins included)."""
    if hub_key is not None:
        given_id, raw = _parse_hub_key(hub_key)
        key_id = given_id or bundle.hub_key_id(raw)
        verified = bundle.verify(data, {**_pinned(db), key_id: raw}, _utc(now))
        with db.atomic():
            if verified.key_id == key_id:
                store.pin_hub_key(db, key_id, bundle.public_key_text(raw), "operator")
            return bundle.apply(db, verified, actor=actor)
    return receive_bundle(db, data, now=now, actor=actor)


def export_bundle(db: sqlite_utils.Database) -> bytes:
    """The last applied bundle's bytes as received (``SyncError`` before the first)."""
    data = store.last_applied_bundle_data(db)
    if data is None:
        raise SyncError("no bundle has been applied yet: run passport sync (or import one)")
    return data


def bundle_status(db: sqlite_utils.Database, *, now: datetime | None = None,
                  warn_hours: float = BUNDLE_WARN_HOURS) -> dict:
    """``{"enrolled", "sequence", "issued_at", "applied_at", "valid_until", "age_hours",
    "stale", "expired"}``: age from the bundle's issue; ``stale`` past ``warn_hours``."""
    row = store.last_applied_bundle_row(db)
    status: dict[str, Any] = {"enrolled": store.get_hub_enrolment(db) is not None,
                              "sequence": None, "issued_at": None, "applied_at": None,
                              "valid_until": None, "age_hours": None, "stale": False,
                              "expired": False, "warn_hours": warn_hours}
    if row is None:
        status["stale"] = status["enrolled"]
        return status
    moment = _utc(now)
    age_hours = (moment - datetime.fromisoformat(row["issued_at"])).total_seconds() / 3600
    status.update({k: row[k] for k in ("sequence", "issued_at", "applied_at", "valid_until")})
    status.update(age_hours=round(age_hours, 2), stale=age_hours > warn_hours,
                  expired=moment >= datetime.fromisoformat(row["valid_until"]))
    return status


def _fetch_bundle(db: sqlite_utils.Database, base: str, now: datetime, timeout: float) -> dict:
    last = store.last_applied_bundle_row(db)
    headers = {"If-None-Match": last["etag"]} if last and last["etag"] else {}
    status, answer_headers, payload = _request("GET", f"{base}/api/v1/bundle",
                                               headers=headers, timeout=timeout)
    if status == 304:
        return {"bundle_sequence": last["sequence"], "applied": False}
    if status != 200:
        raise SyncError(f"bundle download failed: {_error_text(status, payload)}")
    etag = {k.lower(): v for k, v in answer_headers.items()}.get("etag")
    verified = bundle.verify(payload, _pinned(db), now)
    if last is not None and verified.sequence == last["sequence"] \
            and verified.sha256 == last["sha256"]:
        return {"bundle_sequence": last["sequence"], "applied": False}  # no ETag support
    result = bundle.apply(db, verified, etag=etag)
    return {"bundle_sequence": verified.sequence, "applied": True, "lists": result["lists"]}


# --------------------------------------------------------------------------- upward: trust

def _key_state(row: dict) -> str:
    return f"{row['retired_at'] or ''}|{row['revoked_at'] or ''}"


def unsent_trust(db: sqlite_utils.Database, site: str) -> tuple[list[dict], list[dict]]:
    """This site's own issuer keys and card revocations the hub has not acknowledged in
    their present state, in the shapes of ``passport trust export``."""
    sent = store.sent_trust_states(db)
    keys = [
        {"key_id": k["key_id"], "institution_id": k["institution_id"], "algorithm": "Ed25519",
         "public_key": k["public_key"], "created_at": k["created_at"],
         "retired_at": k["retired_at"], "revoked_at": k["revoked_at"]}
        for k in store.list_issuer_key_rows(db, site)
        if sent.get(("key", k["key_id"])) != _key_state(k)]
    cards = [
        {"institution_id": r["institution_id"], "member_id": r["member_id"],
         "revoked_at": r["revoked_at"], "reason": r["reason"]}
        for r in store.list_card_revocation_rows(db)
        if r["institution_id"] == site
        and sent.get(("revocation", r["member_id"])) != r["revoked_at"]]
    return keys, cards


def _push_trust(db: sqlite_utils.Database, base: str, site: str, credential: str,
                timeout: float) -> dict:
    keys, cards = unsent_trust(db, site)
    if not keys and not cards:
        return {"keys_sent": 0, "revocations_sent": 0}
    status, _, payload = _request(
        "POST", f"{base}/api/v1/trust", body={"keys": keys, "revocations": cards},
        headers={"Authorization": f"Bearer {credential}"}, timeout=timeout)
    if status != 200:
        raise SyncError(f"sending keys and revocations failed: {_error_text(status, payload)}")
    store.mark_trust_sent(
        db, [("key", k["key_id"], _key_state(k)) for k in keys]
        + [("revocation", c["member_id"], c["revoked_at"]) for c in cards])
    return {"keys_sent": len(keys), "revocations_sent": len(cards)}


# --------------------------------------------------------------------------- upward: check-ins

class _LocalTime:
    """Each visited site's local date and hour, from its program's active list (UTC when the
    list does not know its zone, as the reports do)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db, self.zones = db, {}

    def zone(self, program: str, visit: str) -> Any:
        if program not in self.zones:
            version = store.get_active_list_version(self.db, program)
            rows = store.get_institution_rows(self.db, version) if version else []
            self.zones[program] = {r["id"]: r["timezone"] for r in rows}
        try:
            return ZoneInfo(self.zones[program].get(visit) or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return UTC

    def __call__(self, row: dict) -> datetime:
        program = row["program"] or DEFAULT_PROFILE_NAME
        return datetime.fromisoformat(row["at"]).astimezone(self.zone(program, row["visit"]))


def log_uid(site: str, checkin_id: int, at: str) -> str:
    """A log entry's id at the hub: the site, the local id and the instant it was logged
    (``exploratorium-san-francisco:3@20260615190000123456``). The instant keeps the ids of a
    store restored from a backup apart: its next entries reuse local ids that the hub may
    already hold for entries logged after the backup."""
    return f"{site}:{checkin_id}@{re.sub(r'[^0-9]', '', at)}"


def outbox_row(row: dict, site: str, local: Callable[[dict], datetime]) -> dict:
    """One log entry as the hub receives it: no names, no member ids."""
    admit = bool(row["admit"])
    party = int(row["party_size"])
    free = min(party, row["covered"] if row["covered"] is not None else party) if admit else 0
    moment = local(row)
    return {
        "uid": log_uid(site, row["id"], row["at"]),
        "program": row["program"] or DEFAULT_PROFILE_NAME,
        "home": row["home"], "visit": row["visit"], "local_date": moment.date().isoformat(),
        "local_hour": moment.hour, "party_size": party, "people_free": free,
        "people_paying": party - free if admit else 0, "admit": admit,
        "reasons": json.loads(row["reasons"]),
        "kind": "undo" if row["undoes"] is not None else "visit",
        "undoes": (log_uid(site, row["undoes"], row["undoes_at"])
                   if row["undoes"] is not None else None),
    }


def _push_checkins(db: sqlite_utils.Database, base: str, site: str, credential: str,
                   timeout: float, batch_rows: int = BATCH_ROWS) -> int:
    """Send the outbox in batches; the mark moves after each acknowledged batch."""
    local, sent = _LocalTime(db), 0
    while True:
        mark = store.get_outbox_mark(db, CHECKINS_STREAM)
        rows = store.checkin_outbox_rows(db, mark, batch_rows)
        if not rows:
            return sent
        status, _, payload = _request(
            "POST", f"{base}/api/v1/checkins",
            body={"checkins": [outbox_row(r, site, local) for r in rows]},
            headers={"Authorization": f"Bearer {credential}"}, timeout=timeout)
        if status != 200:
            raise SyncError(f"sending check-ins failed after {sent} sent: "
                            f"{_error_text(status, payload)}")
        store.advance_outbox_mark(db, CHECKINS_STREAM, rows[-1]["id"])
        sent += len(rows)


def pending_checkins(db: sqlite_utils.Database) -> int:
    """Log entries the hub has not acknowledged yet."""
    return store.count_checkins_after(db, store.get_outbox_mark(db, CHECKINS_STREAM))


# --------------------------------------------------------------------------- sync

def _step(errors: list[dict], name: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except bundle.BundleError as exc:
        errors.append({"step": name, "code": exc.code, "message": exc.message})
    except (SyncError, KeyStoreError) as exc:
        errors.append({"step": name, "code": "SYNC_FAILED", "message": str(exc)})
    return None


def sync(db: sqlite_utils.Database, *, now: datetime | None = None,
         timeout: float = TIMEOUT_SECONDS, batch_rows: int = BATCH_ROWS) -> dict:
    """One sync with the hub: bundle down, then keys and revocations, then check-ins up.

    Each step runs even when an earlier one failed (a refused bundle must not hold back the
    check-ins); ``errors`` lists the failed steps. ``SyncError`` when not enrolled."""
    row = store.get_hub_enrolment(db)
    if row is None:
        raise SyncError("this site is not enrolled: passport hub enrol --url URL "
                        "--hub-key KEY --token TOKEN")
    base, site, errors = row["hub_url"], row["site"], []
    credential = open_credential(row["credential"], site)
    down = _step(errors, "bundle", lambda: _fetch_bundle(db, base, _utc(now), timeout)) or {}
    trust_sent = _step(errors, "trust",
                       lambda: _push_trust(db, base, site, credential, timeout)) or {}
    pending = pending_checkins(db)
    _step(errors, "checkins", lambda: _push_checkins(
        db, base, site, credential, timeout, batch_rows))
    left = pending_checkins(db)
    active = store.get_active_list_version(db, DEFAULT_PROFILE_NAME)
    last = store.last_applied_bundle_row(db)
    return {
        "bundle_sequence": last["sequence"] if last else None, "list_version": active,
        # acknowledged batches count even when a later batch failed
        "applied": bool(down.get("applied")), "checkins_sent": max(pending - left, 0),
        "keys_sent": trust_sent.get("keys_sent", 0),
        "revocations_sent": trust_sent.get("revocations_sent", 0),
        "checkins_pending": left, "errors": errors,
    }
