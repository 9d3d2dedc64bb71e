"""The audit log: who did what, when, to the lists, cards, keys, staff, tokens and settings.

``record(db, actor, action, subject, details=None)`` appends one row; nothing is ever changed
or deleted (the table refuses UPDATE and DELETE). Actors: ``cli:<OS user>`` from the command
line (``cli_actor()``), the signed-in user's name from the admin console. ``subject`` names
what was acted on (a list version, a key id, ``institution/member``, a user name, a token id);
``details`` is a small JSON object of facts (ids, counts, versions). Secrets and personal data
have no place here: passwords, tokens, private keys and names are dropped from ``details``
(member ids are kept).
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

import sqlite_utils

from passport import store
from passport.importer import inert

# The actions this project records, with the words the Activity page shows. Other modules
# may record further ``area.verb`` actions: any such name is accepted.
ACTIONS: dict[str, str] = {
    "list.published": "published a participant list",
    "list.rolled_back": "re-activated a list version (rollback)",
    "program.added": "added a reciprocal program",
    "roster.uploaded": "uploaded a member roster",
    "card.issued": "issued a member card",
    "cards.issued": "issued member cards in a batch",
    "card.revoked": "revoked a member's cards",
    "key.created": "created an issuer key",
    "key.rotated": "rotated an issuer key",
    "key.retired": "retired an issuer key",
    "key.revoked": "revoked an issuer key",
    "trust.imported": "imported a trust list",
    "token.created": "created an API token",
    "token.revoked": "revoked an API token",
    "user.created": "created a staff user",
    "user.password_changed": "changed a password",
    "user.disabled": "disabled a staff user",
    "user.enabled": "enabled a staff user",
    "signin.unlocked": "unlocked sign-ins",
    "site.changed": "changed the kiosk's site",
    "crosswalk.suggested": "suggested crosswalk pairs between two programs' lists",
    "crosswalk.confirmed": "confirmed two programs' entries as one institution",
    "crosswalk.rejected": "rejected a crosswalk pair (not the same institution)",
    "hub.enrolled": "enrolled this site with a program hub",
    "bundle.applied": "applied a signed bundle from the hub",
}

ACTION_PATTERN = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")
# Keys never stored in ``details``: secrets and names of people.
SECRET_KEYS = frozenset({"password", "password_hash", "token", "token_sha256", "secret",
                         "private_key", "names", "name_on_card", "member_name"})
MAX_PAGE = 1000
UNKNOWN_ACTOR = "unknown"


class AuditError(ValueError):
    """An action name or a filter of the audit log is not valid."""


@dataclass(frozen=True)
class Filters:
    """Which rows to read: an action, an actor, local days ``from_day..to_day`` inclusive."""

    action: str | None = None
    actor: str | None = None
    from_day: date | None = None
    to_day: date | None = None


def cli_actor() -> str:
    """The command line's actor: ``cli:`` and the OS user (``cli:unknown`` when none)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        user = "unknown"
    return f"cli:{user}"


def _clean_details(details: Mapping | None) -> str | None:
    if not details:
        return None
    kept = {key: value for key, value in details.items() if key not in SECRET_KEYS}
    return json.dumps(kept, sort_keys=True, default=str) if kept else None


def record(db: sqlite_utils.Database, actor: str | None, action: str, subject: str | None,
           details: Mapping | None = None, *, now: datetime | None = None) -> int:
    """Append one audit row and return its id.

    ``actor`` None is recorded as ``unknown`` (a library call that named nobody);
    ``action`` is ``area.verb`` (see ``ACTIONS``; other such names are accepted);
    ``details`` keys naming secrets or people (``SECRET_KEYS``) are dropped.
    """
    if not ACTION_PATTERN.match(action or ""):
        raise AuditError(f"audit action must look like 'area.verb', not {action!r}")
    at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds")
    return store.insert_audit_row(db, {
        "at": at, "actor": actor or UNKNOWN_ACTOR, "action": action,
        "subject": None if subject is None else str(subject),
        "details": _clean_details(details),
    })


def _bounds(filters: Filters, zone: tzinfo | None) -> dict:
    """Store filters: the local days as UTC instants ``[from 00:00, day after to 00:00)``."""
    zone = zone or UTC

    def instant(day: date) -> str:
        local = datetime(day.year, day.month, day.day, tzinfo=zone)
        return local.astimezone(UTC).isoformat(timespec="microseconds")

    if filters.from_day and filters.to_day and filters.from_day > filters.to_day:
        raise AuditError(f"from {filters.from_day} is after to {filters.to_day}")
    return {
        "action": filters.action or None,
        "actor": filters.actor or None,
        "from_iso": instant(filters.from_day) if filters.from_day else None,
        "to_iso": instant(filters.to_day + timedelta(days=1)) if filters.to_day else None,
    }


def _entry(row: dict) -> dict:
    details = json.loads(row["details"]) if row["details"] else {}
    return {"id": row["id"], "at": row["at"], "actor": row["actor"], "action": row["action"],
            "subject": row["subject"], "details": details,
            "what": ACTIONS.get(row["action"], row["action"])}


def entries(db: sqlite_utils.Database, filters: Filters = Filters(), *, limit: int | None = 50,
            offset: int = 0, zone: tzinfo | None = None) -> list[dict]:
    """Audit entries matching ``filters``, newest first: ``{"id", "at" (UTC ISO), "actor",
    "action", "subject", "details", "what"}``. Days are local to ``zone`` (UTC when None).
    ``limit`` None reads them all (an export)."""
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise AuditError(f"limit must be 1..{MAX_PAGE}, not {limit}")
    if offset < 0:
        raise AuditError(f"offset must not be negative, not {offset}")
    rows = store.query_audit_rows(db, _bounds(filters, zone), limit, offset)
    return [_entry(row) for row in rows]


def count(db: sqlite_utils.Database, filters: Filters = Filters(), *,
          zone: tzinfo | None = None) -> int:
    """How many entries match ``filters``."""
    return store.count_audit_rows(db, _bounds(filters, zone))


def facets(db: sqlite_utils.Database) -> dict:
    """``{"action": [...], "actor": [...]}``: the values logged so far (filter choices)."""
    return store.audit_facets(db)


def local_minute(at: str, zone: tzinfo | None) -> str:
    """A logged UTC time as local time to the minute with the zone's abbreviation
    (``2026-11-30 20:19 PST``), or UTC, saying so, when ``zone`` is None."""
    moment = datetime.fromisoformat(at).astimezone(zone or UTC)
    label = "UTC" if zone is None or zone is UTC else moment.strftime("%Z")
    return f"{moment:%Y-%m-%d %H:%M} {label}"


def details_text(details: Mapping) -> str:
    """``key=value`` pairs, for people (the page, the CLI's text, the CSV)."""
    return ", ".join(f"{key}={value}" for key, value in details.items() if value is not None)


def to_csv(rows: list[dict], zone: tzinfo | None) -> str:
    """Entries as CSV: ``id, at`` (UTC ISO), ``local_time``, ``actor, action, subject``,
    ``details`` (JSON); every text cell inert for spreadsheets (importer.inert)."""
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180 CRLF: a CR or LF inside a cell gets it quoted
    writer.writerow(["id", "at", "local_time", "actor", "action", "subject", "details"])
    for row in rows:
        writer.writerow([row["id"], row["at"], local_minute(row["at"], zone),
                         *(inert(row[name] or "") for name in ("actor", "action", "subject")),
                         inert(json.dumps(row["details"], sort_keys=True))
                         if row["details"] else ""])
    return out.getvalue()
