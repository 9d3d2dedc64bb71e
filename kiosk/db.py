"""One store handle per request on ``g``, closed on teardown; the warm-up ``serve`` runs."""

from __future__ import annotations

import logging
import threading
import time
import weakref

import sqlite_utils
from flask import Flask, current_app, g

from passport import institutions, store

log = logging.getLogger(__name__)

SITE_SETTING = "kiosk_site"
WARM_KEY = "passport.warm_seconds"


KEEPER_KEY = "passport.keeper_db"
_keeper_lock = threading.Lock()


def _ensure_store(app: Flask) -> None:
    """Once per app: create and migrate the file (``open_db``), then hold one idle handle
    open for the app's lifetime. Without it each request's close would be the last one, and
    SQLite's last close checkpoints the WAL (with an fsync) and deletes it — milliseconds
    on every request."""
    path = app.config["DB"]
    with _keeper_lock:
        keeper = app.extensions.get(KEEPER_KEY)
        if keeper is not None and keeper[0] == path:
            return
        store.open_db(path).close()
        handle = store.connect_migrated(path, app.config["SQLITE_SYNCHRONOUS"],
                                        check_same_thread=False)
        weakref.finalize(app, handle.close)
        app.extensions[KEEPER_KEY] = (path, handle)


def get_db() -> sqlite_utils.Database:
    """The request's store handle, opened on first use and closed on teardown."""
    if "db" not in g:
        app = current_app._get_current_object()
        _ensure_store(app)
        g.db = store.connect_migrated(app.config["DB"], app.config["SQLITE_SYNCHRONOUS"])
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)


def active_list():
    """The active participant list (``passport.institutions.ActiveList``).

    ``load_active`` caches per (db file, version): each call costs one small query, and a
    newly published or rolled-back version is picked up on the next request, no restart.
    Raises ``passport.institutions.NoActiveList``.
    """
    return institutions.load_active(get_db())


def active_list_or_none():
    """``active_list()``, or None while no participant list is published."""
    try:
        return active_list()
    except institutions.NoActiveList:
        return None


def institution_choices(active) -> list[dict]:
    """The rows of an active list (or None: none) by name, for a page's picker."""
    return sorted(active.records, key=lambda r: r["name"].lower()) if active else []


def listed_institution(institution_id: str | None) -> dict | None:
    """The active list's row for ``institution_id``, or None (not listed, or no list yet)."""
    active = active_list_or_none() if institution_id else None
    return active.by_id.get(institution_id) if active else None


def kiosk_site() -> str | None:
    """The visited institution this kiosk stands at: the admin setting, else $PASSPORT_SITE."""
    return store.get_setting(get_db(), SITE_SETTING) or current_app.config.get("SITE")


def set_kiosk_site(site_id: str | None) -> None:
    store.set_setting(get_db(), SITE_SETTING, site_id)


def site_timezone(site_id: str | None) -> str | None:
    """The site's IANA time zone from the active list, when it has one."""
    active = active_list_or_none() if site_id else None
    return (active.timezone_of(site_id) or None) if active else None


def warm(app: Flask) -> dict:
    """Compile/load the engine kernels and build the active table, so the first scan is as
    fast as the rest; marks the app warm for ``/healthz``. Returns what was done."""
    # Lazy on purpose: importing engine makes Numba set up the on-disk cache of its
    # @njit(cache=True) kernels (creates engine/__pycache__, writes a probe file) and takes
    # about a second. The kiosk calls engine directly only here, at ``serve``'s start;
    # passport.institutions imports it the same way when it first builds a table.
    import engine

    started = time.perf_counter()
    kernel_seconds = engine.warm_up()
    with app.app_context():
        try:
            active = active_list()
            version, rows = active.version, len(active.table)
            # One query through the table so any lazily built index exists before traffic.
            if rows:
                first = active.records[0]
                active.table.distances_from(first["latitude"], first["longitude"])
        except institutions.NoActiveList:
            version, rows = None, 0
    total_seconds = time.perf_counter() - started
    app.extensions[WARM_KEY] = total_seconds
    log.info("warm in %.2fs (kernels %.2fs), list version %s",
             total_seconds, kernel_seconds, version)
    return {"seconds": total_seconds, "kernel_seconds": kernel_seconds,
            "list_version": version, "institutions": rows}
