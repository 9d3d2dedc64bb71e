"""The kiosk Flask app (front desk, member pages, admin console, JSON API)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from kiosk import admin, api, auth, clock, db, desk, errors, health, member, public, security, site
from passport import rules, store


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Config layers, later ones winning: defaults, the instance folder's
    ``config.py``, ``PASSPORT_*`` environment variables (``PASSPORT_DB``, ``PASSPORT_SITE``,
    ``PASSPORT_SECRET_KEY``...), then ``test_config``."""
    app = Flask(
        __name__,
        instance_path=str(store.default_instance_dir()),
        instance_relative_config=True,
    )
    app.config.from_mapping(
        SECRET_KEY=None,
        DB=None,  # the store file; None means passport.store.default_db_path()
        SITE=None,  # the kiosk's own institution id unless set in the admin console
        UNDO_WINDOW_SECONDS=120,
        # () -> an aware datetime: the time the check-in log reads (log times, the undo
        # window, the site's "today"); tests set a clock they move themselves.
        CLOCK=clock.utc_now,
        # Sign-in throttle (kiosk.auth): this many failures for one username from one client
        # address within the window lock that pair for the lockout; the address as a whole
        # is locked at its own, higher ceiling.
        LOGIN_MAX_FAILURES=5,
        LOGIN_MAX_FAILURES_PER_ADDRESS=50,
        LOGIN_WINDOW_SECONDS=15 * 60,
        LOGIN_LOCKOUT_SECONDS=15 * 60,
        # NORMAL: a check-in is in the WAL before the answer (survives a crash of the
        # server), without an fsync per commit; FULL adds the fsync (survives power loss).
        SQLITE_SYNCHRONOUS="NORMAL",
        # Reverse proxies in front of the kiosk that set X-Forwarded-For/-Proto/-Host
        # (werkzeug's ProxyFix trusts that many); 0: none, the peer address is the client's.
        PROXY_HOPS=0,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,  # list uploads and card photos
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("PASSPORT")
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config["DB"]:
        app.config["DB"] = str(store.default_db_path())
    if app.config["SITE"] is not None:
        app.config["SITE"] = str(app.config["SITE"])
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = security.instance_secret_key(app.instance_path)
    security.trust_proxies(app)

    app.add_template_filter(rules.format_miles, "miles")
    app.add_template_filter(site.local_time, "localtime")
    app.json.sort_keys = False  # keep the documented key order (admit, reasons, ... first)
    db.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    for module in (auth, desk, member, admin, api, public, health):
        app.register_blueprint(module.bp)
    app.add_url_rule("/", endpoint="index", view_func=desk.index)
    return app
