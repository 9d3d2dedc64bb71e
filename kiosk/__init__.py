"""The kiosk Flask app (front desk, member pages, admin console, JSON API)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from kiosk import (
    activity,
    admin,
    api,
    auth,
    backups,
    clock,
    compress,
    crosswalk,
    db,
    desk,
    errors,
    headers,
    health,
    hubsync,
    i18n,
    member,
    membercards,
    network,
    planner,
    programs,
    public,
    pwa,
    reports,
    security,
    site,
)
from passport import store


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
        # How long a write waits for another program's lock on the store before the request
        # answers 503 store_unavailable (docs/reliability.md, "Crashes and faults").
        SQLITE_BUSY_TIMEOUT_MS=5000,
        # Reverse proxies in front of the kiosk that set X-Forwarded-For/-Proto/-Host
        # (werkzeug's ProxyFix trusts that many); 0: none, the peer address is the client's.
        PROXY_HOPS=0,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,  # list uploads and card photos
        # The member map's base layer: None draws the offline outlines only; a tile URL
        # template ("https://tiles.example.org/{z}/{x}/{y}.png") adds that tile layer, with
        # TILE_ATTRIBUTION (HTML the tile provider asks for) in the map's corner.
        TILE_URL=None,
        TILE_ATTRIBUTION=None,
        **public.CONFIG_DEFAULTS,  # the member planner's rate limit and cache time
        **hubsync.CONFIG_DEFAULTS,  # background hub sync and the bundle-age warning
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        **security.CONFIG_DEFAULTS,  # Secure cookies, the idle timeout of staff sessions
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
    _wire(app)
    return app


def _wire(app: Flask) -> None:
    """Template filters, JSON, the database, security, errors, compression, the member
    pages' languages (and their ``miles`` filter), the blueprints and ``/`` (the member
    planner; signed-in staff go on to the desk)."""
    app.add_template_filter(site.local_time, "localtime")
    app.json.sort_keys = False  # keep the documented key order (admit, reasons, ... first)
    db.init_app(app)
    security.init_app(app)
    headers.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    compress.init_app(app)
    i18n.init_app(app)
    for module in (auth, desk, member, admin, programs, crosswalk, membercards, reports,
                   activity, api, planner, public, health, pwa, network, backups):
        app.register_blueprint(module.bp)
    app.add_url_rule("/", endpoint="index", view_func=planner.index)
