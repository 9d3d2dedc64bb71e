"""Sessions, roles, CSRF, the generated secret key and the reverse proxies to trust.

CSRF: every session carries a random token; every unsafe request authenticated by the
session cookie must echo it (form field ``csrf_token`` or header ``X-CSRF-Token``).
API clients using ``Authorization: Bearer`` carry no ambient cookie, so they are exempt.

Cookies: the session cookie is HttpOnly and SameSite=Lax, and Secure when the request came
over HTTPS (directly, or through ``PROXY_HOPS`` trusted proxies that set X-Forwarded-Proto)
or always with ``SECURE_COOKIES`` (``PASSPORT_SECURE_COOKIES=1``). A signed-in session unused
for ``IDLE_MINUTES`` (by the app's ``CLOCK``) is ended: the next request must sign in again.
"""

from __future__ import annotations

import functools
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from kiosk import clock
from kiosk.db import get_db
from kiosk.errors import ApiError, is_api_request, wants_json
from passport import auth

SECRET_KEY_FILE = "secret_key"
CSRF_FIELD = "csrf_token"
# The user's ``session_stamp`` at sign-in; a password change alters it and ends the session.
STAMP_FIELD = "stamp"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The session's last use, epoch seconds by the app's CLOCK; rewritten at most this often, so
# a burst of desk requests does not send a new cookie with every answer.
SEEN_FIELD = "seen"
SEEN_RESOLUTION_SECONDS = 60
IDLE_MESSAGE = "You were signed out after {minutes} minutes without use. Sign in again."
CONFIG_DEFAULTS = {
    "SECURE_COOKIES": False,  # True: Secure cookies even on requests that look like http
    "IDLE_MINUTES": 30,  # a desk or admin session unused this long must sign in again
}


def instance_secret_key(instance_path: str | os.PathLike[str]) -> str:
    """The key in the instance folder's ``secret_key`` file, created (mode 0600) if missing."""
    path = Path(instance_path) / SECRET_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise RuntimeError(
                f"secret key file {path} is too short; delete it to regenerate"
            ) from None
        return key
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def trust_proxies(app: Flask) -> None:
    """Behind ``PROXY_HOPS`` reverse proxies, take the client's address, scheme and host from
    the X-Forwarded-For/-Proto/-Host they set (werkzeug's ProxyFix), so the sign-in throttle
    sees each client's own address. 0 (the default) trusts no such header: a client talking
    to the kiosk directly could forge it."""
    hops = int(app.config["PROXY_HOPS"])
    if hops < 0:
        raise ValueError(f"PROXY_HOPS must be 0 (no proxy) or more, not {hops}")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def bearer_token() -> str | None:
    """The token of ``Authorization: Bearer TOKEN``. The scheme is case-insensitive
    (RFC 7235 section 2.1: ``bearer``, ``BEARER``...); any run of spaces or tabs separates it
    from the token."""
    parts = request.headers.get("Authorization", "").split(None, 1)
    if len(parts) != 2 or parts[0].casefold() != "bearer":
        return None
    return parts[1].strip() or None


def _kiosk_user(username: str) -> auth.User | None:
    return auth.get_user(get_db(), username)


def _load_user() -> None:
    """``g.user``: who the session names, while the session is still theirs (the app's user
    lookup, ``init_app``: the kiosk's staff in SQLite, the hub's admins in PostgreSQL)."""
    g.user = None
    username = session.get("user")
    if username:
        user = current_app.extensions[__name__](username)
        if user is None or user.disabled or session.get(STAMP_FIELD) != user.session_stamp:
            session.clear()
        elif not ended_when_idle():
            g.user = user


def start_session(user: auth.User) -> None:
    """A fresh session for ``user`` at sign-in (no fixation), with a new CSRF token."""
    session.clear()
    session["user"] = user.username
    session[STAMP_FIELD] = user.session_stamp
    mark_session_used()
    csrf_token()


def ended_when_idle() -> bool:
    """End the signed-in session when it went unused for ``IDLE_MINUTES`` (True; the kiosk's
    and the hub's pages both call this), else note its use (False)."""
    if not _idle_too_long():
        return False
    # Signed out, but the CSRF token stays: a form posted from the stale page then reaches
    # the sign-in redirect (and this message) instead of a CSRF refusal.
    token = session.get(CSRF_FIELD)
    session.clear()
    if token:
        session[CSRF_FIELD] = token
    flash(IDLE_MESSAGE.format(minutes=f"{current_idle_minutes():g}"), "error")
    return True


def current_idle_minutes() -> float:
    return float(current_app.config["IDLE_MINUTES"])


def mark_session_used() -> None:
    """Record this instant as the signed-in session's last use (at sign-in, and by
    ``_idle_too_long`` at most once a ``SEEN_RESOLUTION_SECONDS``)."""
    session[SEEN_FIELD] = clock.now().timestamp()


def _idle_too_long() -> bool:
    """True when the session was last used more than ``IDLE_MINUTES`` ago; else notes its
    use. A session from before the idle timeout existed (no mark) starts counting now."""
    now_s = clock.now().timestamp()
    seen_s = session.get(SEEN_FIELD)
    if isinstance(seen_s, (int, float)) and now_s - seen_s > current_idle_minutes() * 60:
        return True
    if not isinstance(seen_s, (int, float)) or now_s - seen_s >= SEEN_RESOLUTION_SECONDS:
        session[SEEN_FIELD] = now_s
    return False


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the cookie Secure whenever the request itself
    came over HTTPS (or always, with ``SESSION_COOKIE_SECURE``)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return cookie_secure(app)


def cookie_secure(app: Flask | None = None) -> bool:
    """Whether cookies set now carry ``Secure``: ``SESSION_COOKIE_SECURE`` (set from
    ``SECURE_COOKIES``) or a request that came over HTTPS (as ProxyFix tells it when
    ``PROXY_HOPS`` proxies are trusted)."""
    app = app or current_app
    return bool(app.config["SESSION_COOKIE_SECURE"]) or (
        has_request_context() and request.is_secure)


def csrf_ok() -> bool:
    """True when the request echoes this session's CSRF token (header or form field)."""
    expected = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    return bool(expected and sent and hmac.compare_digest(expected, sent))


CSRF_MESSAGE = "CSRF token missing or invalid; reload the page and try again"


def _check_csrf():
    # Unknown routes answer 404/405 first; the API checks CSRF itself after authenticating
    # (a Bearer client needs none, a signed-out caller gets 401 rather than a CSRF error).
    if request.method not in UNSAFE_METHODS or request.routing_exception is not None:
        return None
    if is_api_request():
        return None
    if not csrf_ok():
        if wants_json():
            raise ApiError(400, "csrf_failed", CSRF_MESSAGE)
        abort(400, description=CSRF_MESSAGE)
    return None


def login_required(role: str | None = None) -> Callable:
    """Pages: redirect to /login when signed out; 403 when the role does not fit.
    ``admin`` may use desk pages too."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.user is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if role == "admin" and not g.user.is_admin:
                abort(403, description="This page is for admins.")
            return view(*args, **kwargs)

        return wrapped

    return decorator


def init_cookies(app: Flask) -> None:
    """The session cookie's settings (``CONFIG_DEFAULTS``), for the kiosk and the hub."""
    if float(app.config["IDLE_MINUTES"]) <= 0:
        raise ValueError(f"IDLE_MINUTES must be more than 0, not {app.config['IDLE_MINUTES']}")
    app.config["SESSION_COOKIE_SECURE"] = bool(
        app.config["SESSION_COOKIE_SECURE"] or app.config["SECURE_COOKIES"])
    app.session_interface = SessionInterface()


def init_app(app: Flask, find_user: Callable[[str], auth.User | None] = _kiosk_user) -> None:
    """Sessions, sign-in and CSRF for an app whose users ``find_user`` looks up by name."""
    init_cookies(app)
    app.extensions[__name__] = find_user
    app.before_request(_load_user)
    app.before_request(_check_csrf)

    @app.context_processor
    def _csrf_context() -> dict:
        return {"csrf_token": csrf_token}


def same_site_path(target: str | None) -> str | None:
    """``target`` when it is a path of this site (``?next=`` after a sign-in), else None:
    no scheme, no host, not ``//host``, so a link cannot send someone to another site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//"):
            return target
    return None
