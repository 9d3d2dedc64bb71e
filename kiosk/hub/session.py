"""Who is signed in (a hub admin, from PostgreSQL) and CSRF on every page form, with the
kiosk's own helpers (``kiosk.security``: token, check, ``login_required``). The API under
``/api/`` authenticates sites by their Bearer credential and carries no cookie, so it is
exempt from CSRF."""

from __future__ import annotations

from flask import Flask, abort, g, request, session

from kiosk.errors import ApiError, is_api_request, wants_json
from kiosk.hub.db import get_pool
from kiosk.security import (
    CSRF_MESSAGE,
    STAMP_FIELD,
    UNSAFE_METHODS,
    csrf_ok,
    csrf_token,
    ended_when_idle,
    init_cookies,
)
from passport.hub import users


def _load_user() -> None:
    g.user = None
    username = session.get("user")
    if username and not is_api_request():
        user = users.get_user(get_pool(), username)
        if user is None or user.disabled or session.get(STAMP_FIELD) != user.session_stamp:
            session.clear()
        elif not ended_when_idle():  # the kiosk's idle timeout (IDLE_MINUTES)
            g.user = user


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS or request.routing_exception is not None:
        return
    if is_api_request() or csrf_ok():
        return
    if wants_json():
        raise ApiError(400, "csrf_failed", CSRF_MESSAGE)
    abort(400, description=CSRF_MESSAGE)


def init_app(app: Flask) -> None:
    init_cookies(app)  # HttpOnly, SameSite=Lax, Secure over HTTPS or with SECURE_COOKIES
    app.before_request(_load_user)
    app.before_request(_check_csrf)

    @app.context_processor
    def _csrf_context() -> dict:
        return {"csrf_token": csrf_token}
