"""The hub database: one connection pool per worker process (made on first use, after
gunicorn forks), closed when the app goes."""

from __future__ import annotations

import os
import threading
import weakref

from flask import Flask, current_app

from passport import hubstore

POOL_KEY = "passport.hub_pool"
_lock = threading.Lock()


def get_pool() -> hubstore.Pool:
    """This process's pool on the hub database."""
    app = current_app._get_current_object()
    found = app.extensions.get(POOL_KEY)
    if found is not None and found[0] == os.getpid():
        return found[1]
    with _lock:
        found = app.extensions.get(POOL_KEY)
        if found is None or found[0] != os.getpid():
            pool = hubstore.open_pool(app.config["HUB_DATABASE_URL"],
                                      max_size=int(app.config["HUB_POOL_SIZE"]))
            weakref.finalize(app, pool.close)
            found = app.extensions[POOL_KEY] = (os.getpid(), pool)
    return found[1]


def init_app(app: Flask) -> None:
    app.extensions.pop(POOL_KEY, None)
