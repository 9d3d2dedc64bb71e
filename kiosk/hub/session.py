"""Who is signed in (a hub admin, from PostgreSQL) and CSRF on every page form, with the
kiosk's own helpers (``kiosk.security``: token, check, ``login_required``). The API under
``/api/`` authenticates sites by their Bearer credential and carries no cookie, so it is
exempt from CSRF."""

from __future__ import annotations

from flask import Flask

from kiosk import security
from kiosk.hub.db import get_pool
from passport.auth import User
from passport.hub import users


def _hub_admin(username: str) -> User | None:
    return users.get_user(get_pool(), username)


def init_app(app: Flask) -> None:
    """The kiosk's sessions, idle timeout, cookies and CSRF (``kiosk.security``), with the
    hub's admins as the users."""
    security.init_app(app, find_user=_hub_admin)
