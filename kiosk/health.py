"""``GET /healthz``: 200 once the kernels are warm and the active table is loaded; and
``GET /favicon.ico``, which browsers ask for on every site."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from kiosk.hubsync import bundle_info
from kiosk.site import active_list
from kiosk.warmup import WARM_KEY
from passport import institutions

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    if WARM_KEY not in current_app.extensions:
        return jsonify({"status": "starting", "message": "kernels not warmed yet"}), 503
    try:
        active = active_list()
    except institutions.NoActiveList:
        return jsonify({"status": "no_active_list",
                        "message": "no participant list is published"}), 503
    # ``bundle``: the hub bundle's age (a site of a program network; stale past the warning)
    return jsonify({"status": "ok", "list_version": active.version,
                    "institutions": len(active.table), "bundle": bundle_info()})


@bp.route("/favicon.ico")
def favicon():
    """The icon (``static/favicon.ico``; the pages also link ``static/favicon.svg``)."""
    return current_app.send_static_file("favicon.ico")
