"""Sign in and out (session cookie; argon2 check in passport.auth)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from kiosk.db import get_db
from kiosk.security import csrf_token
from passport import auth

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so ?next= cannot send staff to another site after login."""
    if target:
        parts = urlsplit(target)
        same_site = not parts.scheme and not parts.netloc
        if same_site and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("desk.desk")


@bp.route("/login", methods=("GET", "POST"))
def login():
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        user = auth.authenticate(get_db(), username, password)
        if user is None:
            flash("Wrong username or password.", "error")
            return render_template("auth/login.html", username=username), 401
        # A fresh session on login (no fixation); the CSRF token is regenerated with it.
        session.clear()
        session["user"] = user.username
        csrf_token()
        return redirect(_safe_next(request.args.get("next")))
    if g.user is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", username="")


@bp.route("/logout", methods=("POST",))
def logout():
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
