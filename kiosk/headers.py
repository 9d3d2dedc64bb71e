"""Security headers on every response: a Content-Security-Policy without inline script or
style, no framing, no MIME sniffing, no referrer sent to other sites.

The pages keep every script and style in ``static/`` and pass data to scripts in ``data-*``
attributes or ``<script type="application/json">`` blocks (a data block is never executed,
so ``script-src 'self'`` does not apply to it). Images: the kiosk's own, ``data:`` URLs, and
the origin of the map's ``TILE_URL`` when an admin configured one (none by default: the map
draws its vendored outlines, offline).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import Flask, Response, current_app

# The policy's fixed part; img-src is added per config (tile_origin).
_FIXED_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
OTHER_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
}


def tile_origin(tile_url: str | None) -> str | None:
    """``scheme://host[:port]`` of the map's tile URL template, or None without one.
    The template's ``{s}`` subdomain placeholder becomes a ``*.`` wildcard."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"TILE_URL must be an http(s) URL template, not {tile_url!r}")
    host = parts.netloc.replace("{s}.", "*.")
    return f"{parts.scheme}://{host}"


def content_security_policy(config: Mapping) -> str:
    """The kiosk's Content-Security-Policy for ``config`` (its ``TILE_URL``)."""
    images = ["'self'", "data:"]
    origin = tile_origin(config.get("TILE_URL"))
    if origin:
        images.append(origin)
    return "; ".join((*_FIXED_DIRECTIVES, "img-src " + " ".join(images)))


def _add_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", current_app.extensions[__name__])
    for name, value in OTHER_HEADERS.items():
        headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    """Build the policy once (a bad TILE_URL fails at start, not per request)."""
    app.extensions[__name__] = content_security_policy(app.config)
    app.after_request(_add_headers)
