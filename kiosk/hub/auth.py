"""Sign in and out of the hub's pages (argon2 check in ``passport.hub.users``)."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from kiosk.hub.db import get_pool
from kiosk.security import same_site_path, start_session
from passport.hub import users

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so ?next= cannot send anyone to another site after login."""
    return same_site_path(target) or url_for("admin.index")


@bp.route("/login", methods=("GET", "POST"))
def login():
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:200]
        user = users.authenticate(get_pool(), username, request.form.get("password", ""))
        if user is None:
            flash("Wrong username or password.", "error")
            return render_template("hub/login.html", username=username), 401
        start_session(user)  # a fresh session (no fixation) with a new CSRF token
        return redirect(_safe_next(request.args.get("next")))
    if g.user is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("hub/login.html", username="")


@bp.route("/logout", methods=("POST",))
def logout():
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
