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
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

DB_ENV_VAR = "PASSPORT_DB"
DB_FILENAME = "passport.sqlite"


class StoreError(Exception):
    """The database file cannot be opened or is not a passport store."""


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


def _m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(_M001_SQL)


def _m002_party_limits(db: sqlite_utils.Database) -> None:
    # The party rule is program data like the radius: the profile row is its only home.
    db.executescript(
        """
        ALTER TABLE profiles ADD COLUMN group_max_adults INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE profiles ADD COLUMN group_max_children INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE profiles ADD COLUMN individual_max_adults INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE profiles ADD COLUMN individual_max_children INTEGER NOT NULL DEFAULT 0;
        -- ASTC from 1 January 2026: a group covers 2 adults + 4 children.
        UPDATE profiles SET group_max_adults = 2, group_max_children = 4 WHERE name = 'astc';
        """
    )


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
    pass  # issue 13: the crosswalk between programs' lists (filled in by its change)


def _m009_token_scopes(db: sqlite_utils.Database) -> None:
    pass  # issue 15: API token scopes and last use (filled in by its change)


def _m010_sync(db: sqlite_utils.Database) -> None:
    pass  # issue 14: hub enrolment, applied bundles, the check-in outbox (filled in)


# Append new migrations; never edit or reorder a released one.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _m001_initial, _m002_party_limits, _m003_checkin_covered, _m004_audit,
    _m005_card_issuances, _m006_checkin_totals, _m007_programs, _m008_crosswalk,
    _m009_token_scopes, _m010_sync]


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the missing migrations in order; return the schema version."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT version FROM schema_migrations").fetchall()}
    for number, migration in enumerate(MIGRATIONS, start=1):
        if number in done:
            continue
        with db.atomic():
            migration(db)
            db.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                [number, utc_now_iso()],
            )
    return len(MIGRATIONS)


def _connection_pragmas(db: sqlite_utils.Database) -> None:
    """Per-connection settings (SQLite does not keep them in the file)."""
    # A writer waits for a lock instead of failing at once (kiosk + CLI at the same time).
    db.execute("PRAGMA busy_timeout = 5000")
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
        raise StoreError(f"cannot open passport store {db_path}: {exc}") from exc
    return db


SYNCHRONOUS_LEVELS = ("NORMAL", "FULL", "EXTRA")


def connect_migrated(
    path: str | os.PathLike[str], synchronous: str = "FULL", *, check_same_thread: bool = True
) -> sqlite_utils.Database:
    """Open a store that ``open_db`` already opened (so migrated, WAL set on the file) with
    only the per-connection pragmas: a small part of ``open_db``'s work, for the kiosk's
    one-handle-per-request (a check-in must stay quick).

    ``synchronous``: FULL fsyncs the WAL at every commit (survives power loss; the fsync is
    most of a commit's time); NORMAL writes the WAL without fsync (a commit survives the
    process crashing, the last ones may roll back on power loss).
    ``check_same_thread=False`` for a handle another thread may close.
    """
    level = synchronous.upper()
    if level not in SYNCHRONOUS_LEVELS:
        raise ValueError(f"synchronous must be one of {SYNCHRONOUS_LEVELS}, not {synchronous!r}")
    db = sqlite_utils.Database(sqlite3.connect(Path(path), check_same_thread=check_same_thread))
    _connection_pragmas(db)
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
    columns = ", ".join(INSTITUTION_COLUMNS)
    marks = ", ".join("?" for _ in INSTITUTION_COLUMNS)
    now = utc_now_iso()
    with db.atomic():
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
    "idempotency_key", "undoes", "card_key_id", "covered",
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


def insert_api_token(db: sqlite_utils.Database, name: str, token_sha256: str) -> int:
    with db.atomic():
        cursor = db.execute(
            "INSERT INTO api_tokens (name, token_sha256, created_at) VALUES (?, ?, ?)",
            [name, token_sha256, utc_now_iso()],
        )
    return cursor.lastrowid


def get_live_api_token_row(db: sqlite_utils.Database, token_sha256: str) -> dict | None:
    return _first_row(
        db,
        "SELECT id, name, created_at FROM api_tokens "
        "WHERE token_sha256 = ? AND revoked_at IS NULL",
        [token_sha256],
    )


def list_api_token_rows(db: sqlite_utils.Database) -> list[dict]:
    return list(
        db.query("SELECT id, name, created_at, revoked_at FROM api_tokens ORDER BY id")
    )


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
