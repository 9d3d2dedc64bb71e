"""Sign in and out (session cookie; argon2 check in passport.auth), with failed sign-ins
throttled per (username, client address) and, with a higher ceiling, per address."""

from __future__ import annotations

import math

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from kiosk.db import get_db
from kiosk.security import (
    STAMP_FIELD,
    login_required,
    same_site_path,
    start_session,
)
from kiosk.throttle import SignInThrottle
from passport import auth

bp = Blueprint("auth", __name__)

THROTTLE_KEY = "passport.login_throttle"


def init_app(app: Flask) -> None:
    """One throttle per app, in memory: ``passport serve`` runs a single waitress process,
    so every sign-in attempt reaches this object (a second process would keep its own)."""
    app.extensions[THROTTLE_KEY] = SignInThrottle(
        max_failures=int(app.config["LOGIN_MAX_FAILURES"]),
        max_address_failures=int(app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]),
        window_seconds=float(app.config["LOGIN_WINDOW_SECONDS"]),
        lockout_seconds=float(app.config["LOGIN_LOCKOUT_SECONDS"]),
    )


def login_throttle() -> SignInThrottle:
    return current_app.extensions[THROTTLE_KEY]


def too_many_attempts(wait_seconds: float, template: str, what: str = "sign-in attempts",
                      **context):
    """429 with Retry-After; the same words whichever key is locked."""
    minutes = max(1, math.ceil(wait_seconds / 60))
    flash(f"Too many failed {what}. Try again in {minutes} minute"
          f"{'' if minutes == 1 else 's'}.", "error")
    response = current_app.make_response((render_template(template, **context), 429))
    response.headers["Retry-After"] = str(math.ceil(wait_seconds))
    return response


def _safe_next(target: str | None) -> str:
    """Only same-site paths, so ?next= cannot send anyone to another site after login."""
    return same_site_path(target) or url_for("desk.desk")


@bp.route("/login", methods=("GET", "POST"))
def login():
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:200]
        password = request.form.get("password", "")
        throttle, address = login_throttle(), request.remote_addr
        wait_seconds = throttle.retry_after_seconds(username, address)
        if wait_seconds:
            return too_many_attempts(wait_seconds, "auth/login.html", username=username)
        user = auth.authenticate(get_db(), username, password)
        if user is None:
            throttle.record_failure(username, address)
            flash("Wrong username or password.", "error")
            return render_template("auth/login.html", username=username), 401
        throttle.record_success(username, address)
        start_session(user)  # a fresh session (no fixation) with a new CSRF token
        return redirect(_safe_next(request.args.get("next")))
    if g.user is not None:
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", username="")


@bp.route("/account", methods=("GET", "POST"))
@login_required()
def account():
    """Change your own password: the current one, then the new one twice. Wrong current
    passwords count towards the sign-in throttle, so this page is no way around it."""
    context = {"min_password_chars": auth.MIN_PASSWORD_CHARS}
    if request.method == "GET":
        return render_template("auth/account.html", **context)
    username = g.user.username
    throttle, address = login_throttle(), request.remote_addr
    wait_seconds = throttle.retry_after_seconds(username, address)
    if wait_seconds:
        return too_many_attempts(wait_seconds, "auth/account.html", "password attempts",
                                 **context)
    new_password = request.form.get("new_password", "")
    if new_password != request.form.get("new_password_repeat", ""):
        flash("The two new passwords do not match.", "error")
        return render_template("auth/account.html", **context), 400
    try:
        user = auth.change_password(get_db(), username, request.form.get("current_password", ""),
                                    new_password)
    except auth.WrongPassword:
        throttle.record_failure(username, address)
        flash("The current password is wrong.", "error")
        return render_template("auth/account.html", **context), 400
    except auth.AuthError as exc:
        flash(f"Not changed: {exc}.", "error")
        return render_template("auth/account.html", **context), 400
    session[STAMP_FIELD] = user.session_stamp  # this session stays; others are signed out
    flash("Password changed. Other signed-in sessions of yours have been signed out.", "info")
    return redirect(url_for("auth.account"))


@bp.route("/logout", methods=("POST",))
def logout():
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
