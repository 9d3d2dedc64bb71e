"""The check-in log: append-only, committed before the desk or API answers.

Nothing is ever updated or deleted (triggers in the schema refuse it). An undo is a new
row whose ``undoes`` points at the entry it cancels; counts leave out both. Every entry as
read says what it is: ``kind`` ("visit" or "undo") and ``undone`` (whether an undo cancelled
it), so a sum over visits that are not undone is right. A scan that does not decode as a
card (``CARD_MALFORMED``) is a misread, not a visit: it is never logged. A retried
request carrying the same idempotency key gets the original row back and logs nothing; the
same key with a different request (another visit, home institution, member or party size)
raises ``IdempotencyKeyReused``. Keys are scoped per client: stored as ``SCOPE:KEY`` (e.g.
``t3:order-81`` for API token 3, ``s:alice:...`` for a desk session) and shown as ``KEY``.

Every function that reads the time (log times, the undo window, the site's "today") takes
``now``, an aware datetime, defaulting to the real clock: the kiosk passes its app clock
(``CLOCK``), so tests choose the instant.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlite_utils

from passport import rules, store

UNDO_WINDOW_SECONDS = 120
MAX_PARTY_SIZE = rules.MAX_PARTY  # the party rule's own bound, not a second number
MAX_KEY_CHARS = 200
MAX_LIMIT = 1000
SOURCES = ("desk", "api", "cli")


class CheckinError(ValueError):
    """A check-in request is invalid (party size, key, dates)."""


class NothingToUndo(CheckinError):
    """No entry at this site is recent enough to undo."""


class UnknownCheckin(CheckinError):
    """No check-in has this id."""


class NotUndoable(CheckinError):
    """This entry cannot be undone (the subclass says why)."""


class AlreadyUndone(NotUndoable):
    """The entry was already undone."""


class UndoOfUndo(NotUndoable):
    """The entry is itself an undo (log the visit again instead)."""


class UndoWindowPassed(NotUndoable):
    """The entry was logged longer ago than the undo window."""


class CardUnreadable(CheckinError):
    """The scan did not decode as a card (CARD_MALFORMED): a misread, not a visit."""


class IdempotencyKeyReused(CheckinError):
    """An idempotency key already logged a different check-in."""


# What staff and API clients are told about a misread (the desk shows it as it is).
MISREAD_TEXT = "Could not read that card — scan again or use the printed-card flow."
# The facts of a logged row that come from the request; a replay must repeat them.
REQUEST_FACTS = ("visit", "home", "member_id", "party_size")
# A scope is ``t<token id>`` or ``s:<username>`` (usernames hold no colon: auth.USERNAME_RE).
_SCOPE = re.compile(r"^(?:t\d+|s:[A-Za-z0-9_.@-]{1,64})$")
_CURSOR = re.compile(r"^[1-9][0-9]{0,17}$")
_SCOPED_KEY = re.compile(r"^(?:t\d+|s:[A-Za-z0-9_.@-]{1,64}):(?P<key>.+)$", re.DOTALL)


def _scoped(key: str, scope: str | None) -> str:
    if scope is None:
        return key
    if not _SCOPE.match(scope):
        raise CheckinError(f"bad idempotency key scope {scope!r}")
    return f"{scope}:{key}"


def _client_key(stored: str | None) -> str | None:
    """The key as its client sent it (the stored key without its scope)."""
    if stored is None:
        return None
    match = _SCOPED_KEY.match(stored)
    return match["key"] if match else stored


def _utc(now: datetime | None) -> datetime:
    """``now`` in UTC (the real clock when None); ValueError for a naive datetime."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, not {now!r}")
    return now.astimezone(UTC)


def _iso(instant: datetime) -> str:
    """An aware instant as the log's sortable UTC ISO text (as ``store.utc_now_iso``)."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def _decision_dict(decision: Any) -> dict:
    if hasattr(decision, "to_json"):
        return decision.to_json()
    if isinstance(decision, Mapping):
        return dict(decision)
    raise TypeError(f"expected a Decision or its JSON dict, got {type(decision).__name__}")


def is_misread(decision: Any) -> bool:
    """Whether ``decision`` (a Decision or its JSON dict) answers a scan that did not decode
    as a card (``CARD_MALFORMED``): a misread, with nothing to log."""
    return rules.CARD_MALFORMED in _decision_dict(decision)["reasons"]


def _public(row: dict, replayed: bool | None = None) -> dict:
    """A stored row as the API shows it: booleans and lists decoded, plus ``kind`` ("visit"
    or "undo": an undo row repeats the facts of the entry it cancels, so sums go over visits
    only) and ``undone`` (an undo itself is never undone). Only ``log_checkin``'s answer
    carries ``replayed`` (whether it is an earlier row returned for its key)."""
    out = dict(row)
    out["admit"] = bool(row["admit"])
    out["reasons"] = json.loads(row["reasons"])
    out["names"] = json.loads(row["names"]) if row.get("names") else []
    out.setdefault("undone_by", None)
    out["idempotency_key"] = _client_key(row.get("idempotency_key"))
    out["kind"] = "visit" if row.get("undoes") is None else "undo"
    out["undone"] = out["undone_by"] is not None
    if replayed is not None:
        out["replayed"] = replayed
    return out


def check_party_size(party_size: Any) -> int:
    """``party_size`` when it is a whole number (not a bool) 1-MAX_PARTY_SIZE; else
    CheckinError naming it (the API's 400 message)."""
    if isinstance(party_size, bool) or not isinstance(party_size, int):
        raise CheckinError(f"'party_size' must be a whole number, not {party_size!r}")
    if not 1 <= party_size <= MAX_PARTY_SIZE:
        raise CheckinError(f"'party_size' must be 1-{MAX_PARTY_SIZE}, not {party_size}")
    return party_size


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_CHARS:
        raise CheckinError(f"idempotency key must be 1-{MAX_KEY_CHARS} characters")
    return key


def find_by_key(db: sqlite_utils.Database, idempotency_key: str,
                scope: str | None = None) -> dict | None:
    """The entry logged with this idempotency key (in ``scope``), or None."""
    row = store.get_checkin_row_by_key(db, _scoped(idempotency_key, scope))
    return _public(row, replayed=True) if row else None


def _replay(original: dict, row: dict, key: str) -> dict:
    """The original entry when ``row`` (about to be logged) repeats its request facts."""
    differ = [name for name in REQUEST_FACTS if original[name] != row[name]]
    if differ:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was already used for a different check-in "
            f"({', '.join(differ)} differ); send a new key for a new check-in")
    return original


def log_checkin(
    db: sqlite_utils.Database,
    decision: Any,
    *,
    party_size: int,
    staff_user: str | None,
    source: str,
    idempotency_key: str | None = None,
    key_scope: str | None = None,
    member_id: str | None = None,
    names: list[str] | tuple[str, ...] | None = None,
    now: datetime | None = None,
) -> dict:
    """Append one check-in for ``decision`` (a Decision or its ``to_json()`` dict), logged at
    ``now`` (default: the real clock) and committed before returning. With an
    ``idempotency_key`` already logged in ``key_scope`` (``t<token id>`` or ``s:<username>``;
    None: unscoped), return that original row (``replayed`` is True) and log nothing, or
    raise ``IdempotencyKeyReused`` when its visit, home, member or party size differ from
    this one's. A misread (``is_misread``) raises ``CardUnreadable`` and logs nothing."""
    party_size = check_party_size(party_size)
    key = _check_key(idempotency_key)
    if source not in SOURCES:
        raise CheckinError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    stored_key = _scoped(key, key_scope) if key is not None else None
    data = _decision_dict(decision)
    if is_misread(data):
        raise CardUnreadable(MISREAD_TEXT)
    card = data.get("card") or {}
    if not data.get("visit"):
        raise CheckinError("the decision names no visited institution")
    row = {
        "at": _iso(_utc(now)),
        "visit": data["visit"],
        "home": data.get("home") or card.get("issuer_id"),
        "member_id": member_id or card.get("member_id"),
        "names": json.dumps(list(names if names is not None else card.get("names") or [])),
        "admit": int(bool(data["admit"])),
        "reasons": json.dumps(list(data["reasons"])),
        "home_distance_miles": data.get("home_distance_miles"),
        "residence_distance_miles": data.get("residence_distance_miles"),
        "list_version": data.get("list_version"),
        "party_size": party_size,
        "staff_user": staff_user,
        "source": source,
        "idempotency_key": stored_key,
        "undoes": None,
        "card_key_id": card.get("key_id"),
        "covered": data.get("covered"),
        "program": data.get("program"),
    }
    try:
        checkin_id = store.insert_checkin(db, row)
    except sqlite3.IntegrityError:
        # The key is taken (a retry, or two retries raced): answer with the row logged
        # under it. The UNIQUE key decides, so a first attempt costs no lookup.
        if key is not None and (original := find_by_key(db, key, key_scope)) is not None:
            return _replay(original, row, key)
        raise
    return _public(store.get_checkin_row(db, checkin_id), replayed=False)


def _log_undo(db: sqlite_utils.Database, target: dict, instant: datetime,
              staff_user: str | None, source: str) -> int:
    """Append the row that undoes ``target`` (a copy of its facts) at ``instant``."""
    if source not in SOURCES:
        raise CheckinError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    row = {name: target[name] for name in store.CHECKIN_COLUMNS}
    row.update(at=_iso(instant), staff_user=staff_user, source=source, idempotency_key=None,
               undoes=target["id"])
    return store.insert_checkin(db, row)


def undo_last(
    db: sqlite_utils.Database,
    *,
    visit: str,
    staff_user: str | None,
    source: str = "desk",
    window_seconds: float = UNDO_WINDOW_SECONDS,
    now: datetime | None = None,
) -> dict:
    """Cancel the newest entry at ``visit`` logged at most ``window_seconds`` before ``now``
    (default: the real clock): log a new row at ``now`` that ``undoes`` it (a copy of its
    facts) and return that row. Raises NothingToUndo."""
    instant = _utc(now)
    since = _iso(instant - timedelta(seconds=window_seconds))
    with db.atomic():
        target = store.last_undoable_checkin_row(db, visit, since)
        if target is None:
            raise NothingToUndo(
                f"nothing logged at {visit} in the last {int(window_seconds)} seconds to undo"
            )
        undo_id = _log_undo(db, target, instant, staff_user, source)
    return _public(store.get_checkin_row(db, undo_id))


def undo_checkin(
    db: sqlite_utils.Database,
    checkin_id: int,
    *,
    staff_user: str | None,
    source: str = "api",
    window_seconds: float = UNDO_WINDOW_SECONDS,
    now: datetime | None = None,
) -> dict:
    """Cancel entry ``checkin_id`` under the desk's rules: a visit (not an undo), not undone
    yet, logged at most ``window_seconds`` before ``now`` (default: the real clock). Logs a
    new row at ``now`` that ``undoes`` it and returns that row. Raises UnknownCheckin,
    UndoOfUndo, AlreadyUndone or UndoWindowPassed (checked in that order)."""
    if (isinstance(checkin_id, bool) or not isinstance(checkin_id, int)
            or not 0 < checkin_id < 2**63):  # SQLite's integer range
        raise UnknownCheckin(f"no check-in {checkin_id!r}")
    instant = _utc(now)
    with db.atomic():
        target = store.get_checkin_row(db, checkin_id)
        if target is None:
            raise UnknownCheckin(f"no check-in #{checkin_id}")
        if target["undoes"] is not None:
            raise UndoOfUndo(f"#{checkin_id} is an undo (of #{target['undoes']}), which "
                             "cannot be undone; log the visit again instead")
        if target["undone_by"] is not None:
            raise AlreadyUndone(
                f"check-in #{checkin_id} was already undone by #{target['undone_by']}")
        if target["at"] < _iso(instant - timedelta(seconds=window_seconds)):
            raise UndoWindowPassed(
                f"check-in #{checkin_id} was logged at {target['at']}, more than "
                f"{int(window_seconds)} seconds ago; it can no longer be undone")
        undo_id = _log_undo(db, target, instant, staff_user, source)
    return _public(store.get_checkin_row(db, undo_id))


def _zone(tz_name: str | None) -> tzinfo:
    """The IANA zone ``tz_name``; UTC when None or unknown (as ``rules.site_local_today``)."""
    try:
        return ZoneInfo(tz_name) if tz_name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _to_utc_iso(value: date | datetime | str, end: bool, zone: tzinfo = UTC) -> str:
    """A bound as sortable UTC ISO text. A plain date means the start of that day in
    ``zone``, or, for an ``end`` bound, the start of the next day there (so ``to`` includes
    the whole day); a date-time without an offset is read in ``zone`` too."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError as exc:
            raise CheckinError(f"not an ISO date or date-time: {value!r}") from exc
    if not isinstance(value, datetime):
        value = datetime.combine(value + timedelta(days=1 if end else 0), time(), zone)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _check_limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise CheckinError(f"limit must be 1-{MAX_LIMIT}, not {limit!r}")
    return limit


def parse_cursor(cursor: Any) -> int | None:
    """The id a page's ``next_cursor`` stands for (entries below it come next); None for
    no cursor; CheckinError for anything ``page_checkins`` never answers."""
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str) or not _CURSOR.match(cursor):
        raise CheckinError(f"cursor {cursor!r} is not one this log gave; send next_cursor "
                           "back unchanged")
    return int(cursor)


def _query(db: sqlite_utils.Database, from_: Any, to: Any, limit: int, visit: str | None,
           home: str | None, tz_name: str | None, before_id: int | None) -> list[dict]:
    zone = _zone(tz_name)
    rows = store.query_checkin_rows(
        db,
        _to_utc_iso(from_, end=False, zone=zone) if from_ is not None else None,
        _to_utc_iso(to, end=True, zone=zone) if to is not None else None,
        limit, visit, home, before_id,
    )
    return [_public(row) for row in rows]


def list_checkins(
    db: sqlite_utils.Database,
    from_: date | datetime | str | None = None,
    to: date | datetime | str | None = None,
    limit: int = 100,
    *,
    visit: str | None = None,
    home: str | None = None,
    tz_name: str | None = None,
) -> list[dict]:
    """Entries with ``from_ <= at < to``, newest first, at most ``limit`` (1-1000), at
    ``visit`` and from ``home`` when given. Plain dates (and date-times without an offset)
    are read in the IANA zone ``tz_name`` (UTC when None or unknown)."""
    return _query(db, from_, to, _check_limit(limit), visit, home, tz_name, None)


def page_checkins(
    db: sqlite_utils.Database,
    from_: date | datetime | str | None = None,
    to: date | datetime | str | None = None,
    limit: int = 100,
    *,
    visit: str | None = None,
    home: str | None = None,
    tz_name: str | None = None,
    cursor: str | None = None,
) -> dict:
    """``{"checkins", "next_cursor"}``: one page of ``list_checkins`` in id order, newest
    first, starting after the page whose ``next_cursor`` is ``cursor`` (the first page when
    None). ``next_cursor`` fetches the next page with the same filters; None on the last."""
    limit = _check_limit(limit)
    rows = _query(db, from_, to, limit + 1, visit, home, tz_name, parse_cursor(cursor))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"checkins": rows, "next_cursor": str(rows[-1]["id"]) if more else None}


def local_day_bounds(tz_name: str | None = None, now: datetime | None = None) -> tuple[str, str]:
    """Start and end (UTC ISO) of the day holding ``now`` (default: the real clock) in
    ``tz_name`` (UTC when None/unknown, as the reports and ``rules.site_local_today``; never
    the server's own fixed offset, which is an hour off across a DST change)."""
    zone = _zone(tz_name)
    local_now = _utc(now).astimezone(zone)
    start = datetime.combine(local_now.date(), time(), zone)
    end = datetime.combine(local_now.date() + timedelta(days=1), time(), zone)
    return (
        start.astimezone(UTC).isoformat(timespec="microseconds"),
        end.astimezone(UTC).isoformat(timespec="microseconds"),
    )


def today_counts(db: sqlite_utils.Database, visit: str, tz_name: str | None = None, *,
                 now: datetime | None = None) -> dict:
    """``{admitted, admitted_people, denied, denied_people, undone, admitted_free,
    admitted_paying}`` for today (the day holding ``now``) at ``visit``: entries (parties)
    and people; of the admitted people, those the membership covered and those who paid."""
    start, end = local_day_bounds(tz_name, now)
    return store.checkin_counts(db, visit, start, end)


def today_checkins(
    db: sqlite_utils.Database, visit: str, tz_name: str | None = None, limit: int = 50, *,
    now: datetime | None = None,
) -> list[dict]:
    """Today's entries at ``visit`` (the site-local day holding ``now``), newest first."""
    start, end = local_day_bounds(tz_name, now)
    return list_checkins(db, start, end, limit, visit=visit)


def today_log(
    db: sqlite_utils.Database, visit: str, tz_name: str | None = None, limit: int = 50, *,
    now: datetime | None = None,
) -> dict:
    """``{counts, checkins}`` for today at ``visit`` (the site-local day holding ``now``):
    ``today_counts`` and ``today_checkins`` over one pair of day bounds, so both describe the
    same day even when the request straddles midnight."""
    start, end = local_day_bounds(tz_name, now)
    return {"counts": store.checkin_counts(db, visit, start, end),
            "checkins": list_checkins(db, start, end, limit, visit=visit)}
