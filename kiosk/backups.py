"""Admin console: download a backup of the store (``passport.backup``). Restoring is a
command-line step (``passport restore``), as the kiosk has to be stopped for it."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC
from pathlib import Path

from flask import Blueprint, current_app, g, send_file

from kiosk import clock
from kiosk.db import get_db
from kiosk.security import login_required
from passport import audit, backup

bp = Blueprint("backups", __name__, url_prefix="/admin")


@bp.post("/backup")
@login_required("admin")
def download():
    """A consistent copy of the store as an attachment (POST: a form with a CSRF token, so
    no other site can make an admin's browser fetch it); the temporary copy is deleted once
    sent."""
    now = clock.now()
    name = f"passport-backup-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}.sqlite"
    folder = Path(tempfile.mkdtemp(prefix="passport-backup-"))
    try:
        result = backup.backup(current_app.config["DB"], folder / name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    audit.record(get_db(), g.user.username, "store.backup", name,
                 {"bytes": result["bytes"], "checkins": result["checkins"]}, now=now)
    response = send_file(folder / name, as_attachment=True, download_name=name,
                         mimetype="application/vnd.sqlite3", max_age=0)
    response.headers["Cache-Control"] = "no-store"
    response.call_on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    return response
