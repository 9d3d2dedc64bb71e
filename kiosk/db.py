"""One store handle per request on ``g``, closed on teardown (the connection, nothing else)."""

from __future__ import annotations

import threading
import weakref

import sqlite_utils
from flask import Flask, current_app, g

from passport import store

KEEPER_KEY = "passport.keeper_db"
_keeper_lock = threading.Lock()


def _ensure_store(app: Flask) -> None:
    """Once per app: create and migrate the file (``open_db``), then hold one idle handle
    open for the app's lifetime. Without it each request's close would be the last one, and
    SQLite's last close checkpoints the WAL (with an fsync) and deletes it — an fsync on
    every request."""
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
        g.db = store.connect_migrated(app.config["DB"], app.config["SQLITE_SYNCHRONOUS"],
                                      busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])
    return g.db


def close_db(exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
