"""The SQLite store: every SQL statement of the project lives in this module.

One SQLite file (WAL) through sqlite-utils. Functions take the database first.
Multi-step writes run inside ``with db.atomic():`` so a failure leaves nothing half-written.
Schema changes are numbered migrations in ``MIGRATIONS``; ``open_db`` applies the missing ones.

Sections below: migrations and connections; settings; profiles; participant lists; check-in
log; staff users and API tokens; issuer keys and revocations; card issuances; the audit log;
visit reports (the check-in log's running totals, kept by migration 6's triggers). Each section
is owned by the domain module named in its heading and is called only from there.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

DB_ENV_VAR = "PASSPORT_DB"
DB_FILENAME = "passport.sqlite"


class StoreError(Exception):
    """The database file cannot be opened or is not a passport store."""


class StoreUnavailable(StoreError):
    """The store cannot be written (or read) right now: read-only, disk full, locked past the
    busy timeout, an I/O error. ``code`` names which (the API's 503 code); it passes when the
    fault does, without a restart."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# SQLite's primary result codes that are faults of the store, not of the request, with the
# words the desk, the API and the CLI show (no file path: the API shows them to clients).
_NOT_LOGGED = "nothing can be written to it, so no check-in is logged"
_FAULTS = {
    sqlite3.SQLITE_READONLY: (
        "store_read_only", f"The check-in database is read-only: {_NOT_LOGGED} until its "
        "file is writable again. Tell whoever runs the kiosk server."),
    sqlite3.SQLITE_FULL: (
        "disk_full", f"The disk that holds the check-in database is full: {_NOT_LOGGED} "
        "until space is freed on the kiosk server."),
    sqlite3.SQLITE_BUSY: (
        "store_unavailable", "The check-in database is locked by another program: nothing "
        "was logged. Try again in a moment."),
    sqlite3.SQLITE_LOCKED: (
        "store_unavailable", "The check-in database is locked by another program: nothing "
        "was logged. Try again in a moment."),
    sqlite3.SQLITE_IOERR: (
        "store_unavailable", "The check-in database could not be read or written (an I/O "
        "error on the kiosk server): nothing was logged. Try again in a moment."),
    sqlite3.SQLITE_CANTOPEN: (
        "store_unavailable", "The check-in database cannot be opened on the kiosk server: "
        "nothing was logged."),
}


def fault_of(exc: BaseException) -> StoreUnavailable | None:
    """The ``StoreUnavailable`` that ``exc`` (an SQLite error, or one raised from it) stands
    for; None when it is not a fault of the store (a bug, or a constraint)."""
    while exc is not None and not isinstance(exc, StoreUnavailable | sqlite3.Error):
        exc = exc.__cause__
    if isinstance(exc, StoreUnavailable) or exc is None:
        return exc
    code = getattr(exc, "sqlite_errorcode", None)
    fault = _FAULTS.get(code & 0xFF) if isinstance(code, int) else None
    return StoreUnavailable(*fault) if fault else None


def utc_now_iso() -> str:
    """Current UTC time as an ISO 8601 string with microseconds, sortable as text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def default_instance_dir() -> Path:
    """The instance folder: ``$PASSPORT_INSTANCE`` or ``./instance`` of the working directory."""
    return Path(os.environ.get("PASSPORT_INSTANCE", "instance")).resolve()


def default_db_path() -> Path:
    """``$PASSPORT_DB`` when set, else ``passport.sqlite`` in the instance folder."""
    env = os.environ.get(DB_ENV_VAR)
    if env:
        return Path(env).resolve()
    return default_instance_dir() / DB_FILENAME


# --------------------------------------------------------------------------- migrations

# Migration 1, the initial schema: later migrations alter it; this text never changes.
_M001_SQL = """
        CREATE TABLE profiles (
            name TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            radius_miles REAL NOT NULL,
            residence_rule INTEGER NOT NULL,
            active_list_version INTEGER
        );
        -- one row per published (or dry-run-checked) participant list
        CREATE TABLE list_versions (
            version INTEGER PRIMARY KEY,
            profile TEXT NOT NULL REFERENCES profiles(name),
            created_at TEXT NOT NULL,
            created_by TEXT,
            source_name TEXT,
            source_sha256 TEXT,
            row_count INTEGER NOT NULL,
            note TEXT
        );
        CREATE TABLE institutions (
            list_version INTEGER NOT NULL REFERENCES list_versions(version),
            id TEXT NOT NULL,
            name TEXT NOT NULL,
            address TEXT,
            city TEXT,
            region TEXT,
            country TEXT NOT NULL,
            postal_code TEXT,
            latitude REAL NOT NULL,
            longitude REAL NOT NULL,
            timezone TEXT,
            website TEXT,
            restrictions TEXT,
            proof_of_residence INTEGER NOT NULL DEFAULT 0,
            local_radius_miles REAL,
            local_discount_percent REAL,
            reservation_required INTEGER NOT NULL DEFAULT 0,
            store_discount_only INTEGER NOT NULL DEFAULT 0,
            coord_source TEXT,
            PRIMARY KEY (list_version, id)
        );
        -- publish / rollback history (who re-activated which version when)
        CREATE TABLE list_events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            profile TEXT NOT NULL,
            action TEXT NOT NULL,
            list_version INTEGER NOT NULL,
            previous_version INTEGER,
            actor TEXT
        );
        -- append-only check-in log; an undo is a new row pointing at the one it undoes
        CREATE TABLE checkins (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            visit TEXT NOT NULL,
            home TEXT,
            member_id TEXT,
            names TEXT,
            admit INTEGER NOT NULL,
            reasons TEXT NOT NULL,
            home_distance_miles REAL,
            residence_distance_miles REAL,
            list_version INTEGER,
            party_size INTEGER NOT NULL DEFAULT 1,
            staff_user TEXT,
            source TEXT NOT NULL,
            idempotency_key TEXT UNIQUE,
            undoes INTEGER REFERENCES checkins(id),
            card_key_id TEXT
        );
        CREATE INDEX checkins_at ON checkins(at);
        CREATE TRIGGER checkins_no_update BEFORE UPDATE ON checkins
            BEGIN SELECT RAISE(ABORT, 'the check-in log is append-only'); END;
        CREATE TRIGGER checkins_no_delete BEFORE DELETE ON checkins
            BEGIN SELECT RAISE(ABORT, 'the check-in log is append-only'); END;
        CREATE TABLE users (
            username TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('desk', 'admin')),
            created_at TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            token_sha256 TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
        CREATE TABLE issuer_keys (
            key_id TEXT PRIMARY KEY,
            institution_id TEXT NOT NULL,
            public_key TEXT NOT NULL,
            private_key BLOB,
            created_at TEXT NOT NULL,
            retired_at TEXT,
            revoked_at TEXT
        );
        CREATE TABLE card_revocations (
            institution_id TEXT NOT NULL,
            member_id TEXT NOT NULL,
            revoked_at TEXT NOT NULL,
            reason TEXT,
            PRIMARY KEY (institution_id, member_id)
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT
        );
        INSERT INTO profiles (name, title, radius_miles, residence_rule)
            VALUES ('astc', 'ASTC Travel Passport Program', 90.0, 1);
        """


def _script_statements(sql: str) -> list[str]:
    """A script's statements one by one, for ``db.execute`` inside migrate's transaction:
    ``executescript`` would commit that transaction first, so a crash, or a second process
    starting at the same moment, could see half a migration."""
    statements, pending = [], ""
    for part in sql.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):  # not inside a trigger body or a string
            if pending.strip(" \t\n;"):
                statements.append(pending.strip())
            pending = ""
    return statements


def _m001_initial(db: sqlite_utils.Database) -> None:
    for statement in _script_statements(_M001_SQL):
        db.execute(statement)


def _m002_party_limits(db: sqlite_utils.Database) -> None:
    # The party rule is program data like the radius: the profile row is its only home.
    for statement in _script_statements(
        """
        ALTER TABLE profiles ADD COLUMN group_max_adults INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE profiles ADD COLUMN group_max_children INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE profiles ADD COLUMN individual_max_adults INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE profiles ADD COLUMN individual_max_children INTEGER NOT NULL DEFAULT 0;
        -- ASTC from 1 January 2026: a group covers 2 adults + 4 children.
        UPDATE profiles SET group_max_adults = 2, group_max_children = 4 WHERE name = 'astc';
        """
    ):
        db.execute(statement)


def _m003_checkin_covered(db: sqlite_utils.Database) -> None:
    # Who paid: the people of an admitted party the membership covered (the decision's
    # `covered`); NULL on entries logged before (counted as all covered). The index serves
    # "is this entry undone?" (undone_by, counts, undo) without a scan per row.
    # (plain execute: executescript would commit migrate's transaction first)
    db.execute("ALTER TABLE checkins ADD COLUMN covered INTEGER")
    db.execute("CREATE INDEX checkins_undoes ON checkins(undoes)")


def _m004_audit(db: sqlite_utils.Database) -> None:
    # Who did what, when (passport/audit.py): append-only like the check-in log.
    for statement in (
        "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at TEXT NOT NULL, "
        "actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT, details TEXT)",
        "CREATE INDEX audit_log_at ON audit_log(at)",
        "CREATE INDEX audit_log_action ON audit_log(action, at)",
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    ):
        db.execute(statement)


def _m005_card_issuances(db: sqlite_utils.Database) -> None:
    # Cards issued (and revoked) per member, for renewals (passport/issuance.py): what the
    # card carries about its member is kept only as a keyed hash (content_hash).
    db.execute(
        "CREATE TABLE card_issuances (id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT, "
        "institution_id TEXT NOT NULL, member_id TEXT NOT NULL, action TEXT NOT NULL "
        "CHECK (action IN ('issue', 'revoke')), key_id TEXT, expires TEXT, "
        "content_hash TEXT, batch TEXT)")
    db.execute("CREATE INDEX card_issuances_member ON card_issuances"
               "(institution_id, member_id, id)")


# Running totals of the check-in log for the visit reports (passport/reports.py), kept by
# triggers in each insert's own transaction, so a report over a million entries reads a few
# thousand rows. A visit adds its row to each dimension; an undo subtracts the row of the
# entry it undoes (once, and never for an undo of an undo), so undone visits and undo rows
# count nowhere. ``dim``: ``hour`` (period = UTC date, key = UTC hour ``HH``) and
# ``quarter`` (key ``HH:MM``, a quarter of an hour: for zones whose offset is not whole hours)
# are what local days, months, weekdays and hours are made of; ``home``, ``visit`` and
# ``reason`` (each reason code of the entry) are per UTC month (``YYYY-MM``). ``at`` is always
# UTC ISO text (checkins.py), so substrings are UTC fields.
_TOTAL_DIMS = {
    "hour": ("substr({t}.at, 1, 10)", "substr({t}.at, 12, 2)"),
    "quarter": ("substr({t}.at, 1, 10)", "substr({t}.at, 12, 3) || "
                "printf('%02d', CAST(substr({t}.at, 15, 2) AS INTEGER) / 15 * 15)"),
    "home": ("substr({t}.at, 1, 7)", "COALESCE({t}.home, '')"),
    "visit": ("substr({t}.at, 1, 7)", "{t}.visit"),
    "reason": ("substr({t}.at, 1, 7)", "r.value"),
}
# Per entry: admitted party, denied party, people admitted free (covered) and paying.
_TOTAL_VALUES = (
    "{t}.admit",
    "1 - {t}.admit",
    "CASE WHEN {t}.admit = 1 THEN MIN({t}.party_size, COALESCE({t}.covered, {t}.party_size)) "
    "ELSE 0 END",
    "CASE WHEN {t}.admit = 1 THEN MAX({t}.party_size - COALESCE({t}.covered, {t}.party_size), "
    "0) ELSE 0 END",
)
_TOTAL_COLUMNS = "dim, period, key, admitted, denied, people_free, people_paying"


def _totals_select(dim: str, alias: str, values: str, source: str | None = None) -> str:
    """``SELECT dim, period, key, values FROM source`` over check-in ``alias`` (``source``:
    ``checkins alias`` by default; NEW, a trigger's row, needs no table)."""
    period, key = (part.format(t=alias) for part in _TOTAL_DIMS[dim])
    tables = [source or f"checkins {alias}"] if alias != "NEW" else []
    if dim == "reason":
        tables.append(f"json_each({alias}.reasons) r")
    from_ = f" FROM {', '.join(tables)}" if tables else ""
    return f"SELECT '{dim}', {period}, {key}, {values}{from_}"


_TOTALS_ADD = ("ON CONFLICT (dim, period, key) DO UPDATE SET "
               "admitted = admitted + excluded.admitted, denied = denied + excluded.denied, "
               "people_free = people_free + excluded.people_free, "
               "people_paying = people_paying + excluded.people_paying")


def _totals_upsert(dim: str, alias: str, sign: int, where: str) -> str:
    """One trigger statement: add ``sign`` times entry ``alias``'s values to ``dim``."""
    values = ", ".join(f"{sign} * ({v.format(t=alias)})" for v in _TOTAL_VALUES)
    return (f"INSERT INTO checkin_totals ({_TOTAL_COLUMNS}) "
            f"{_totals_select(dim, alias, values)} WHERE {where} {_TOTALS_ADD}")


_TOTALS_UNDONE = ("t.id = NEW.undoes AND t.undoes IS NULL AND NOT EXISTS "
                  "(SELECT 1 FROM checkins o WHERE o.undoes = t.id AND o.id <> NEW.id)")


def _create_totals_triggers(db: sqlite_utils.Database) -> None:
    visit = "; ".join(_totals_upsert(dim, "NEW", 1, "1") for dim in _TOTAL_DIMS)
    db.execute("CREATE TRIGGER checkin_totals_visit AFTER INSERT ON checkins "
               f"WHEN NEW.undoes IS NULL BEGIN {visit}; END")
    undo = "; ".join(_totals_upsert(dim, "t", -1, _TOTALS_UNDONE) for dim in _TOTAL_DIMS)
    db.execute("CREATE TRIGGER checkin_totals_undo AFTER INSERT ON checkins "
               f"WHEN NEW.undoes IS NOT NULL BEGIN {undo}; END")


def _sum_into_totals(db: sqlite_utils.Database, first_id: int) -> None:
    """What the triggers do row by row, for every entry from id ``first_id`` on, set by set:
    add the visits, subtract each visit an undo among them cancels (once: not when an earlier
    undo already did)."""
    visits = ("checkins t", "t.id >= ? AND t.undoes IS NULL", "")
    undos = ("checkins u JOIN checkins t ON t.id = u.undoes",
             "u.id >= ? AND t.undoes IS NULL AND NOT EXISTS "
             "(SELECT 1 FROM checkins o WHERE o.undoes = t.id AND o.id < u.id)", "-")
    for dim in _TOTAL_DIMS:
        for source, where, sign in (visits, undos):
            values = ", ".join(f"{sign}SUM({v.format(t='t')})" for v in _TOTAL_VALUES)
            db.execute(f"INSERT INTO checkin_totals ({_TOTAL_COLUMNS}) "
                       f"{_totals_select(dim, 't', values, source)} WHERE {where} "
                       f"GROUP BY 2, 3 {_TOTALS_ADD}", [first_id])


def _m006_checkin_totals(db: sqlite_utils.Database) -> None:
    # (_create_totals_triggers and _sum_into_totals are this migration's: change them only
    # with a new migration that redoes the totals)
    db.execute(
        "CREATE TABLE checkin_totals (dim TEXT NOT NULL, period TEXT NOT NULL, "
        "key TEXT NOT NULL, admitted INTEGER NOT NULL, denied INTEGER NOT NULL, "
        "people_free INTEGER NOT NULL, people_paying INTEGER NOT NULL, "
        "PRIMARY KEY (dim, period, key)) WITHOUT ROWID")
    _create_totals_triggers(db)
    _sum_into_totals(db, 1)  # the entries logged before


# The programs (issue 13): a profile row is a whole program as data. ``distance_rule``:
# ``none`` (no distance rule), ``home`` (home institution more than radius_miles away),
# ``home_and_residence`` (and the residence), ``per_site`` (each site's own distance from the
# list's terms, NARM's ``**``/``#``). ``benefit``: what an admission gives by default
# (general_admission > member_admission > discount > store_discount, passport/programs.py);
# ``card_mark``: what the member's card must show; ``valid_from``/``valid_until``: the list's
# validity window; ``min_membership``: the lowest qualifying membership (the issuing site
# vouches). Institutions gain the terms other programs' lists carry.
_PROGRAM_SEEDS = (
    # name, title, radius, residence, distance_rule, benefit, discount, card_mark,
    # min_membership, group (adults, children), individual (adults, children), sort_order
    ("narm", "NARM (North American Reciprocal Museum Association)", 0, 0, "per_site",
     "member_admission", None, "NARM sticker on the membership card",
     "USD 100 membership", (2, 4), (1, 0), 2),
    ("aza", "AZA Reciprocal Admission (zoos and aquariums)", 0, 0, "none",
     "general_admission", None, "membership card of an AZA-accredited zoo or aquarium",
     "host's equivalent membership", (2, 4), (1, 0), 3),
    ("roam", "ROAM (Reciprocal Organization of Associated Museums)", 0, 0, "per_site",
     "member_admission", None, "ROAM logo or sticker on the membership card",
     "USD 100 membership", (2, 4), (1, 0), 4),
    ("ahs", "American Horticultural Society Reciprocal Garden Network", 90, 0, "home",
     "general_admission", None, "AHS RAP sticker or a garden card naming the network",
     "host's equivalent membership", (2, 0), (1, 0), 5),
    ("acm", "Association of Children's Museums Reciprocal Network", 0, 0, "none",
     "discount", 50.0, "ACM logo on the membership card", "host's equivalent membership",
     (6, 0), (6, 0), 6),
)


def _m007_programs(db: sqlite_utils.Database) -> None:
    for statement in (
        "ALTER TABLE profiles ADD COLUMN distance_rule TEXT NOT NULL DEFAULT 'home'",
        "ALTER TABLE profiles ADD COLUMN benefit TEXT NOT NULL DEFAULT 'general_admission'",
        "ALTER TABLE profiles ADD COLUMN discount_percent REAL",
        "ALTER TABLE profiles ADD COLUMN card_mark TEXT",
        "ALTER TABLE profiles ADD COLUMN min_membership TEXT",
        "ALTER TABLE profiles ADD COLUMN valid_from TEXT",
        "ALTER TABLE profiles ADD COLUMN valid_until TEXT",
        "ALTER TABLE profiles ADD COLUMN sort_order INTEGER NOT NULL DEFAULT 100",
        "UPDATE profiles SET distance_rule = 'home_and_residence', sort_order = 1, "
        "card_mark = 'ASTC Travel Passport logo or sticker on the membership card', "
        "min_membership = 'USD 100 group, USD 40 individual' WHERE name = 'astc'",
        # institutions: what NARM, AZA and ROAM lists carry besides ASTC's columns
        "ALTER TABLE institutions ADD COLUMN phone TEXT",
        "ALTER TABLE institutions ADD COLUMN symbols TEXT",
        "ALTER TABLE institutions ADD COLUMN site_home_within_miles REAL",
        "ALTER TABLE institutions ADD COLUMN reciprocal_restriction INTEGER",
        "ALTER TABLE institutions ADD COLUMN events_excluded INTEGER",
        "ALTER TABLE institutions ADD COLUMN excluded_venue TEXT",
        "ALTER TABLE institutions ADD COLUMN benefit_tier TEXT",
        "ALTER TABLE institutions ADD COLUMN coord_precision TEXT",
        # which program a check-in was decided under (NULL before: the default program)
        "ALTER TABLE checkins ADD COLUMN program TEXT",
    ):
        db.execute(statement)
    for (name, title, radius, residence, rule, benefit, discount, mark, minimum,
         group, individual, order) in _PROGRAM_SEEDS:
        db.execute(
            "INSERT OR IGNORE INTO profiles (name, title, radius_miles, residence_rule, "
            "group_max_adults, group_max_children, individual_max_adults, "
            "individual_max_children, distance_rule, benefit, discount_percent, card_mark, "
            "min_membership, sort_order) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [name, title, radius, residence, *group, *individual, rule, benefit, discount,
             mark, minimum, order])


def _m008_crosswalk(db: sqlite_utils.Database) -> None:
    # Issue 13 (passport/crosswalk.py): which entries of two programs' lists are the same
    # institution. One row per pair, stored once (program_a < program_b). An entry has at
    # most one confirmed counterpart per other program: the partial unique indexes hold it.
    for statement in (
        "CREATE TABLE crosswalk (program_a TEXT NOT NULL REFERENCES profiles(name), "
        "id_a TEXT NOT NULL, program_b TEXT NOT NULL REFERENCES profiles(name), "
        "id_b TEXT NOT NULL, status TEXT NOT NULL "
        "CHECK (status IN ('suggested', 'confirmed', 'rejected')), score REAL, "
        "distance_miles REAL, suggested_at TEXT, decided_by TEXT, decided_at TEXT, "
        "PRIMARY KEY (program_a, id_a, program_b, id_b), CHECK (program_a < program_b))",
        "CREATE INDEX crosswalk_b ON crosswalk(program_b, id_b)",
        "CREATE INDEX crosswalk_status ON crosswalk(status, program_a, program_b)",
        "CREATE UNIQUE INDEX crosswalk_one_a ON crosswalk(program_a, id_a, program_b) "
        "WHERE status = 'confirmed'",
        "CREATE UNIQUE INDEX crosswalk_one_b ON crosswalk(program_b, id_b, program_a) "
        "WHERE status = 'confirmed'",
    ):
        db.execute(statement)


def _m009_token_scopes(db: sqlite_utils.Database) -> None:
    # Scopes, space-separated (as OAuth writes them). Tokens made before scopes existed
    # could call every endpoint, so they keep every scope there was then; new tokens always
    # name theirs. last_used_at: ISO UTC, refreshed at most once a minute per token.
    db.execute("ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL "
               "DEFAULT 'check checkins:read checkins:write reports:read'")
    db.execute("ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT")


def _m010_sync(db: sqlite_utils.Database) -> None:
    # Issue 14, a site of a program network (passport/sync.py, passport/bundle.py): the hub
    # it enrolled with (one row; the credential is sealed under the instance secret, so a
    # copied store file does not carry it), the hub keys it pins, the bundles it applied (the
    # last one's bytes kept for `passport bundle export`), the check-in outbox's high-water
    # marks, and which of its own keys and card revocations the hub acknowledged (a key
    # changes state after it was sent, so a mark per key, not one number).
    for statement in (
        "CREATE TABLE hub_enrolment (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "hub_url TEXT NOT NULL, site TEXT NOT NULL, credential BLOB NOT NULL, "
        "enrolled_at TEXT NOT NULL)",
        "CREATE TABLE hub_pinned_keys (key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, "
        "pinned_at TEXT NOT NULL, source TEXT NOT NULL)",
        "CREATE TABLE applied_bundles (sequence INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, "
        "key_id TEXT NOT NULL, issued_at TEXT NOT NULL, valid_until TEXT NOT NULL, "
        "applied_at TEXT NOT NULL, etag TEXT, data BLOB)",
        "CREATE TABLE sync_outbox (stream TEXT PRIMARY KEY, high_water INTEGER NOT NULL, "
        "updated_at TEXT NOT NULL)",
        "CREATE TABLE sync_sent_trust (kind TEXT NOT NULL CHECK (kind IN ('key', "
        "'revocation')), ident TEXT NOT NULL, state TEXT NOT NULL, sent_at TEXT NOT NULL, "
        "PRIMARY KEY (kind, ident))",
    ):
        db.execute(statement)


# Append new migrations; never edit or reorder a released one.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_initial, _m002_party_limits, _m003_checkin_covered, _m004_audit,
    _m005_card_issuances, _m006_checkin_totals, _m007_programs, _m008_crosswalk,
    _m009_token_scopes, _m010_sync]


def _applied_migrations(db: sqlite_utils.Database) -> set[int]:
    return {row[0] for row in db.execute("SELECT version FROM schema_migrations").fetchall()}


@contextmanager
def _write_transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` .. ``COMMIT``: the write lock from the first statement on (a plain
    ``BEGIN`` takes it only at the first write, after the reads that decided what to write)."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.commit()


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the missing migrations in order; return the schema version.

    Safe when several processes open a new file at once (``passport serve --workers N``, a
    CLI command started beside the server): each migration runs in its own ``BEGIN
    IMMEDIATE`` transaction and checks again inside it that it is still missing, so a second
    process waits for the first (busy timeout) and then finds the work done.
    """
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = _applied_migrations(db)  # read without the write lock: usually all are applied
    for number, migration in enumerate(MIGRATIONS, start=1):
        if number in done:
            continue
        with _write_transaction(db):
            if number in _applied_migrations(db):  # another process applied it meanwhile
                continue
            migration(db)
            db.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                [number, utc_now_iso()],
            )
    return len(MIGRATIONS)


# A writer waits this long for another's lock instead of failing at once (kiosk + CLI at
# the same time); past it the write fails as a fault (StoreUnavailable, "store_unavailable").
BUSY_TIMEOUT_MS = 5000


def _connection_pragmas(db: sqlite_utils.Database,
                        busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    """Per-connection settings (SQLite does not keep them in the file)."""
    db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    db.execute("PRAGMA foreign_keys = ON")


def open_db(path: str | os.PathLike[str] | None = None) -> sqlite_utils.Database:
    """Open (creating if needed) the store at ``path`` (default: ``default_db_path()``).

    Enables WAL and foreign keys and applies migrations. Safe to call from several
    processes: migrations run in a transaction and are idempotent.
    """
    db_path = Path(path) if path is not None else default_db_path()
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(db_path)
        _connection_pragmas(db)
        db.enable_wal()
        migrate(db)
    except Exception as exc:  # sqlite3.DatabaseError and OSError both mean "not usable"
        if (fault := fault_of(exc)) is not None:  # may pass: the kiosk answers 503 meanwhile
            raise fault from exc
        raise StoreError(f"cannot open passport store {db_path}: {exc}") from exc
    return db


SYNCHRONOUS_LEVELS = ("NORMAL", "FULL", "EXTRA")


def connect_migrated(
    path: str | os.PathLike[str], synchronous: str = "FULL", *, check_same_thread: bool = True,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
) -> sqlite_utils.Database:
    """Open a store that ``open_db`` already opened (so migrated, WAL set on the file) with
    only the per-connection pragmas: a small part of ``open_db``'s work, for the kiosk's
    one-handle-per-request (a check-in must stay quick).

    ``synchronous``: FULL fsyncs the WAL at every commit (survives power loss; the fsync is
    most of a commit's time); NORMAL writes the WAL without fsync (a commit survives the
    process crashing, the last ones may roll back on power loss).
    ``check_same_thread=False`` for a handle another thread may close. ``busy_timeout_ms``:
    how long a write waits for another connection's lock.
    """
    level = synchronous.upper()
    if level not in SYNCHRONOUS_LEVELS:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS_LEVELS}, not {synchronous!r}")
    db = sqlite_utils.Database(sqlite3.connect(Path(path), check_same_thread=check_same_thread))
    _connection_pragmas(db, busy_timeout_ms)
    db.execute(f"PRAGMA synchronous = {level}")
    return db


def _first_row(db: sqlite_utils.Database, sql: str, params: list) -> dict | None:
    """The first row as a dict, or None. The connection's own ``execute``: ``db.query``
    wraps every read in a SAVEPOINT (three statements where the per-request API path wants
    one), and ``db.execute`` adds a tracer hook this hot read does not use."""
    cursor = db.conn.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([column[0] for column in cursor.description], row, strict=True))


# --------------------------------------------------------------------------- settings

def get_setting(db: sqlite_utils.Database, key: str, default: str | None = None) -> str | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_setting(db: sqlite_utils.Database, key: str, value: str | None) -> None:
    with db.atomic():
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )


# --------------------------------------------------------------------------- profiles
# (owner: passport/rules.py)

def get_profile_row(db: sqlite_utils.Database, name: str) -> dict | None:
    return _first_row(db, "SELECT * FROM profiles WHERE name = ?", [name])


def active_profile_rows(db: sqlite_utils.Database) -> tuple[tuple[str, ...], list[tuple]]:
    """The programs with a published list, in the programs' order: (column names, rows as
    tuples). Read per check: on the connection itself, as ``_first_row``, and left as
    tuples so that a caller can key a cache on them before building anything."""
    cursor = db.conn.execute("SELECT * FROM profiles WHERE active_list_version IS NOT NULL "
                             "ORDER BY sort_order, name")
    return tuple(column[0] for column in cursor.description), cursor.fetchall()


# (owner of the two below: passport/programs.py, the program catalogue)
PROFILE_COLUMNS = (
    "name", "title", "radius_miles", "residence_rule", "group_max_adults",
    "group_max_children", "individual_max_adults", "individual_max_children", "distance_rule",
    "benefit", "discount_percent", "card_mark", "min_membership", "valid_from", "valid_until",
)


def program_rows(db: sqlite_utils.Database) -> list[dict]:
    """Every profile in the programs' order, with ``institution_count`` (the row count of
    its active list version; None without one)."""
    return list(db.query(
        "SELECT p.*, v.row_count AS institution_count FROM profiles p "
        "LEFT JOIN list_versions v ON v.version = p.active_list_version "
        "ORDER BY p.sort_order, p.name"))


def insert_profile(db: sqlite_utils.Database, row: dict) -> None:
    """Add a program (``PROFILE_COLUMNS``) after the others in the programs' order; a taken
    name raises ``sqlite3.IntegrityError`` and writes nothing."""
    columns = ", ".join(PROFILE_COLUMNS)
    marks = ", ".join("?" for _ in PROFILE_COLUMNS)
    with db.atomic():
        db.execute(
            f"INSERT INTO profiles ({columns}, sort_order) VALUES ({marks}, "
            "(SELECT COALESCE(MAX(sort_order), 0) + 1 FROM profiles))",
            [row.get(c) for c in PROFILE_COLUMNS])


# --------------------------------------------------------------------------- participant lists
# (owner: passport/institutions.py)

INSTITUTION_COLUMNS = (
    "id", "name", "address", "city", "region", "country", "postal_code", "latitude",
    "longitude", "timezone", "website", "restrictions", "proof_of_residence",
    "local_radius_miles", "local_discount_percent", "reservation_required",
    "store_discount_only", "coord_source", "phone", "symbols", "site_home_within_miles",
    "reciprocal_restriction", "events_excluded", "excluded_venue", "benefit_tier",
    "coord_precision",
)


def get_active_list_version(db: sqlite_utils.Database, profile: str) -> int | None:
    row = db.execute("SELECT active_list_version FROM profiles WHERE name = ?",
                     [profile]).fetchone()
    return row[0] if row else None


def publish_list(
    db: sqlite_utils.Database, *, profile: str, records: list[dict], source_name: str | None,
    source_sha256: str | None, actor: str | None, note: str | None = None,
) -> tuple[int, int | None]:
    """Store ``records`` as a new list version and make it active, all or nothing.

    Returns (new version, previously active version).
    """
    with db.atomic():
        return insert_list_version(db, profile=profile, records=records,
                                   source_name=source_name, source_sha256=source_sha256,
                                   actor=actor, note=note)


def insert_list_version(
    db: sqlite_utils.Database, *, profile: str, records: list[dict], source_name: str | None,
    source_sha256: str | None, actor: str | None, note: str | None = None,
) -> tuple[int, int | None]:
    """``publish_list``'s writes without a transaction of their own: for a caller that
    publishes inside its own ``db.atomic()`` (a hub bundle applies every program's list and
    the trust list together)."""
    columns = ", ".join(INSTITUTION_COLUMNS)
    marks = ", ".join("?" for _ in INSTITUTION_COLUMNS)
    now = utc_now_iso()
    version = db.execute(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM list_versions").fetchone()[0]
    previous = get_active_list_version(db, profile)
    db.execute(
        "INSERT INTO list_versions (version, profile, created_at, created_by, source_name, "
        "source_sha256, row_count, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [version, profile, now, actor, source_name, source_sha256, len(records), note],
    )
    db.conn.executemany(
        f"INSERT INTO institutions (list_version, {columns}) VALUES (?, {marks})",
        [[version, *(r.get(c) for c in INSTITUTION_COLUMNS)] for r in records],
    )
    db.execute("UPDATE profiles SET active_list_version = ? WHERE name = ?",
               [version, profile])
    db.execute(
        "INSERT INTO list_events (at, profile, action, list_version, previous_version, "
        "actor) VALUES (?, ?, 'publish', ?, ?, ?)",
        [now, profile, version, previous, actor],
    )
    return version, previous


def activate_list_version(db: sqlite_utils.Database, profile: str, version: int,
                          actor: str | None, action: str = "rollback") -> int | None:
    """Re-activate an existing version of ``profile``; returns the previously active one."""
    with db.atomic():
        previous = get_active_list_version(db, profile)
        db.execute("UPDATE profiles SET active_list_version = ? WHERE name = ?",
                   [version, profile])
        db.execute(
            "INSERT INTO list_events (at, profile, action, list_version, previous_version, "
            "actor) VALUES (?, ?, ?, ?, ?, ?)",
            [utc_now_iso(), profile, action, version, previous, actor],
        )
    return previous


def get_list_version_row(db: sqlite_utils.Database, version: int) -> dict | None:
    return _first_row(db, "SELECT * FROM list_versions WHERE version = ?", [version])


def list_version_rows(db: sqlite_utils.Database, profile: str) -> list[dict]:
    """Every version of ``profile``, newest first, with ``active`` (0/1)."""
    return list(db.query(
        "SELECT v.*, (v.version = p.active_list_version) AS active FROM list_versions v "
        "JOIN profiles p ON p.name = v.profile WHERE v.profile = ? ORDER BY v.version DESC",
        [profile],
    ))


def get_institution_rows(db: sqlite_utils.Database, version: int) -> list[dict]:
    """The institutions of one list version, in upload order."""
    columns = ", ".join(INSTITUTION_COLUMNS)
    return list(db.query(
        f"SELECT {columns} FROM institutions WHERE list_version = ? ORDER BY rowid", [version]))


def list_event_rows(db: sqlite_utils.Database, profile: str, limit: int = 50) -> list[dict]:
    return list(db.query(
        "SELECT * FROM list_events WHERE profile = ? ORDER BY id DESC LIMIT ?", [profile, limit]))


# --------------------------------------------------------------------------- check-in log
# (owner: passport/checkins.py)

CHECKIN_COLUMNS = (
    "at", "visit", "home", "member_id", "names", "admit", "reasons", "home_distance_miles",
    "residence_distance_miles", "list_version", "party_size", "staff_user", "source",
    "idempotency_key", "undoes", "card_key_id", "covered", "program",
)
# Every read of the log carries ``undone_by``: the id of the row that undid it, or NULL.
_CHECKIN_SELECT = ("SELECT c.*, (SELECT u.id FROM checkins u WHERE u.undoes = c.id) "
                   "AS undone_by FROM checkins c")


def insert_checkin(db: sqlite_utils.Database, row: dict) -> int:
    """Append one row and commit before returning; a duplicate idempotency key raises
    ``sqlite3.IntegrityError`` (the caller then reads the original row)."""
    columns = ", ".join(CHECKIN_COLUMNS)
    marks = ", ".join("?" for _ in CHECKIN_COLUMNS)
    with db.atomic():
        cursor = db.execute(
            f"INSERT INTO checkins ({columns}) VALUES ({marks})",
            [row.get(name) for name in CHECKIN_COLUMNS],
        )
    return cursor.lastrowid


def append_checkin_rows(db: sqlite_utils.Database, columns: Sequence[str],
                        rows: Iterable[Sequence]) -> int:
    """Append many entries in one transaction (a bulk load: the benchmark's generated log, an
    import) and return how many. The running totals are summed once for the whole batch
    instead of by the triggers row by row: the same totals in a quarter of the time (the
    benchmark's million rows: 16 s instead of 63 s). ``rows``
    hold ``columns`` (names of ``CHECKIN_COLUMNS``) in order; an undo row names the entry it
    cancels in ``undoes``, as with ``insert_checkin``."""
    unknown = [name for name in columns if name not in CHECKIN_COLUMNS]
    if unknown or not columns:
        raise ValueError(f"not check-in columns: {unknown or list(columns)}")
    marks = ", ".join("?" for _ in columns)
    with db.atomic():
        first_id = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM checkins").fetchone()[0]
        db.execute("DROP TRIGGER checkin_totals_visit")
        db.execute("DROP TRIGGER checkin_totals_undo")
        cursor = db.conn.executemany(
            f"INSERT INTO checkins ({', '.join(columns)}) VALUES ({marks})", rows)
        _sum_into_totals(db, first_id)
        _create_totals_triggers(db)
    return cursor.rowcount


def get_checkin_row(db: sqlite_utils.Database, checkin_id: int) -> dict | None:
    return _first_row(db, f"{_CHECKIN_SELECT} WHERE c.id = ?", [checkin_id])


def get_checkin_row_by_key(db: sqlite_utils.Database, key: str) -> dict | None:
    return _first_row(db, f"{_CHECKIN_SELECT} WHERE c.idempotency_key = ?", [key])


def query_checkin_rows(
    db: sqlite_utils.Database,
    from_iso: str | None,
    to_iso: str | None,
    limit: int,
    visit: str | None = None,
    home: str | None = None,
    before_id: int | None = None,
) -> list[dict]:
    """Rows with ``from_iso <= at < to_iso`` (either bound optional), at ``visit`` and from
    ``home`` when given, with ids below ``before_id`` (a page's cursor), newest (highest id)
    first. Each row carries ``undone_by``: the id of the row that undid it, or NULL.
    """
    where, params = ["1 = 1"], []
    for condition, value in (("c.at >= ?", from_iso), ("c.at < ?", to_iso),
                             ("c.visit = ?", visit), ("c.home = ?", home),
                             ("c.id < ?", before_id)):
        if value is not None:
            where.append(condition)
            params.append(value)
    params.append(limit)
    return list(
        db.query(
            f"{_CHECKIN_SELECT} WHERE {' AND '.join(where)} ORDER BY c.id DESC LIMIT ?",
            params,
        )
    )


def last_undoable_checkin_row(
    db: sqlite_utils.Database, visit: str, since_iso: str
) -> dict | None:
    """The newest entry at ``visit`` since ``since_iso`` that is not an undo and not undone."""
    return _first_row(
        db,
        "SELECT * FROM checkins c WHERE c.visit = ? AND c.at >= ? AND c.undoes IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM checkins u WHERE u.undoes = c.id) "
        "ORDER BY c.id DESC LIMIT 1",
        [visit, since_iso],
    )


def checkin_counts(
    db: sqlite_utils.Database, visit: str, from_iso: str, to_iso: str
) -> dict:
    """Entries and people admitted / denied at ``visit`` in ``[from_iso, to_iso)``,
    leaving out undo rows and the entries they undid. ``admitted_free``: the admitted people
    their membership covered (all of a party logged before ``covered`` was recorded)."""
    row = db.execute(
        "SELECT "
        "COALESCE(SUM(admit = 1), 0), COALESCE(SUM(CASE WHEN admit = 1 THEN party_size END), 0), "
        "COALESCE(SUM(admit = 0), 0), COALESCE(SUM(CASE WHEN admit = 0 THEN party_size END), 0), "
        "COALESCE(SUM(CASE WHEN admit = 1 THEN MIN(party_size, COALESCE(covered, party_size)) "
        "END), 0) "
        # '+c.undoes': keep the planner on the checkins_at range; the undoes index would
        # read every visit in the log
        "FROM checkins c WHERE c.visit = ? AND c.at >= ? AND c.at < ? AND +c.undoes IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM checkins u WHERE u.undoes = c.id)",
        [visit, from_iso, to_iso],
    ).fetchone()
    undone = db.execute(
        "SELECT COUNT(*) FROM checkins WHERE visit = ? AND at >= ? AND at < ? "
        "AND +undoes IS NOT NULL",
        [visit, from_iso, to_iso],
    ).fetchone()[0]
    return {
        "admitted": row[0],
        "admitted_people": row[1],
        "denied": row[2],
        "denied_people": row[3],
        "undone": undone,
        "admitted_free": row[4],
        "admitted_paying": row[1] - row[4],
    }


# --------------------------------------------------------------------------- users and API tokens
# (owner: passport/auth.py)

def insert_user(db: sqlite_utils.Database, username: str, password_hash: str, role: str) -> None:
    """Insert a staff user; a taken username raises ``sqlite3.IntegrityError``."""
    with db.atomic():
        db.execute(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
            [username, password_hash, role, utc_now_iso()],
        )


def get_user_row(db: sqlite_utils.Database, username: str) -> dict | None:
    return _first_row(db, "SELECT * FROM users WHERE username = ?", [username])


def list_user_rows(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query("SELECT * FROM users ORDER BY username"))


def update_user(db: sqlite_utils.Database, username: str, **fields) -> int:
    """Set ``password_hash``, ``role`` and/or ``disabled``; return the rows changed."""
    allowed = {"password_hash", "role", "disabled"}
    if not fields or set(fields) - allowed:
        raise ValueError(f"update_user takes only {sorted(allowed)}, got {sorted(fields)}")
    assignments = ", ".join(f"{name} = ?" for name in fields)
    with db.atomic():
        cursor = db.execute(
            f"UPDATE users SET {assignments} WHERE username = ?", [*fields.values(), username]
        )
    return cursor.rowcount


def count_active_admins(db: sqlite_utils.Database) -> int:
    return db.execute(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0"
    ).fetchone()[0]


def insert_api_token(db: sqlite_utils.Database, name: str, token_sha256: str,
                     scopes: str) -> int:
    """A new token row; ``scopes`` space-separated."""
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO api_tokens (name, token_sha256, created_at, scopes) "
            "VALUES (?, ?, ?, ?)",
            [name, token_sha256, utc_now_iso(), scopes],
        )
    return cursor.lastrowid


def get_live_api_token_row(db: sqlite_utils.Database, token_sha256: str) -> dict | None:
    return _first_row(
        db,
        "SELECT id, name, created_at, scopes, last_used_at FROM api_tokens "
        "WHERE token_sha256 = ? AND revoked_at IS NULL",
        [token_sha256],
    )


def touch_api_token(db: sqlite_utils.Database, token_id: int, used_at: str,
                    stale_before: str) -> int:
    """Set the token's ``last_used_at`` to ``used_at`` if it is unset or at or before
    ``stale_before`` (so concurrent requests write it once); return the rows changed."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE api_tokens SET last_used_at = ? "
            "WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
            [used_at, token_id, stale_before],
        )
    return cursor.rowcount


def list_api_token_rows(db: sqlite_utils.Database) -> list[dict]:
    return list(
        db.query("SELECT id, name, scopes, created_at, last_used_at, revoked_at "
                 "FROM api_tokens ORDER BY id")
    )


def live_api_token_ids_named(db: sqlite_utils.Database, name: str) -> list[int]:
    return [row[0] for row in db.execute(
        "SELECT id FROM api_tokens WHERE name = ? AND revoked_at IS NULL ORDER BY id", [name])]


def revoke_api_token_row(db: sqlite_utils.Database, token_id: int) -> int:
    """Mark a live token revoked; return 1 if it was live, else 0."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            [utc_now_iso(), token_id],
        )
    return cursor.rowcount


# ------------------------------------------------------------------ issuer keys, revocations
# (owners: passport/keys.py for keys, passport/trust.py for revocations and the trust list)
#
# Every write here also stamps the trust list (``_stamp_trust``, same transaction): a fresh
# random token in ``settings``, so a verifier holding the keys and revocations in memory
# (``passport.trust.trust_snapshot``) sees any change, from any connection or process, with
# one primary-key read per check.

TRUST_STAMP_SETTING = "trust_list_stamp"


def _stamp_trust(db: sqlite_utils.Database) -> None:
    # Random, not a counter: a store file replaced by another one (a restored backup, a
    # new file at the same path) never repeats a stamp that describes other rows.
    set_setting(db, TRUST_STAMP_SETTING, secrets.token_hex(16))


def get_trust_stamp(db: sqlite_utils.Database) -> str | None:
    """The stamp of the last key or revocation write; None if none was stamped yet."""
    return get_setting(db, TRUST_STAMP_SETTING)


def insert_issuer_key(
    db: sqlite_utils.Database,
    key_id: str,
    institution_id: str,
    public_key: str,
    private_key: bytes | None,
    created_at: str,
) -> None:
    with db.atomic():
        db.execute(
            "INSERT INTO issuer_keys (key_id, institution_id, public_key, private_key, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [key_id, institution_id, public_key, private_key, created_at],
        )
        _stamp_trust(db)


def get_issuer_key_row(db: sqlite_utils.Database, key_id: str) -> dict | None:
    return _first_row(db, "SELECT * FROM issuer_keys WHERE key_id = ?", [key_id])


def list_issuer_key_rows(
    db: sqlite_utils.Database, institution_id: str | None = None
) -> list[dict]:
    """Keys oldest first (the private key column is left out)."""
    sql = (
        "SELECT key_id, institution_id, public_key, created_at, retired_at, revoked_at, "
        "private_key IS NOT NULL AS has_private_key FROM issuer_keys"
    )
    params: list = []
    if institution_id is not None:
        sql += " WHERE institution_id = ?"
        params.append(institution_id)
    return list(db.query(sql + " ORDER BY created_at, key_id", params))


def signing_key_row(db: sqlite_utils.Database, institution_id: str) -> dict | None:
    """The newest key of ``institution_id`` that has a private key and is neither
    retired nor revoked (after a rotation, the new key signs)."""
    return _first_row(
        db,
        "SELECT * FROM issuer_keys WHERE institution_id = ? AND private_key IS NOT NULL "
        "AND retired_at IS NULL AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1",
        [institution_id],
    )


def end_issuer_key(db: sqlite_utils.Database, key_id: str, column: str, at: str) -> None:
    """Set ``retired_at`` or ``revoked_at`` (once) and drop the private key."""
    if column not in ("retired_at", "revoked_at"):
        raise ValueError(f"not a key end column: {column!r}")
    with db.atomic():
        db.execute(
            f"UPDATE issuer_keys SET {column} = COALESCE({column}, ?), private_key = NULL "
            "WHERE key_id = ?",
            [at, key_id],
        )
        _stamp_trust(db)


def insert_card_revocation(
    db: sqlite_utils.Database, institution_id: str, member_id: str, at: str, reason: str | None
) -> bool:
    """Record the revocation; False when it was already revoked (the first one stays)."""
    with db.atomic():
        cursor = db.execute(
            "INSERT OR IGNORE INTO card_revocations "
            "(institution_id, member_id, revoked_at, reason) VALUES (?, ?, ?, ?)",
            [institution_id, member_id, at, reason],
        )
        _stamp_trust(db)
    return cursor.rowcount == 1


def is_card_revoked(db: sqlite_utils.Database, institution_id: str, member_id: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM card_revocations WHERE institution_id = ? AND member_id = ?",
        [institution_id, member_id],
    ).fetchone()
    return row is not None


def list_card_revocation_rows(db: sqlite_utils.Database) -> list[dict]:
    return list(
        db.query("SELECT * FROM card_revocations ORDER BY institution_id, member_id")
    )


def import_trust_rows(
    db: sqlite_utils.Database, keys: list[dict], revocations: list[dict]
) -> tuple[int, int]:
    """Merge an already validated trust list in one transaction; return (keys, cards) added.

    New keys are inserted without a private key; for known keys only the retired/revoked
    times are taken over and never cleared (a revoked key cannot be revived by an import).
    """
    keys_added = cards_added = 0
    with db.atomic():
        for key in keys:
            cursor = db.execute(
                "INSERT OR IGNORE INTO issuer_keys "
                "(key_id, institution_id, public_key, private_key, created_at, retired_at, "
                "revoked_at) VALUES (?, ?, ?, NULL, ?, ?, ?)",
                [key["key_id"], key["institution_id"], key["public_key"], key["created_at"],
                 key["retired_at"], key["revoked_at"]],
            )
            keys_added += cursor.rowcount
            for column in ("retired_at", "revoked_at"):
                if key[column] is not None:
                    db.execute(
                        f"UPDATE issuer_keys SET {column} = COALESCE({column}, ?), "
                        "private_key = NULL WHERE key_id = ?",
                        [key[column], key["key_id"]],
                    )
        for card in revocations:
            cursor = db.execute(
                "INSERT OR IGNORE INTO card_revocations "
                "(institution_id, member_id, revoked_at, reason) VALUES (?, ?, ?, ?)",
                [card["institution_id"], card["member_id"], card["revoked_at"], card["reason"]],
            )
            cards_added += cursor.rowcount
        _stamp_trust(db)
    return keys_added, cards_added


# --------------------------------------------------------------------------- card issuances
# (owner: passport/issuance.py)

CARD_ISSUANCE_COLUMNS = ("at", "actor", "institution_id", "member_id", "action", "key_id",
                         "expires", "content_hash", "batch")


def insert_card_issuance_rows(db: sqlite_utils.Database, rows: list[dict]) -> None:
    """Append issuance/revocation rows in one transaction (``CARD_ISSUANCE_COLUMNS``)."""
    columns = ", ".join(CARD_ISSUANCE_COLUMNS)
    marks = ", ".join("?" for _ in CARD_ISSUANCE_COLUMNS)
    with db.atomic():
        db.conn.executemany(
            f"INSERT INTO card_issuances ({columns}) VALUES ({marks})",
            [[row.get(name) for name in CARD_ISSUANCE_COLUMNS] for row in rows])


def latest_card_issuance_rows(db: sqlite_utils.Database, institution_id: str) -> list[dict]:
    """The newest issuance or revocation row of each member of ``institution_id``."""
    return list(db.query(
        "SELECT * FROM card_issuances WHERE id IN (SELECT MAX(id) FROM card_issuances "
        "WHERE institution_id = ? GROUP BY member_id) ORDER BY id", [institution_id]))


def card_issuance_batch_rows(db: sqlite_utils.Database, limit: int = 20) -> list[dict]:
    """The newest batches: ``batch, institution_id, actor, at`` (first row's), ``issued``,
    ``revoked``; newest first."""
    return list(db.query(
        "SELECT batch, institution_id, actor, MIN(at) AS at, "
        "SUM(action = 'issue') AS issued, SUM(action = 'revoke') AS revoked "
        "FROM card_issuances WHERE batch IS NOT NULL GROUP BY batch "
        "ORDER BY MIN(id) DESC LIMIT ?", [limit]))


# --------------------------------------------------------------------------- crosswalk
# (owner: passport/crosswalk.py)
#
# Confirming or rejecting a pair also stamps the crosswalk (``_stamp_crosswalk``, same
# transaction), like the trust list: the lookup the decisions use stays in memory until a
# decision changes. Suggestions do not stamp: no decision reads them.

CROSSWALK_STAMP_SETTING = "crosswalk_stamp"
CROSSWALK_COLUMNS = ("program_a", "id_a", "program_b", "id_b", "status", "score",
                     "distance_miles", "suggested_at", "decided_by", "decided_at")


def _stamp_crosswalk(db: sqlite_utils.Database) -> None:
    set_setting(db, CROSSWALK_STAMP_SETTING, secrets.token_hex(16))  # random: see _stamp_trust


def get_crosswalk_stamp(db: sqlite_utils.Database) -> str | None:
    """The stamp of the last confirm or reject; None if there was none."""
    row = _first_row(db, "SELECT value FROM settings WHERE key = ?", [CROSSWALK_STAMP_SETTING])
    return row["value"] if row else None


def replace_crosswalk_suggestions(db: sqlite_utils.Database, program_a: str, program_b: str,
                                  rows: list[dict]) -> None:
    """Replace the ``suggested`` pairs of two programs (``program_a < program_b``) with
    ``rows`` (``id_a, id_b, score, distance_miles``), all or nothing; a confirmed or rejected
    pair is never overwritten."""
    now = utc_now_iso()
    with db.atomic():
        db.execute("DELETE FROM crosswalk WHERE program_a = ? AND program_b = ? "
                   "AND status = 'suggested'", [program_a, program_b])
        db.conn.executemany(
            "INSERT INTO crosswalk (program_a, id_a, program_b, id_b, status, score, "
            "distance_miles, suggested_at) VALUES (?, ?, ?, ?, 'suggested', ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [[program_a, r["id_a"], program_b, r["id_b"], r["score"], r["distance_miles"], now]
             for r in rows])


def decide_crosswalk_pair(db: sqlite_utils.Database, row: dict) -> None:
    """Set a pair's ``status`` (confirmed or rejected) with ``score``, ``distance_miles``,
    ``decided_by``; raises ``sqlite3.IntegrityError`` when a confirmation would give an entry
    a second confirmed counterpart in the same program."""
    with db.atomic():
        db.execute(
            "INSERT INTO crosswalk (program_a, id_a, program_b, id_b, status, score, "
            "distance_miles, decided_by, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (program_a, id_a, program_b, id_b) DO UPDATE SET "
            "status = excluded.status, score = excluded.score, "
            "distance_miles = excluded.distance_miles, decided_by = excluded.decided_by, "
            "decided_at = excluded.decided_at",
            [row["program_a"], row["id_a"], row["program_b"], row["id_b"], row["status"],
             row.get("score"), row.get("distance_miles"), row.get("decided_by"),
             utc_now_iso()])
        _stamp_crosswalk(db)


def crosswalk_rows(db: sqlite_utils.Database, program: str | None = None,
                   status: str | None = None, other: str | None = None) -> list[dict]:
    """Pairs with ``program`` on either side (and ``other`` on the other), of ``status``;
    suggestions best score first, then decisions newest first."""
    where, params = ["1 = 1"], []
    if program is not None:
        where.append("(program_a = ? OR program_b = ?)")
        params += [program, program]
    if other is not None:
        where.append("(program_a = ? OR program_b = ?)")
        params += [other, other]
    if status is not None:
        where.append("status = ?")
        params.append(status)
    return list(db.query(
        f"SELECT {', '.join(CROSSWALK_COLUMNS)} FROM crosswalk WHERE {' AND '.join(where)} "
        "ORDER BY status = 'suggested' DESC, score DESC, decided_at DESC, program_a, id_a, "
        "program_b, id_b", params))


def decided_crosswalk_rows(db: sqlite_utils.Database) -> list[tuple]:
    """``(program_a, id_a, program_b, id_b, status)`` of every confirmed or rejected pair."""
    return db.execute("SELECT program_a, id_a, program_b, id_b, status FROM crosswalk "
                      "WHERE status <> 'suggested'").fetchall()


# --------------------------------------------------------------------------- audit log
# (owner: passport/audit.py)

def insert_audit_row(db: sqlite_utils.Database, row: dict) -> int:
    """Append one audit row (``at, actor, action, subject, details``) and return its id."""
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO audit_log (at, actor, action, subject, details) VALUES (?, ?, ?, ?, ?)",
            [row["at"], row["actor"], row["action"], row.get("subject"), row.get("details")],
        )
    return cursor.lastrowid


def _audit_where(filters: dict) -> tuple[str, list]:
    where, params = ["1 = 1"], []
    for condition, key in (("action = ?", "action"), ("actor = ?", "actor"),
                           ("at >= ?", "from_iso"), ("at < ?", "to_iso"),
                           ("id < ?", "before_id")):
        if filters.get(key) is not None:
            where.append(condition)
            params.append(filters[key])
    return " AND ".join(where), params


def query_audit_rows(db: sqlite_utils.Database, filters: dict, limit: int | None,
                     offset: int = 0) -> list[dict]:
    """Audit rows matching ``filters`` (``action``, ``actor``, ``from_iso``/``to_iso`` as
    ``from <= at < to``, ``before_id``), newest first; ``limit`` None for all."""
    where, params = _audit_where(filters)
    page = ""
    if limit is not None:
        page = " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return list(db.query(
        f"SELECT * FROM audit_log WHERE {where} ORDER BY id DESC{page}", params))


def count_audit_rows(db: sqlite_utils.Database, filters: dict) -> int:
    where, params = _audit_where(filters)
    return db.execute(f"SELECT COUNT(*) FROM audit_log WHERE {where}", params).fetchone()[0]


def audit_facets(db: sqlite_utils.Database) -> dict:
    """The distinct actions and actors logged (the Activity page's filter choices)."""
    return {
        column: [r[0] for r in db.execute(
            f"SELECT DISTINCT {column} FROM audit_log ORDER BY {column}").fetchall()]
        for column in ("action", "actor")
    }


# --------------------------------------------------------------------------- visit reports
# (owner: passport/reports.py; the running totals are kept by migration 6's triggers)

def report_totals(db: sqlite_utils.Database, dim: str, from_period: str | None,
                  to_period: str | None) -> list[tuple]:
    """``(key, admitted, denied, people_free, people_paying)`` summed over the UTC months
    ``from_period <= period < to_period`` (``YYYY-MM``; None: open) of ``dim`` (home, visit,
    reason)."""
    return db.execute(
        "SELECT key, SUM(admitted), SUM(denied), SUM(people_free), SUM(people_paying) "
        "FROM checkin_totals WHERE dim = ? AND period >= ? AND period < ? GROUP BY key",
        [dim, from_period or "", to_period or "~"],
    ).fetchall()


def report_time_totals(db: sqlite_utils.Database, dim: str, from_key: str | None,
                       to_key: str | None) -> list[tuple]:
    """``(period, key, admitted, denied, people_free, people_paying)`` of ``dim`` (hour,
    quarter) with ``from_key <= period || 'T' || key < to_key`` (``YYYY-MM-DDTHH[:MM]``;
    None: open), in time order; rows whose entries were all undone are left out."""
    low, high = from_key or "", to_key or "~"
    return db.execute(
        "SELECT period, key, admitted, denied, people_free, people_paying "
        "FROM checkin_totals WHERE dim = ? AND period >= ? AND period <= ? "
        "AND period || 'T' || key >= ? AND period || 'T' || key < ? "
        "AND (admitted <> 0 OR denied <> 0) ORDER BY period, key",
        [dim, low[:10], high[:10], low, high],
    ).fetchall()


def report_raw(db: sqlite_utils.Database, dim: str, from_iso: str | None,
               to_iso: str | None) -> list[tuple]:
    """What ``report_totals`` sums, straight from the log for ``from_iso <= at < to_iso``
    (the parts of a report's range that are not whole UTC months)."""
    key = _TOTAL_DIMS[dim][1]
    sums = ", ".join(f"SUM({v.format(t='c')})" for v in _TOTAL_VALUES)
    source = "checkins c, json_each(c.reasons) r" if dim == "reason" else "checkins c"
    # ``+c.undoes``: the range scan on ``at`` is the plan, not a search of the undo index.
    return db.execute(
        f"SELECT {key.format(t='c')}, {sums} FROM {source} "
        "WHERE c.at >= ? AND c.at < ? AND +c.undoes IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM checkins u WHERE u.undoes = c.id) GROUP BY 1",
        [from_iso or "", to_iso or "~"],
    ).fetchall()


# --------------------------------------------------------------------------- program network
# (owners: passport/bundle.py applies hub bundles, passport/sync.py enrols and syncs a site;
# the tables are migration 10's)

def upsert_profile_rows(db: sqlite_utils.Database, rows: list[dict]) -> int:
    """Insert or update program profiles from a hub bundle (every column the row and the
    table share, never ``active_list_version``: this site's own). Returns how many."""
    known = {r[1] for r in db.execute("PRAGMA table_info(profiles)").fetchall()}
    known.discard("active_list_version")
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            raise ValueError("a profile row needs a name")
        columns = [c for c in row if c in known]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "name")
        db.execute(
            f"INSERT INTO profiles ({', '.join(columns)}) VALUES "
            f"({', '.join('?' for _ in columns)}) ON CONFLICT(name) DO "
            + (f"UPDATE SET {updates}" if updates else "NOTHING"),
            [row[c] for c in columns])
    return len(rows)


_APPLIED_COLUMNS = "sequence, sha256, key_id, issued_at, valid_until, applied_at, etag"


def last_applied_bundle_row(db: sqlite_utils.Database) -> dict | None:
    """The newest applied bundle (without its bytes), or None before the first one."""
    return _first_row(db, f"SELECT {_APPLIED_COLUMNS} FROM applied_bundles "
                          "ORDER BY sequence DESC LIMIT 1", [])


def last_applied_bundle_data(db: sqlite_utils.Database) -> bytes | None:
    row = db.execute("SELECT data FROM applied_bundles ORDER BY sequence DESC LIMIT 1"
                     ).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


def record_applied_bundle(db: sqlite_utils.Database, row: dict) -> None:
    """Record an applied bundle (inside the applying transaction); only the newest keeps its
    bytes."""
    db.execute("UPDATE applied_bundles SET data = NULL WHERE data IS NOT NULL")
    db.execute(
        f"INSERT INTO applied_bundles ({_APPLIED_COLUMNS}, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [row["sequence"], row["sha256"], row["key_id"], row["issued_at"], row["valid_until"],
         utc_now_iso(), row.get("etag"), row["data"]])


def pinned_hub_keys(db: sqlite_utils.Database) -> dict[str, str]:
    """The hub keys this site trusts: key id -> public key text."""
    return dict(db.execute("SELECT key_id, public_key FROM hub_pinned_keys").fetchall())


def replace_pinned_hub_keys(db: sqlite_utils.Database, keys: dict[str, str],
                            source: str) -> None:
    """Pin exactly ``keys`` (key id -> public key text): a verified bundle names the hub's
    current keys, so a rotation is followed and a retired hub key is dropped."""
    with db.atomic():
        db.execute("DELETE FROM hub_pinned_keys")
        db.conn.executemany(
            "INSERT INTO hub_pinned_keys (key_id, public_key, pinned_at, source) "
            "VALUES (?, ?, ?, ?)", [[k, v, utc_now_iso(), source] for k, v in keys.items()])


def pin_hub_key(db: sqlite_utils.Database, key_id: str, public_key: str, source: str) -> None:
    with db.atomic():
        db.execute(
            "INSERT INTO hub_pinned_keys (key_id, public_key, pinned_at, source) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(key_id) DO UPDATE SET "
            "public_key = excluded.public_key, pinned_at = excluded.pinned_at, "
            "source = excluded.source", [key_id, public_key, utc_now_iso(), source])


def save_hub_enrolment(db: sqlite_utils.Database, hub_url: str, site: str,
                       credential: bytes, key_id: str, public_key: str) -> None:
    """Record the enrolment and pin the hub key it was made with, together."""
    with db.atomic():
        db.execute(
            "INSERT INTO hub_enrolment (id, hub_url, site, credential, enrolled_at) "
            "VALUES (1, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET hub_url = excluded.hub_url, "
            "site = excluded.site, credential = excluded.credential, "
            "enrolled_at = excluded.enrolled_at", [hub_url, site, credential, utc_now_iso()])
        pin_hub_key(db, key_id, public_key, "enrol")


def get_hub_enrolment(db: sqlite_utils.Database) -> dict | None:
    return _first_row(db, "SELECT hub_url, site, credential, enrolled_at FROM hub_enrolment", [])


def get_outbox_mark(db: sqlite_utils.Database, stream: str) -> int:
    """The highest log id of ``stream`` the hub acknowledged (0: none yet)."""
    row = db.execute("SELECT high_water FROM sync_outbox WHERE stream = ?",
                     [stream]).fetchone()
    return row[0] if row else 0


def advance_outbox_mark(db: sqlite_utils.Database, stream: str, high_water: int) -> None:
    """Move ``stream``'s mark up to ``high_water`` (never down)."""
    with db.atomic():
        db.execute(
            "INSERT INTO sync_outbox (stream, high_water, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(stream) DO UPDATE SET high_water = MAX(high_water, "
            "excluded.high_water), updated_at = excluded.updated_at",
            [stream, high_water, utc_now_iso()])


def checkin_outbox_rows(db: sqlite_utils.Database, after_id: int, limit: int) -> list[dict]:
    """Log entries after ``after_id``, oldest first: only the columns that leave the site
    (no names, no member ids)."""
    return list(db.query(
        "SELECT c.id, c.at, c.program, c.visit, c.home, c.party_size, c.covered, c.admit, "
        "c.reasons, c.undoes, t.at AS undoes_at FROM checkins c "
        "LEFT JOIN checkins t ON t.id = c.undoes WHERE c.id > ? ORDER BY c.id LIMIT ?",
        [after_id, limit]))


def count_checkins_after(db: sqlite_utils.Database, after_id: int) -> int:
    return db.execute("SELECT COUNT(*) FROM checkins WHERE id > ?", [after_id]).fetchone()[0]


def sent_trust_states(db: sqlite_utils.Database) -> dict[tuple[str, str], str]:
    """(kind, ident) -> the state the hub acknowledged (kind ``key`` or ``revocation``)."""
    return {(k, i): s for k, i, s in db.execute(
        "SELECT kind, ident, state FROM sync_sent_trust").fetchall()}


def mark_trust_sent(db: sqlite_utils.Database, items: list[tuple[str, str, str]]) -> None:
    """Record (kind, ident, state) as acknowledged by the hub."""
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO sync_sent_trust (kind, ident, state, sent_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(kind, ident) DO UPDATE SET state = excluded.state, "
            "sent_at = excluded.sent_at", [[k, i, s, utc_now_iso()] for k, i, s in items])


# --------------------------------------------------------------------------- backups
# The SQL of passport/backup.py: SQLite's online backup API and the checks of a file.

SQLITE_HEADER = b"SQLite format 3\x00"


class StoreInUse(StoreError):
    """Another connection (a serving kiosk, a running command) has the store open."""


def backup_into(source: sqlite3.Connection, target_path: str | os.PathLike[str]) -> None:
    """Copy the store behind ``source`` into a new file with the online backup API, in one
    step: one read transaction, so the copy is the store as of one commit while writers go
    on (WAL). The copy is a single self-contained file (rollback journal, not WAL)."""
    target = sqlite3.connect(target_path)
    try:
        source.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")
        target.commit()
    finally:
        target.close()


def open_read_only(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only handle on a file nobody writes (a backup): ``immutable`` takes no locks
    and creates no -wal/-shm beside it."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro&immutable=1", uri=True)


def integrity_problems(conn: sqlite3.Connection, limit: int = 5) -> list[str]:
    """``PRAGMA integrity_check``'s findings (empty when the file is sound)."""
    rows = [row[0] for row in conn.execute(f"PRAGMA integrity_check({int(limit)})")]
    return [] if rows == ["ok"] else rows


def schema_version_of(conn: sqlite3.Connection) -> int | None:
    """The highest migration applied to the file; None when it is not a passport store."""
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                         "AND name = 'schema_migrations'").fetchone()
    if found is None:
        return None
    return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]


def count_checkin_rows(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM checkins").fetchone()[0]


def lock_exclusive(path: str | os.PathLike[str], timeout_ms: int = 200) -> sqlite3.Connection:
    """A handle that alone holds the store: EXCLUSIVE locking mode set before the first
    access, so in WAL mode it fails while any other connection has the file open (the
    kiosk keeps one open while it serves), idle or not. Raises ``StoreInUse``."""
    conn = sqlite3.connect(path, timeout=timeout_ms / 1000, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")  # the lock stays: exclusive mode keeps it until close
    except sqlite3.OperationalError as exc:
        conn.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreInUse(f"the store {Path(path).name} is open elsewhere (a kiosk serving "
                             "or another command): stop it first") from None
        raise
    return conn


def replace_contents(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    """Overwrite ``target``'s store with ``source``'s through the backup API: SQLite writes
    it as one transaction, so the target is the old store or the new one, never a mix."""
    source.backup(target)
