"""gzip for the kiosk's HTML and JSON answers, when the client accepts it.

A plain ``after_request`` rather than a package (Flask-Compress): the kiosk needs one
encoding for a handful of text types, ``gzip`` is in the standard library, and 40 lines keep
the rules visible: only whole in-memory bodies (streamed files and ``send_file`` pass
through: static files are cached by browsers), only text types, only from ``MIN_BYTES``,
never twice; ``Vary: Accept-Encoding`` on every answer that could have been compressed, and
a strong ETag becomes weak, since the compressed bytes differ. The member planner's page goes
from ~150 KB to ~20 KB on the wire (``passport bench``, section ``bench/planner.py``).
"""

from __future__ import annotations

import gzip

from flask import Flask, Response, request

COMPRESSIBLE = frozenset({
    "text/html", "text/css", "text/plain", "text/javascript", "application/javascript",
    "application/json", "application/geo+json", "application/manifest+json",
    "image/svg+xml",
})
MIN_BYTES = 1024  # below this the headers cost more than gzip saves
LEVEL = 6  # zlib's default: within a few % of 9 on HTML, at about a third of the time


def _gzip(response: Response) -> Response:
    if (response.direct_passthrough or response.is_streamed
            or response.mimetype not in COMPRESSIBLE
            or not 200 <= response.status_code < 300 or response.status_code == 204
            or "Content-Encoding" in response.headers):
        return response
    response.vary.add("Accept-Encoding")
    if not request.accept_encodings["gzip"]:
        return response
    body = response.get_data()
    if len(body) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(etag, weak=True)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_gzip)
