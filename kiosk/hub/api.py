"""The hub's API for sites (``/api/v1``): the signed bundle (ETag / 304), enrolment,
check-in batches and trust uploads. Errors are the kiosk's one JSON shape
``{"error": {"code", "message"}}`` (``kiosk.errors``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from kiosk.errors import ApiError
from kiosk.hub.db import get_pool
from kiosk.security import bearer_token
from passport.hub import bundles, ingest, sites
from passport.hub.signing import current_keys

bp = Blueprint("hub_api", __name__, url_prefix="/api/v1")


def _json_body() -> Any:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # json's C parser at the recursion limit: not a ValueError
        body = None
    if body is None:
        raise ApiError(400, "bad_request", "send a JSON body (Content-Type: application/json)")
    return body


def _site() -> str:
    """The enrolled site the Bearer credential belongs to; 401 otherwise."""
    site = sites.site_for(get_pool(), bearer_token())
    if site is None:
        raise ApiError(401, "unauthorized", "send the credential your site got at enrolment "
                                            "as Authorization: Bearer CREDENTIAL")
    return site


def _hours(name: str) -> timedelta:
    return timedelta(hours=float(current_app.config[name]))


@bp.get("/bundle")
def bundle():
    """The current signed bundle; 304 when ``If-None-Match`` names it."""
    signed = bundles.current(get_pool(), valid_for=_hours("HUB_BUNDLE_VALID_HOURS"),
                             refresh_after=_hours("HUB_BUNDLE_REFRESH_HOURS"))
    if request.if_none_match.contains_weak(signed.etag.strip('"')):  # RFC 9110: weak match
        response = Response(status=304)
    else:
        response = Response(signed.body, mimetype="application/json")
    response.headers["ETag"] = signed.etag
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.post("/enrol")
def enrol():
    body = _json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", 'send {"site": SITE_ID, "token": TOKEN}')
    try:
        return jsonify(sites.enrol(get_pool(), body.get("site"), body.get("token")))
    except sites.EnrolmentRefused as exc:
        raise ApiError(403, "enrolment_refused", str(exc)) from None


@bp.post("/checkins")
def checkins():
    site = _site()
    try:
        return jsonify(ingest.ingest(get_pool(), site, _json_body()))
    except ingest.BatchError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None


@bp.post("/trust")
def trust():
    site = _site()
    try:
        return jsonify(sites.accept_trust(get_pool(), site, _json_body()))
    except sites.TrustNotOwn as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    except sites.TrustInvalid as exc:
        raise ApiError(400, "bad_request", str(exc)) from None


@bp.get("/hub-keys")
def hub_keys():
    """The hub's current public keys (what a site pins; the bundle lists them too)."""
    return jsonify({"hub_keys": current_keys(get_pool())})
