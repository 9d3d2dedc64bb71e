"""The hub's Flask app (issue 14): the program office's API for sites (bundle, enrolment,
check-ins, trust) and its admin pages (lists, sites, reports). Same domain package as the
kiosk (``passport.hub``), its own blueprints and templates; stateless between requests
(everything lives in PostgreSQL), so gunicorn may run it in several worker processes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, redirect, url_for

from kiosk import clock, errors, headers, security
from kiosk.hub import admin, api, auth, db, reports, session
from passport import store
from passport.hub import bundles


def create_hub_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the hub app. Config layers as the kiosk's: defaults, the instance folder's
    ``hub_config.py``, ``PASSPORT_*`` environment variables (``PASSPORT_HUB_DATABASE_URL``,
    ``PASSPORT_SECRET_KEY``...), then ``test_config``."""
    app = Flask(__name__, instance_path=str(store.default_instance_dir()),
                instance_relative_config=True,
                static_folder=str(Path(__file__).resolve().parents[1] / "static"))
    app.config.from_mapping(
        SECRET_KEY=None,
        HUB_DATABASE_URL=None,  # None: $PASSPORT_HUB_DATABASE_URL (passport.hubstore)
        HUB_POOL_SIZE=4,  # connections per worker process
        HUB_BUNDLE_VALID_HOURS=bundles.VALID_FOR.total_seconds() / 3600,
        HUB_BUNDLE_REFRESH_HOURS=bundles.REFRESH_AFTER.total_seconds() / 3600,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,  # a 5,000-row batch is ~1.5 MB; list uploads
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PROXY_HOPS=0,
        CLOCK=clock.utc_now,  # the admins' idle timeout reads it (kiosk.clock)
        **security.CONFIG_DEFAULTS,  # SECURE_COOKIES, IDLE_MINUTES: as the kiosk's
    )
    app.config.from_pyfile("hub_config.py", silent=True)
    app.config.from_prefixed_env("PASSPORT")
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = security.instance_secret_key(app.instance_path)
    security.trust_proxies(app)
    app.json.sort_keys = False
    db.init_app(app)
    session.init_app(app)
    errors.init_app(app)
    headers.init_app(app)  # the kiosk's Content-Security-Policy and headers on every answer
    for module in (auth, admin, reports, api):
        app.register_blueprint(module.bp)
    app.add_url_rule("/", endpoint="index", view_func=lambda: redirect(url_for("admin.index")))
    return app
