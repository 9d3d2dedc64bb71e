"""Check-in batches from the sites: validated whole, stored in one transaction, idempotent.

A row is what a site's outbox sends (no names, ever): ``uid`` (``"<site id>:<local log
id>@<logged at>"``, ``passport.sync.log_uid``), ``program``, ``home``, ``visit``,
``local_date``, ``local_hour``, ``party_size``, ``people_free``, ``people_paying``,
``admit``, ``reasons``, ``kind`` (``visit``/``undo``) and ``undoes``. Any other field is
refused, so a name cannot slip in. The batch is stored with one ``INSERT ... SELECT FROM
unnest(...) ON CONFLICT (uid) DO NOTHING``: a retried batch adds nothing, and a batch is
either all checked and stored or refused whole.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from passport import hubstore
from passport.hub import HubError
from passport.ids import is_institution_id

MAX_BATCH_ROWS = 5000
FIELDS = ("uid", "program", "home", "visit", "local_date", "local_hour", "party_size",
          "people_free", "people_paying", "admit", "reasons", "kind", "undoes")
REASON_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
MAX_PARTY = 1000
_FIELD_SET = frozenset(FIELDS)


class BatchError(HubError, ValueError):
    """A batch is not valid; the message names the first bad row and field."""


def _count(row: dict, name: str, low: int, high: int) -> int:
    value = row[name]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number {low}..{high}, not {value!r}")
    return value


def _uid(value: Any, site_id: str, name: str) -> str:
    prefix = f"{site_id}:"
    if not isinstance(value, str) or not value.startswith(prefix) or len(value) > 200 \
            or len(value) == len(prefix):
        raise ValueError(f"{name} must be '{prefix}<local log id>@<logged at>', "
                         f"not {value!r}")
    return value


def _row(row: Any, site_id: str) -> tuple:
    """One row's values in ``FIELDS`` order (``reasons`` comma-joined); ``ValueError``."""
    if not isinstance(row, dict):
        raise ValueError("not an object")
    if row.keys() != _FIELD_SET:
        extra, missing = sorted(row.keys() - _FIELD_SET), sorted(_FIELD_SET - row.keys())
        raise ValueError(f"unknown fields {extra} (no names leave a site)" if extra
                         else f"missing fields {missing}")
    for name in ("visit", "home", "program"):
        if not (row[name] is None and name != "visit") and not is_institution_id(row[name]):
            raise ValueError(f"{name} is not an institution or program id: {row[name]!r}")
    try:
        day = date.fromisoformat(row["local_date"]) if len(str(row["local_date"])) == 10 \
            else None
    except (TypeError, ValueError):
        day = None
    if day is None:
        raise ValueError(f"local_date must be YYYY-MM-DD, not {row['local_date']!r}")
    if not isinstance(row["admit"], bool):
        raise ValueError(f"admit must be true or false, not {row['admit']!r}")
    reasons = row["reasons"]
    if not isinstance(reasons, list) or not all(isinstance(r, str) and REASON_RE.match(r)
                                                for r in reasons):
        raise ValueError(f"reasons must be a list of reason codes, not {reasons!r}")
    if row["kind"] not in ("visit", "undo"):
        raise ValueError(f"kind must be 'visit' or 'undo', not {row['kind']!r}")
    undoes = None
    if row["kind"] == "undo":
        undoes = _uid(row["undoes"], site_id, "undoes")
    elif row["undoes"] is not None:
        raise ValueError("undoes is only for kind 'undo'")
    return (_uid(row["uid"], site_id, "uid"), row["program"], row["home"], row["visit"], day,
            _count(row, "local_hour", 0, 23), _count(row, "party_size", 1, MAX_PARTY),
            _count(row, "people_free", 0, MAX_PARTY), _count(row, "people_paying", 0, MAX_PARTY),
            row["admit"], ",".join(reasons), row["kind"], undoes)


def columns_of(site_id: str, payload: Any) -> dict[str, list]:
    """The batch as one list per field (``hubstore.insert_checkins``); ``BatchError``."""
    rows = payload.get("checkins") if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        raise BatchError('send {"checkins": [rows]} as JSON')
    if len(rows) > MAX_BATCH_ROWS:
        raise BatchError(f"a batch holds at most {MAX_BATCH_ROWS} rows, not {len(rows)}")
    values = []
    for n, row in enumerate(rows):
        try:
            values.append(_row(row, site_id))
        except ValueError as exc:
            uid = row.get("uid") if isinstance(row, dict) else None
            raise BatchError(f"checkins[{n}] ({uid}): {exc}") from None
    return {name: [v[i] for v in values] for i, name in enumerate(FIELDS)}


def ingest(pool: hubstore.Pool, site_id: str, payload: Any) -> dict:
    """Store a batch from ``site_id``: ``{"accepted": new rows, "duplicates": rows already
    there}`` (a uid twice in one batch counts once, then as a duplicate)."""
    columns = columns_of(site_id, payload)
    total = len(columns["uid"])
    accepted = hubstore.insert_checkins(pool, site_id, columns) if total else 0
    return {"accepted": accepted, "duplicates": total - accepted}
