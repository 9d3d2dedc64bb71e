"""The phone card as an installable web app: ``/manifest.webmanifest`` and the service
worker ``/sw.js``, served from the site root so its scope covers ``/card?c=...`` and the
planner at ``/``.

The worker (``templates/pwa/sw.js``) keeps the member's card page, the planner shell and
the static files they use in one cache whose name carries the app's version and a digest of
the static files: a release that changes any of them is a new worker, which replaces the
old cache when it activates. Pages and the planner's data are network-first (a fresh card
status whenever the phone is online), static files cache-first.
"""

from __future__ import annotations

import functools
import hashlib
import re
from importlib import metadata
from pathlib import Path

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import get_locale, gettext

from passport import cards

bp = Blueprint("pwa", __name__)

MANIFEST_TYPE = "application/manifest+json"
THEME_COLOUR = "#1f2933"  # the top bar's colour
BACKGROUND_COLOUR = "#fafafa"
# A card payload as a link carries it: the prefix, then base32 (passport.cards).
_PAYLOAD = re.compile(rf"^(?:{'|'.join(cards.PREFIXES)})[A-Z2-7]{{1,4000}}$")

# Fetched into the cache when the worker installs (beside what each member page asks for):
# what the card page and the planner's map need to draw without a network.
PRECACHE_STATIC = (
    "kiosk.css", "favicon.svg", "pwa.js", "miles.js", "map.js", "map.css",
    "icons/icon.svg", "icons/icon-192.png",
    "vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css",
    "vendor/topojson-client/topojson-client.min.js", "vendor/outlines/outlines.topo.json",
)
# Pages kept for offline use (network-first): the planner (``/`` for members, ``/plan``
# for signed-in staff) and the card.
OFFLINE_PAGES = ("index", "planner.planner_page", "member.card")
# The planner's JSON (network-first, kept for the same query offline).
OFFLINE_DATA = ("/api/v1/plan", "/api/v1/plan.geojson")


def app_version() -> str:
    """The installed package's version (pyproject's), or ``dev`` from a bare checkout."""
    try:
        return metadata.version("passport-checkin")
    except metadata.PackageNotFoundError:
        return "dev"


@functools.cache
def static_digest(folder: str) -> str:
    """A short digest of every file under the static folder (names and bytes), read once per
    process: the worker's cache name changes whenever a static file does."""
    digest = hashlib.sha256()
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cache_name() -> str:
    return f"passport-{app_version()}-{static_digest(current_app.static_folder)}"


@bp.get("/sw.js")
def service_worker():
    """The service worker; never cached by HTTP, so a release reaches phones on their next
    visit (browsers also check it at least once a day)."""
    body = render_template(
        "pwa/sw.js",
        cache_name=cache_name(),
        precache=[url_for("static", filename=name) for name in PRECACHE_STATIC],
        pages=[url_for(endpoint) for endpoint in OFFLINE_PAGES],
        shell=url_for("index"),
        card_page=url_for("member.card"),
        data=[request.script_root + path for path in OFFLINE_DATA],
        static_prefix=url_for("static", filename=""),
    )
    response = current_app.response_class(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest. ``?c=PAYLOAD`` (the card page links it so) makes the installed
    app open that card; anything else opens the empty card page. Its words are in the
    member's language (``kiosk.i18n``)."""
    payload = cards.normalize_scan(request.args.get("c", ""))
    start = (url_for("member.card", c=payload) if _PAYLOAD.match(payload)
             else url_for("member.card"))
    icon = functools.partial(url_for, "static")
    response = jsonify({
        "id": url_for("member.card"),
        "name": gettext("Passport card"),
        "short_name": "Passport",
        "description": gettext("Your reciprocal-admission card, and the sites you can visit "
                               "free."),
        "lang": str(get_locale()),
        "start_url": start,
        "scope": url_for("index"),
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            {"src": icon(filename="icons/icon-192.png"), "sizes": "192x192",
             "type": "image/png"},
            {"src": icon(filename="icons/icon-512.png"), "sizes": "512x512",
             "type": "image/png"},
            {"src": icon(filename="icons/icon-maskable-512.png"), "sizes": "512x512",
             "type": "image/png", "purpose": "maskable"},
            {"src": icon(filename="icons/icon.svg"), "sizes": "any",
             "type": "image/svg+xml"},
        ],
    })
    response.mimetype = MANIFEST_TYPE
    response.headers["Cache-Control"] = "no-cache"
    return response
