"""The hub's PostgreSQL store: every SQL statement of the hub lives in this module.

psycopg 3 with one ``psycopg_pool.ConnectionPool`` per process, on the database named by
``$PASSPORT_HUB_DATABASE_URL``. Each function takes the pool first and is one transaction
(the pool's connection block commits on success and rolls back on any error), so a failure
leaves nothing half-written. Schema changes are numbered migrations in ``MIGRATIONS``,
recorded in ``schema_migrations`` and applied under an advisory lock (two processes running
``passport hub init`` at once apply each migration once).

Every write that changes what the next bundle carries (a list published or rolled back, a
key or revocation accepted, a hub key rotated) bumps ``bundle_state.sequence`` in its own
transaction; that row's lock also serialises those writers. A signed bundle is stored once
per sequence in ``bundles``, so every worker serves the same bytes under the same ETag.

Sections: connections and migrations; profiles and lists; hub signing keys; the bundle;
trust list; sites; check-ins; reports; users. The domain modules in ``passport/hub/`` are
the only callers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from passport.store import INSTITUTION_COLUMNS

URL_ENV_VAR = "PASSPORT_HUB_DATABASE_URL"
Pool = ConnectionPool


class HubStoreError(Exception):
    """The hub database is not configured, not reachable or not a hub store."""


def database_url(url: str | None = None) -> str:
    """``url``, else ``$PASSPORT_HUB_DATABASE_URL``; ``HubStoreError`` when neither is set."""
    url = url or os.environ.get(URL_ENV_VAR)
    if not url:
        raise HubStoreError(f"${URL_ENV_VAR} is not set: point it at the hub's PostgreSQL "
                            "database (postgresql://user@host:5432/dbname)")
    if not url.startswith(("postgresql://", "postgres://")):
        raise HubStoreError(f"${URL_ENV_VAR} must be a postgresql:// URL")
    return url


def open_pool(url: str | None = None, *, max_size: int = 4, timeout_s: float = 10.0) -> Pool:
    """A connection pool on the hub database, opened and checked (one connection made);
    ``HubStoreError`` naming the cause when the server cannot be reached."""
    url = database_url(url)
    try:  # one plain connection first: its error names the cause, in one line, at once
        psycopg.connect(url, connect_timeout=max(1, int(timeout_s))).close()
    except psycopg.Error as exc:
        cause = " ".join(str(exc).split()) or type(exc).__name__
        raise HubStoreError(f"cannot connect to the hub database: {cause}") from None
    pool = ConnectionPool(url, min_size=1, max_size=max_size, open=False,
                          kwargs={"row_factory": dict_row, "autocommit": False},
                          timeout=timeout_s, name="passport-hub")
    try:
        pool.open(wait=True, timeout=timeout_s)
    except Exception as exc:  # psycopg_pool.PoolTimeout hides the connection error's text
        pool.close()
        raise HubStoreError(f"cannot connect to the hub database: {exc}") from exc
    return pool


# --------------------------------------------------------------------------- migrations

# The SQLite institutions table's columns and types (passport/store.py): the same rows, so a
# bundle carries exactly what a site stores. tests/test_hub_store.py holds the two equal.
INSTITUTION_TYPES = {
    "id": "TEXT NOT NULL", "name": "TEXT NOT NULL", "address": "TEXT", "city": "TEXT",
    "region": "TEXT", "country": "TEXT NOT NULL", "postal_code": "TEXT",
    "latitude": "DOUBLE PRECISION NOT NULL", "longitude": "DOUBLE PRECISION NOT NULL",
    "timezone": "TEXT", "website": "TEXT", "restrictions": "TEXT",
    "proof_of_residence": "INTEGER NOT NULL DEFAULT 0", "local_radius_miles": "DOUBLE PRECISION",
    "local_discount_percent": "DOUBLE PRECISION",
    "reservation_required": "INTEGER NOT NULL DEFAULT 0",
    "store_discount_only": "INTEGER NOT NULL DEFAULT 0", "coord_source": "TEXT",
    "phone": "TEXT", "symbols": "TEXT", "site_home_within_miles": "DOUBLE PRECISION",
    "reciprocal_restriction": "INTEGER", "events_excluded": "INTEGER",
    "excluded_venue": "TEXT", "benefit_tier": "TEXT", "coord_precision": "TEXT",
}

_M001 = (
    # a program profile: the SQLite profile row as JSON (every column but the active list)
    "CREATE TABLE profiles (name TEXT PRIMARY KEY, sort_order INTEGER NOT NULL, "
    "row JSONB NOT NULL, active_list_version INTEGER)",
    "CREATE TABLE list_versions (version INTEGER PRIMARY KEY, "
    "profile TEXT NOT NULL REFERENCES profiles(name), created_at TIMESTAMPTZ NOT NULL, "
    "created_by TEXT, source_name TEXT, source_sha256 TEXT, row_count INTEGER NOT NULL, "
    "note TEXT)",
    "CREATE TABLE institutions (list_version INTEGER NOT NULL REFERENCES "
    "list_versions(version), position INTEGER NOT NULL, "
    + ", ".join(f"{name} {kind}" for name, kind in INSTITUTION_TYPES.items())
    + ", PRIMARY KEY (list_version, id))",
    "CREATE TABLE list_events (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL, "
    "profile TEXT NOT NULL, action TEXT NOT NULL, list_version INTEGER NOT NULL, "
    "previous_version INTEGER, actor TEXT)",
    # an uploaded list waiting for an admin's review on the hub's pages
    "CREATE TABLE list_drafts (id BIGSERIAL PRIMARY KEY, profile TEXT NOT NULL "
    "REFERENCES profiles(name), created_at TIMESTAMPTZ NOT NULL, created_by TEXT, "
    "source_name TEXT NOT NULL, body BYTEA NOT NULL)",
    # the trust list: times as ISO text, exactly as `passport trust export` writes them
    "CREATE TABLE issuer_keys (key_id TEXT PRIMARY KEY, institution_id TEXT NOT NULL, "
    "public_key TEXT NOT NULL, created_at TEXT NOT NULL, retired_at TEXT, revoked_at TEXT, "
    "received_at TIMESTAMPTZ NOT NULL, from_site TEXT)",
    "CREATE TABLE card_revocations (institution_id TEXT NOT NULL, member_id TEXT NOT NULL, "
    "revoked_at TEXT NOT NULL, reason TEXT, received_at TIMESTAMPTZ NOT NULL, "
    "from_site TEXT, PRIMARY KEY (institution_id, member_id))",
    # enrolled sites: the one-time token and the credential are kept only as SHA-256
    "CREATE TABLE sites (site_id TEXT PRIMARY KEY, created_at TIMESTAMPTZ NOT NULL, "
    "created_by TEXT, token_sha256 TEXT UNIQUE, token_expires_at TIMESTAMPTZ, "
    "enrolled_at TIMESTAMPTZ, credential_sha256 TEXT UNIQUE, last_seen_at TIMESTAMPTZ)",
    # the hub's Ed25519 keys; private keys sealed by passport.keyvault
    "CREATE TABLE hub_keys (key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, "
    "private_key BYTEA NOT NULL, created_at TIMESTAMPTZ NOT NULL, retire_at TIMESTAMPTZ)",
    "CREATE TABLE bundle_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "sequence BIGINT NOT NULL, changed_at TIMESTAMPTZ NOT NULL)",
    "INSERT INTO bundle_state (id, sequence, changed_at) VALUES (1, 1, now())",
    "CREATE TABLE bundles (sequence BIGINT PRIMARY KEY, issued_at TIMESTAMPTZ NOT NULL, "
    "valid_until TIMESTAMPTZ NOT NULL, key_id TEXT NOT NULL, sha256 TEXT NOT NULL, "
    "body BYTEA NOT NULL)",
    # check-ins without names; uid = "<site id>:<local log id>@<logged at>": a retry never
    # doubles one
    "CREATE TABLE checkins (uid TEXT PRIMARY KEY, site_id TEXT NOT NULL, program TEXT, "
    "home TEXT, visit TEXT NOT NULL, local_date DATE NOT NULL, local_hour SMALLINT NOT NULL "
    "CHECK (local_hour BETWEEN 0 AND 23), party_size INTEGER NOT NULL, "
    "people_free INTEGER NOT NULL, people_paying INTEGER NOT NULL, admit BOOLEAN NOT NULL, "
    "reasons TEXT[] NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('visit', 'undo')), "
    "undoes TEXT, received_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    # the reports: date ranges, per visited site and per home, "is this visit undone?"
    "CREATE INDEX checkins_local_date ON checkins (local_date)",
    "CREATE INDEX checkins_visit ON checkins (visit, local_date)",
    "CREATE INDEX checkins_home ON checkins (home, local_date)",
    "CREATE INDEX checkins_undoes ON checkins (undoes) WHERE undoes IS NOT NULL",
    "CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
    "role TEXT NOT NULL CHECK (role = 'admin'), created_at TIMESTAMPTZ NOT NULL, "
    "disabled BOOLEAN NOT NULL DEFAULT false)",
)


def _m001_initial(conn: psycopg.Connection) -> None:
    for statement in _M001:
        conn.execute(statement)


# Append new migrations; never edit or reorder a released one.
MIGRATIONS: list[Callable[[psycopg.Connection], None]] = [_m001_initial]
_MIGRATION_LOCK = 0x70617373  # pg_advisory_xact_lock key: 'pass'


def migrate(pool: Pool) -> dict:
    """Apply the missing migrations in order, each in its own transaction; return
    ``{"schema_version", "applied": [numbers applied now]}``."""
    applied = []
    with pool.connection() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                     "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)")
        done = {r["version"] for r in conn.execute("SELECT version FROM schema_migrations")}
        for number, migration in enumerate(MIGRATIONS, start=1):
            if number in done:
                continue
            with conn.transaction():
                migration(conn)
                conn.execute("INSERT INTO schema_migrations (version, applied_at) "
                             "VALUES (%s, now())", [number])
            applied.append(number)
    return {"schema_version": len(MIGRATIONS), "applied": applied}


def schema_version(pool: Pool) -> int:
    """The newest migration applied (0 before ``migrate``)."""
    with pool.connection() as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone()["t"]
        if exists is None:
            return 0
        return conn.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations"
                            ).fetchone()["v"]


def _bump(conn: psycopg.Connection) -> int:
    """The next bundle sequence (inside the caller's transaction; locks the state row)."""
    return conn.execute("UPDATE bundle_state SET sequence = sequence + 1, changed_at = now() "
                        "WHERE id = 1 RETURNING sequence").fetchone()["sequence"]


# --------------------------------------------------------------------------- profiles, lists
# (owner: passport/hub/lists.py)

def seed_profiles(pool: Pool, rows: Iterable[dict]) -> int:
    """Insert the program profiles not there yet (``rows``: SQLite profile rows without
    ``active_list_version``); return how many were new."""
    added = 0
    with pool.connection() as conn:
        for row in rows:
            added += conn.execute(
                "INSERT INTO profiles (name, sort_order, row) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO NOTHING",
                [row["name"], row.get("sort_order") or 100, Jsonb(row)]).rowcount
        if added:
            _bump(conn)
    return added


def profile_rows(pool: Pool) -> list[dict]:
    """Every profile: ``{"name", "row", "active_list_version"}`` in the programs' order."""
    with pool.connection() as conn:
        return conn.execute("SELECT name, row, active_list_version FROM profiles "
                            "ORDER BY sort_order, name").fetchall()


def publish_list(pool: Pool, *, profile: str, records: list[dict], source_name: str | None,
                 source_sha256: str | None, actor: str | None) -> tuple[int, int | None]:
    """Store ``records`` as a new list version of ``profile`` and make it active, all or
    nothing; returns (new version, previously active version)."""
    columns = ", ".join(INSTITUTION_COLUMNS)
    marks = ", ".join(["%s"] * (len(INSTITUTION_COLUMNS) + 2))
    with pool.connection() as conn:
        _bump(conn)
        version = conn.execute("SELECT COALESCE(MAX(version), 0) + 1 AS v FROM list_versions"
                               ).fetchone()["v"]
        previous = conn.execute("SELECT active_list_version AS v FROM profiles "
                                "WHERE name = %s FOR UPDATE", [profile]).fetchone()["v"]
        conn.execute(
            "INSERT INTO list_versions (version, profile, created_at, created_by, source_name, "
            "source_sha256, row_count) VALUES (%s, %s, now(), %s, %s, %s, %s)",
            [version, profile, actor, source_name, source_sha256, len(records)])
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO institutions (list_version, position, {columns}) "
                f"VALUES ({marks})",
                [[version, n, *(r.get(c) for c in INSTITUTION_COLUMNS)]
                 for n, r in enumerate(records)])
        _activate(conn, profile, version, previous, actor, "publish")
    return version, previous


def _activate(conn: psycopg.Connection, profile: str, version: int, previous: int | None,
              actor: str | None, action: str) -> None:
    conn.execute("UPDATE profiles SET active_list_version = %s WHERE name = %s",
                 [version, profile])
    conn.execute("INSERT INTO list_events (at, profile, action, list_version, "
                 "previous_version, actor) VALUES (now(), %s, %s, %s, %s, %s)",
                 [profile, action, version, previous, actor])


def activate_list_version(pool: Pool, profile: str, version: int, actor: str | None) -> int | None:
    """Re-activate ``version`` of ``profile`` (a rollback); returns the previous version."""
    with pool.connection() as conn:
        _bump(conn)
        previous = conn.execute("SELECT active_list_version AS v FROM profiles "
                                "WHERE name = %s FOR UPDATE", [profile]).fetchone()["v"]
        _activate(conn, profile, version, previous, actor, "rollback")
    return previous


def list_version_rows(pool: Pool, profile: str) -> list[dict]:
    """Every version of ``profile``, newest first, with ``active`` (bool)."""
    with pool.connection() as conn:
        return conn.execute(
            "SELECT v.*, (v.version = p.active_list_version) AS active FROM list_versions v "
            "JOIN profiles p ON p.name = v.profile WHERE v.profile = %s "
            "ORDER BY v.version DESC", [profile]).fetchall()


def get_list_version_row(pool: Pool, version: int) -> dict | None:
    with pool.connection() as conn:
        return conn.execute("SELECT * FROM list_versions WHERE version = %s",
                            [version]).fetchone()


def institution_rows(pool: Pool, version: int) -> list[dict]:
    """The institutions of one list version, in upload order (every store column)."""
    with pool.connection() as conn:
        return _institutions(conn, version)


def _institutions(conn: psycopg.Connection, version: int) -> list[dict]:
    return conn.execute(f"SELECT {', '.join(INSTITUTION_COLUMNS)} FROM institutions "
                        "WHERE list_version = %s ORDER BY position", [version]).fetchall()


def list_event_rows(pool: Pool, profile: str, limit: int = 20) -> list[dict]:
    with pool.connection() as conn:
        return conn.execute("SELECT * FROM list_events WHERE profile = %s "
                            "ORDER BY id DESC LIMIT %s", [profile, limit]).fetchall()


def insert_list_draft(pool: Pool, profile: str, source_name: str, body: bytes,
                      actor: str | None) -> int:
    with pool.connection() as conn:
        return conn.execute(
            "INSERT INTO list_drafts (profile, created_at, created_by, source_name, body) "
            "VALUES (%s, now(), %s, %s, %s) RETURNING id",
            [profile, actor, source_name, body]).fetchone()["id"]


def get_list_draft(pool: Pool, draft_id: int) -> dict | None:
    with pool.connection() as conn:
        return conn.execute("SELECT * FROM list_drafts WHERE id = %s", [draft_id]).fetchone()


def delete_list_draft(pool: Pool, draft_id: int) -> None:
    with pool.connection() as conn:
        conn.execute("DELETE FROM list_drafts WHERE id = %s", [draft_id])


# --------------------------------------------------------------------------- hub signing keys
# (owner: passport/hub/signing.py)

def insert_hub_key(pool: Pool, key_id: str, public_key: str, private_blob: bytes,
                   retire_others_at: datetime | None) -> None:
    """Add a hub key; with ``retire_others_at``, every key not yet retiring retires then (a
    rotation). The bundle changes (its ``hub_keys``)."""
    with pool.connection() as conn:
        _bump(conn)
        if retire_others_at is not None:
            conn.execute("UPDATE hub_keys SET retire_at = %s WHERE retire_at IS NULL",
                         [retire_others_at])
        conn.execute("INSERT INTO hub_keys (key_id, public_key, private_key, created_at) "
                     "VALUES (%s, %s, %s, now())", [key_id, public_key, private_blob])


def hub_key_rows(pool: Pool, at: datetime) -> list[dict]:
    """The hub keys not retired at ``at``, oldest first (the oldest signs: a new key waits
    until sites have pinned it from a bundle)."""
    with pool.connection() as conn:
        return _hub_keys(conn, at)


def _hub_keys(conn: psycopg.Connection, at: datetime) -> list[dict]:
    return conn.execute("SELECT * FROM hub_keys WHERE retire_at IS NULL OR retire_at > %s "
                        "ORDER BY created_at, key_id", [at]).fetchall()


def count_hub_keys(pool: Pool) -> int:
    with pool.connection() as conn:
        return conn.execute("SELECT COUNT(*) AS n FROM hub_keys").fetchone()["n"]


# --------------------------------------------------------------------------- the bundle
# (owner: passport/hub/bundles.py)

def bundle_head(pool: Pool) -> dict:
    """``{"sequence", "sha256", "issued_at", "valid_until"}`` of the current sequence (the
    last three None while no bundle is signed for it): one primary-key read."""
    with pool.connection() as conn:
        return conn.execute(
            "SELECT s.sequence, b.sha256, b.issued_at, b.valid_until FROM bundle_state s "
            "LEFT JOIN bundles b ON b.sequence = s.sequence WHERE s.id = 1").fetchone()


def bundle_body(pool: Pool, sequence: int) -> bytes | None:
    with pool.connection() as conn:
        row = conn.execute("SELECT body FROM bundles WHERE sequence = %s",
                           [sequence]).fetchone()
    return bytes(row["body"]) if row else None


def bump_stale_bundle(pool: Pool, sequence: int) -> None:
    """Move to the next sequence if it is still ``sequence`` (re-issue an ageing bundle; of
    several workers noticing at once, one moves it)."""
    with pool.connection() as conn:
        conn.execute("UPDATE bundle_state SET sequence = sequence + 1, changed_at = now() "
                     "WHERE id = 1 AND sequence = %s", [sequence])


def bundle_source(pool: Pool, at: datetime) -> dict:
    """Everything a bundle carries, read in one REPEATABLE READ snapshot with its sequence:
    ``{"sequence", "profiles", "lists": {name: {"version", "institutions"}}, "keys",
    "revocations", "hub_keys"}``."""
    with pool.connection() as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            sequence = conn.execute("SELECT sequence FROM bundle_state WHERE id = 1"
                                    ).fetchone()["sequence"]
            profiles = conn.execute("SELECT name, row, active_list_version FROM profiles "
                                    "ORDER BY sort_order, name").fetchall()
            lists = {p["name"]: {"version": p["active_list_version"],
                                 "institutions": _institutions(conn, p["active_list_version"])}
                     for p in profiles if p["active_list_version"] is not None}
            keys = conn.execute("SELECT key_id, institution_id, public_key, created_at, "
                                "retired_at, revoked_at FROM issuer_keys "
                                "ORDER BY created_at, key_id").fetchall()
            revocations = conn.execute("SELECT institution_id, member_id, revoked_at, reason "
                                       "FROM card_revocations ORDER BY institution_id, "
                                       "member_id").fetchall()
            hub_keys = _hub_keys(conn, at)
            conn.commit()
        finally:
            conn.isolation_level = None
    return {"sequence": sequence, "profiles": [p["row"] for p in profiles], "lists": lists,
            "keys": keys, "revocations": revocations, "hub_keys": hub_keys}


def store_bundle(pool: Pool, row: dict) -> None:
    """Keep the signed bundle of a sequence; the first one stored for it wins (another
    worker may have signed the same sequence a moment earlier)."""
    with pool.connection() as conn:
        conn.execute("INSERT INTO bundles (sequence, issued_at, valid_until, key_id, sha256, "
                     "body) VALUES (%(sequence)s, %(issued_at)s, %(valid_until)s, "
                     "%(key_id)s, %(sha256)s, %(body)s) ON CONFLICT (sequence) DO NOTHING", row)


# --------------------------------------------------------------------------- trust list
# (owner: passport/hub/sites.py)

def issuer_key_rows(pool: Pool, key_ids: Sequence[str]) -> dict[str, dict]:
    """The stored keys among ``key_ids``, by id."""
    with pool.connection() as conn:
        rows = conn.execute("SELECT * FROM issuer_keys WHERE key_id = ANY(%s)",
                            [list(key_ids)]).fetchall()
    return {row["key_id"]: row for row in rows}


def merge_trust(pool: Pool, site_id: str, keys: list[dict], cards: list[dict]) -> tuple[int, int]:
    """Merge validated keys and card revocations from ``site_id`` in one transaction; known
    keys only move towards retired/revoked, and only when the upload names the institution
    and public key they were stored with (the caller's check ran in another transaction).
    Returns (keys changed or added, cards added); the bundle changes only when something did."""
    keys_changed = cards_added = 0
    with pool.connection() as conn:
        for key in keys:
            keys_changed += conn.execute(
                "INSERT INTO issuer_keys (key_id, institution_id, public_key, created_at, "
                "retired_at, revoked_at, received_at, from_site) VALUES (%(key_id)s, "
                "%(institution_id)s, %(public_key)s, %(created_at)s, %(retired_at)s, "
                "%(revoked_at)s, now(), %(site)s) ON CONFLICT (key_id) DO UPDATE SET "
                "retired_at = COALESCE(issuer_keys.retired_at, excluded.retired_at), "
                "revoked_at = COALESCE(issuer_keys.revoked_at, excluded.revoked_at) "
                "WHERE issuer_keys.institution_id = excluded.institution_id "
                "AND issuer_keys.public_key = excluded.public_key AND ("
                "(issuer_keys.retired_at IS NULL AND excluded.retired_at IS NOT NULL) "
                "OR (issuer_keys.revoked_at IS NULL AND excluded.revoked_at IS NOT NULL))",
                {**key, "site": site_id}).rowcount
        for card in cards:
            cards_added += conn.execute(
                "INSERT INTO card_revocations (institution_id, member_id, revoked_at, reason, "
                "received_at, from_site) VALUES (%(institution_id)s, %(member_id)s, "
                "%(revoked_at)s, %(reason)s, now(), %(site)s) ON CONFLICT DO NOTHING",
                {**card, "site": site_id}).rowcount
        if keys_changed or cards_added:
            _bump(conn)
    return keys_changed, cards_added


# --------------------------------------------------------------------------- sites
# (owner: passport/hub/sites.py)

def upsert_site_token(pool: Pool, site_id: str, token_sha256: str, expires_at: datetime,
                      actor: str | None) -> bool:
    """Give ``site_id`` a new one-time enrolment token (adding the site when new); returns
    True when the site is new. An enrolled site keeps its credential until it re-enrols."""
    with pool.connection() as conn:
        row = conn.execute(
            "INSERT INTO sites (site_id, created_at, created_by, token_sha256, "
            "token_expires_at) VALUES (%s, now(), %s, %s, %s) ON CONFLICT (site_id) DO UPDATE "
            "SET token_sha256 = excluded.token_sha256, "
            "token_expires_at = excluded.token_expires_at RETURNING (xmax = 0) AS inserted",
            [site_id, actor, token_sha256, expires_at]).fetchone()
    return bool(row["inserted"])


def redeem_token(pool: Pool, site_id: str, token_sha256: str, credential_sha256: str) -> bool:
    """Use the site's token once: when it matches and has not expired, clear it and set the
    credential; False otherwise (wrong, used or expired)."""
    with pool.connection() as conn:
        row = conn.execute(
            "UPDATE sites SET token_sha256 = NULL, token_expires_at = NULL, "
            "credential_sha256 = %s, enrolled_at = now() WHERE site_id = %s "
            "AND token_sha256 = %s AND token_expires_at > now() RETURNING site_id",
            [credential_sha256, site_id, token_sha256]).fetchone()
    return row is not None


def site_for_credential(pool: Pool, credential_sha256: str) -> str | None:
    with pool.connection() as conn:
        row = conn.execute("SELECT site_id FROM sites WHERE credential_sha256 = %s",
                           [credential_sha256]).fetchone()
    return row["site_id"] if row else None


def site_rows(pool: Pool) -> list[dict]:
    """Every site with its enrolment state and how many check-ins it sent."""
    with pool.connection() as conn:
        return conn.execute(
            "SELECT s.site_id, s.created_at, s.enrolled_at, s.last_seen_at, "
            "s.token_expires_at, (SELECT COUNT(*) FROM checkins c WHERE c.site_id = s.site_id) "
            "AS checkins FROM sites s ORDER BY s.site_id").fetchall()


# --------------------------------------------------------------------------- check-ins
# (owner: passport/hub/ingest.py)

CHECKIN_COLUMNS = ("uid", "program", "home", "visit", "local_date", "local_hour", "party_size",
                   "people_free", "people_paying", "admit", "reasons", "kind", "undoes")
_CHECKIN_ARRAYS = ("text[]", "text[]", "text[]", "text[]", "date[]", "int2[]", "int4[]",
                   "int4[]", "int4[]", "bool[]", "text[]", "text[]", "text[]")


def insert_checkins(pool: Pool, site_id: str, columns: dict[str, list]) -> int:
    """Store one batch (``columns``: each of ``CHECKIN_COLUMNS`` as a list, ``reasons`` as
    comma-joined codes) in one statement and one transaction; rows whose uid is already
    there are left alone. Returns how many were new."""
    arrays = ", ".join(f"%s::{kind}" for kind in _CHECKIN_ARRAYS)
    names = ", ".join(CHECKIN_COLUMNS)
    with pool.connection() as conn:
        inserted = conn.execute(
            f"INSERT INTO checkins (site_id, {names}) SELECT %s, u.uid, u.program, u.home, "
            "u.visit, u.local_date, u.local_hour, u.party_size, u.people_free, "
            "u.people_paying, u.admit, string_to_array(u.reasons, ','), u.kind, u.undoes "
            f"FROM unnest({arrays}) AS u({names}) ON CONFLICT (uid) DO NOTHING",
            [site_id, *(columns[name] for name in CHECKIN_COLUMNS)]).rowcount
        conn.execute("UPDATE sites SET last_seen_at = now() WHERE site_id = %s", [site_id])
    return inserted


def count_checkins(pool: Pool, site_id: str | None = None) -> int:
    with pool.connection() as conn:
        if site_id is None:
            return conn.execute("SELECT COUNT(*) AS n FROM checkins").fetchone()["n"]
        return conn.execute("SELECT COUNT(*) AS n FROM checkins WHERE site_id = %s",
                            [site_id]).fetchone()["n"]


def checkin_uids(pool: Pool, uids: Sequence[str]) -> dict[str, int]:
    """How many rows each of ``uids`` has (1, or missing when not there)."""
    with pool.connection() as conn:
        rows = conn.execute("SELECT uid, COUNT(*) AS n FROM checkins WHERE uid = ANY(%s) "
                            "GROUP BY uid", [list(uids)]).fetchall()
    return {row["uid"]: row["n"] for row in rows}


# --------------------------------------------------------------------------- reports
# (owner: passport/hub/reports.py)

_KEYS = {"home": "COALESCE(c.home, '')", "visit": "c.visit",
         "month": "to_char(c.local_date, 'YYYY-MM')", "reason": "r.code"}
# A visit counts unless an undo row names it; undo rows are not visits.
_LIVE = ("c.kind = 'visit' AND c.local_date >= %s AND c.local_date <= %s AND NOT EXISTS "
         "(SELECT 1 FROM checkins u WHERE u.undoes = c.uid)")
_SUMS = ("COUNT(*) FILTER (WHERE c.admit) AS admitted, "
         "COALESCE(SUM(c.people_free) FILTER (WHERE c.admit), 0) AS people_free, "
         "COALESCE(SUM(c.people_paying) FILTER (WHERE c.admit), 0) AS people_paying, "
         "COUNT(*) FILTER (WHERE NOT c.admit) AS denied")


def report_rows(pool: Pool, dims: Sequence[str], first: date, last: date) -> list[dict]:
    """Parties admitted/denied and people free/paying per combination of ``dims`` (home,
    visit, month, reason) over local dates ``first``..``last``; each row has the dims as
    ``d0``, ``d1``... and the four sums."""
    keys = ", ".join(f"{_KEYS[d]} AS d{n}" for n, d in enumerate(dims))
    source = "checkins c" + (", unnest(c.reasons) AS r(code)" if "reason" in dims else "")
    groups = ", ".join(str(n + 1) for n in range(len(dims)))
    with pool.connection() as conn:
        return conn.execute(f"SELECT {keys}, {_SUMS} FROM {source} WHERE {_LIVE} "
                            f"GROUP BY {groups}", [first, last]).fetchall()


def balance_rows(pool: Pool, first: date, last: date) -> list[dict]:
    """Per site: parties (and people free) it admitted from other homes (``received``) and
    its members admitted elsewhere (``sent``), over local dates ``first``..``last``."""
    with pool.connection() as conn:
        return conn.execute(
            "WITH v AS (SELECT c.home, c.visit, c.people_free FROM checkins c "
            f"WHERE {_LIVE} AND c.admit AND c.home IS NOT NULL AND c.home <> c.visit) "
            "SELECT site, SUM(received) AS received, SUM(received_free) AS received_free, "
            "SUM(sent) AS sent, SUM(sent_free) AS sent_free FROM ("
            "SELECT visit AS site, COUNT(*) AS received, SUM(people_free) AS received_free, "
            "0 AS sent, 0 AS sent_free FROM v GROUP BY visit UNION ALL "
            "SELECT home, 0, 0, COUNT(*), SUM(people_free) FROM v GROUP BY home) t "
            "GROUP BY site", [first, last]).fetchall()


# --------------------------------------------------------------------------- users
# (owner: passport/hub/users.py)

def insert_user(pool: Pool, username: str, password_hash: str) -> bool:
    """Add an admin; False when the username is taken."""
    with pool.connection() as conn:
        return conn.execute(
            "INSERT INTO users (username, password_hash, role, created_at) "
            "VALUES (%s, %s, 'admin', now()) ON CONFLICT DO NOTHING",
            [username, password_hash]).rowcount == 1


def get_user_row(pool: Pool, username: str) -> dict | None:
    with pool.connection() as conn:
        return conn.execute("SELECT * FROM users WHERE username = %s", [username]).fetchone()


def update_password_hash(pool: Pool, username: str, password_hash: str) -> None:
    with pool.connection() as conn:
        conn.execute("UPDATE users SET password_hash = %s WHERE username = %s",
                     [password_hash, username])


def count_users(pool: Pool) -> int:
    with pool.connection() as conn:
        return conn.execute("SELECT COUNT(*) AS n FROM users WHERE NOT disabled"
                            ).fetchone()["n"]

