"""The kiosk's link to its program hub: a background sync every ``SYNC_SECONDS`` while
``passport serve`` runs (when the site is enrolled), and the bundle's age for the desk banner
and ``/healthz``. The hub being down never stops the desk: it keeps deciding with the bundle
it has, and says how old that is."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from flask import Flask, current_app

from kiosk import clock
from kiosk.db import get_db
from passport import store, sync

log = logging.getLogger(__name__)

THREAD_KEY = "passport.sync_thread"
CONFIG_DEFAULTS = {
    "SYNC_SECONDS": 300,        # PASSPORT_SYNC_SECONDS: how often serve syncs with the hub
    "BUNDLE_WARN_HOURS": 48,    # PASSPORT_BUNDLE_WARN_HOURS: the desk warns past this age
}


class SyncThread(threading.Thread):
    """Syncs at once, then every ``interval_seconds`` until ``stop()``; each attempt's
    outcome is kept in ``last`` (for /healthz)."""

    def __init__(self, db_path: str, interval_seconds: float) -> None:
        super().__init__(name="passport-hub-sync", daemon=True)
        self.db_path, self.interval_seconds = db_path, interval_seconds
        self._stop_event = threading.Event()
        self.last: dict = {"at": None, "ok": None, "errors": [], "attempts": 0}

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        wait = 0.0
        while not self._stop_event.wait(wait):
            self.sync_once()
            wait = self.interval_seconds

    def sync_once(self) -> None:
        errors: list[dict] = []
        db = None
        try:
            db = store.open_db(self.db_path)
            result = sync.sync(db)
            errors = result["errors"]
        except Exception as exc:  # noqa: BLE001 - a failed sync must never end the thread
            errors = [{"step": "sync", "code": "SYNC_FAILED", "message": str(exc)}]
            log.exception("hub sync failed")
        finally:
            if db is not None:
                db.close()
        for error in errors:
            log.warning("hub sync: %s: %s: %s", error["step"], error["code"], error["message"])
        self.last = {"at": clock.utc_now().isoformat(), "ok": not errors, "errors": errors,
                     "attempts": self.last["attempts"] + 1}


def start(app: Flask) -> SyncThread | None:
    """Start the background sync when the store is enrolled with a hub (else None)."""
    db = store.open_db(app.config["DB"])
    try:
        enrolled = sync.enrolment(db)
    finally:
        db.close()
    if enrolled is None:
        return None
    seconds = float(app.config["SYNC_SECONDS"])
    if seconds <= 0:
        raise ValueError(f"SYNC_SECONDS must be above 0, not {seconds}")
    thread = SyncThread(app.config["DB"], seconds)
    app.extensions[THREAD_KEY] = thread
    thread.start()
    log.info("syncing with the hub at %s every %s s", enrolled["hub_url"], seconds)
    return thread


def bundle_info(now: datetime | None = None) -> dict:
    """The bundle's age and whether to warn (``passport.sync.bundle_status``), plus the last
    background sync's outcome when one ran."""
    info = sync.bundle_status(get_db(), now=now or clock.now(),
                              warn_hours=float(current_app.config["BUNDLE_WARN_HOURS"]))
    thread = current_app.extensions.get(THREAD_KEY)
    if thread is not None:
        info["last_sync"] = thread.last
    return info
