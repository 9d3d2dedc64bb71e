"""Sessions, roles, CSRF, the generated secret key and the reverse proxies to trust.

CSRF: every session carries a random token; every unsafe request authenticated by the
session cookie must echo it (form field ``csrf_token`` or header ``X-CSRF-Token``).
API clients using ``Authorization: Bearer`` carry no ambient cookie, so they are exempt.
"""

from __future__ import annotations

import functools
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from flask import Flask, abort, g, redirect, request, session, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from kiosk.db import get_db
from kiosk.errors import ApiError, is_api_request, wants_json
from passport import auth

SECRET_KEY_FILE = "secret_key"
CSRF_FIELD = "csrf_token"
# The user's ``session_stamp`` at sign-in; a password change alters it and ends the session.
STAMP_FIELD = "stamp"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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


def _load_user() -> None:
    g.user = None
    username = session.get("user")
    if username:
        user = auth.get_user(get_db(), username)
        if user is None or user.disabled or session.get(STAMP_FIELD) != user.session_stamp:
            session.clear()
        else:
            g.user = user


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


def init_app(app: Flask) -> None:
    app.before_request(_load_user)
    app.before_request(_check_csrf)

    @app.context_processor
    def _csrf_context() -> dict:
        return {"csrf_token": csrf_token}
