"""JSON API ``/api/v1`` (documented in kiosk/openapi.yaml).

Clients authenticate with ``Authorization: Bearer TOKEN``; the kiosk's own pages use the
signed-in session (plus the CSRF header on writes). Every error is
``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import contextlib
import math
from datetime import date
from typing import Any

from flask import Blueprint, g, jsonify, request

from kiosk.db import get_db
from kiosk.errors import ApiError
from kiosk.security import CSRF_MESSAGE, UNSAFE_METHODS, bearer_token, csrf_ok
from kiosk.site import active_list, program_profile
from passport import admission, auth, checkins, institutions, rules

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_SEARCH_LIMIT = 1000


@bp.before_request
def _authenticate():
    g.api_client = None
    token = bearer_token()
    if token is not None:
        g.api_client = auth.verify_token(get_db(), token)
        if g.api_client is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API token")
        return
    if g.user is None:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer TOKEN or sign in")
    if request.method in UNSAFE_METHODS and not csrf_ok():
        raise ApiError(400, "csrf_failed", CSRF_MESSAGE)


def _actor() -> tuple[str, str]:
    """(staff_user, source) for the log."""
    if g.api_client is not None:
        return f"token:{g.api_client.name}", "api"
    return g.user.username, "desk"


def _key_scope() -> str:
    """Idempotency keys are per client: ``t<token id>`` or ``s:<username>`` (the desk)."""
    if g.api_client is not None:
        return f"t{g.api_client.token_id}"
    return f"s:{g.user.username}"


def _bad(message: str, code: str = "invalid_input") -> ApiError:
    return ApiError(400, code, message)


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _bad("send a JSON object with Content-Type: application/json", "bad_request")
    return body


def _text(body: dict, name: str, required: bool = False, max_chars: int = 4000) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise _bad(f"'{name}' is required")
        return None
    if not isinstance(value, str) or len(value) > max_chars:
        raise _bad(f"'{name}' must be a string of at most {max_chars} characters")
    return value.strip()


def _date(body: dict, name: str) -> date | None:
    text = _text(body, name, max_chars=10)
    if text is None:
        return None
    try:
        return admission.parse_date(text, name)  # strict YYYY-MM-DD, as the CLI
    except admission.CheckInputError as exc:
        raise _bad(f"'{name}' must be a date YYYY-MM-DD, not {text!r}") from exc


def _is_json_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _coord(value: Any, name: str, limit_deg: float, text_ok: bool) -> float:
    """Degrees: a JSON number in a body; query strings (``text_ok``) are parsed."""
    if not (_is_json_number(value) or (text_ok and isinstance(value, str))):
        raise _bad(f"{name} must be a number of degrees, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise _bad(f"{name} must be a number of degrees, not {value!r}") from exc
    if not math.isfinite(number) or abs(number) > limit_deg:
        raise _bad(f"{name} must be between -{limit_deg:g} and {limit_deg:g}, not {value!r}")
    return number


def _lat_lon(lat: Any, lon: Any, what: str, text_ok: bool = False) -> tuple[float, float]:
    return (_coord(lat, f"{what} lat", 90.0, text_ok),
            _coord(lon, f"{what} lon", 180.0, text_ok))


PARTY_FIELDS = ("adults", "children", "named_present")


def _party(body: dict) -> rules.Party | None:
    """``party`` checked field by field here (JSON types: whole numbers, a boolean), so a
    string or a fraction is a 400 naming the field, never silently converted."""
    party = body.get("party")
    if party is None:
        return None
    if not isinstance(party, dict):
        raise _bad("'party' must be an object {adults, children, named_present}")
    unknown = sorted(set(party) - set(PARTY_FIELDS))
    if unknown:
        raise _bad(f"'party' has unknown field(s) {', '.join(unknown)}; "
                   f"use {', '.join(PARTY_FIELDS)}")
    values = {"adults": party.get("adults", 1), "children": party.get("children", 0)}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _bad(f"'party.{name}' must be a whole number >= 0, not {value!r}")
    named_present = party.get("named_present", True)
    if not isinstance(named_present, bool):
        raise _bad(f"'party.named_present' must be true or false, not {named_present!r}")
    try:
        return rules.Party(**values, named_present=named_present)
    except ValueError as exc:
        raise _bad(f"bad 'party': {exc}") from exc


def check_arguments(body: dict) -> dict:
    """The keyword arguments of ``passport.admission.check`` from a request body."""
    visit = _text(body, "visit", required=True, max_chars=200)
    home = _text(body, "home", max_chars=200)
    card = _text(body, "card")
    if (home is None) == (card is None):
        raise _bad("send exactly one of 'home' (institution id) or 'card' (QR payload)")
    args: dict[str, Any] = {"visit": visit, "home": home, "card": card}
    residence = body.get("residence")
    if residence is not None:
        if not isinstance(residence, dict) or not {"lat", "lon"} <= residence.keys():
            raise _bad("'residence' must be an object {\"lat\": .., \"lon\": ..}")
        args["residence"] = _lat_lon(residence["lat"], residence["lon"], "residence")
    args["postal"] = _text(body, "postal", max_chars=20)
    args["country"] = _text(body, "country", max_chars=2)
    if args["postal"] and "residence" in args:
        raise _bad("send either 'residence' or 'postal', not both")
    args["on"] = _date(body, "on")
    args["expires"] = _date(body, "expires")
    args["party"] = _party(body)
    membership = _text(body, "membership", max_chars=20)
    if membership is not None:
        args["membership"] = membership
    return args


@contextlib.contextmanager
def domain_errors():
    """Map the domain's input errors to API errors (400; 503 while no list is published)."""
    try:
        yield
    except admission.CheckInputError as exc:
        raise _bad(str(exc)) from exc
    except institutions.NoActiveList as exc:
        raise ApiError(503, "no_active_list", "no participant list is published yet") from exc


def run_check(args: dict):
    """``passport.admission.check`` on parsed arguments."""
    with domain_errors():
        return admission.check(get_db(), **args)


@bp.post("/check")
def check():
    decision = run_check(check_arguments(_json_body()))
    return jsonify(decision.to_json())


def _party_size(body: dict) -> int | None:
    value = body.get("party_size")
    if value is None:
        return None
    try:
        return checkins.check_party_size(value)
    except checkins.CheckinError as exc:
        raise _bad(str(exc)) from exc


def party_from_size(party_size: int, profile: rules.Profile) -> rules.Party:
    """The party a bare ``party_size`` stands for: the most generous split the 2026 rule
    allows (up to a group's adults, the rest children), so a decision never denies cover
    that the visitors could have had; a larger party still gets PARTY_TOO_LARGE."""
    max_adults, _ = profile.membership_limits["group"]
    adults = min(party_size, max_adults)
    return rules.Party(adults=adults, children=party_size - adults)


def checkin_arguments(body: dict) -> tuple[dict, int]:
    """``check_arguments`` plus the party being logged: the decision is made with the party
    (``party``, or ``party_size`` split by ``party_from_size``; both must agree)."""
    args = check_arguments(body)
    party_size = _party_size(body)
    party = args.get("party")
    if party is not None and party_size is not None and party.size != party_size:
        raise _bad(f"'party_size' {party_size} does not match 'party' "
                   f"({party.adults} adults + {party.children} children = {party.size})")
    if party is None:
        party = party_from_size(party_size or 1, program_profile())
        args["party"] = party
    return args, party.size


@bp.post("/checkins")
def create_checkin():
    key = request.headers.get("Idempotency-Key")
    try:
        # A retry is decided again, so its request facts can be compared with the row
        # logged under the key (checkins.REQUEST_FACTS); a different request is a 422.
        args, party_size = checkin_arguments(_json_body())
        decision = run_check(args)
        staff_user, source = _actor()
        row = checkins.log_checkin(
            get_db(), decision, party_size=party_size, staff_user=staff_user, source=source,
            idempotency_key=key, key_scope=_key_scope(),
        )
    except checkins.IdempotencyKeyReused as exc:
        raise ApiError(422, "idempotency_key_reused", str(exc)) from exc
    except checkins.CheckinError as exc:
        raise _bad(str(exc)) from exc
    return _checkin_response(row, decision.to_json())


def _checkin_response(row: dict, decision: dict):
    replayed = row.pop("replayed", False)
    payload = dict(row)
    if not replayed:
        payload["decision"] = decision
    response = jsonify(payload)
    response.status_code = 200 if replayed else 201
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise _bad(f"'{name}' must be a whole number, not {text!r}") from exc
    if not low <= value <= high:
        raise _bad(f"'{name}' must be {low}-{high}, not {value}")
    return value


@bp.get("/checkins")
def list_checkins():
    limit = _int_arg("limit", 100, 1, checkins.MAX_LIMIT)
    try:
        rows = checkins.list_checkins(
            get_db(), request.args.get("from") or None, request.args.get("to") or None, limit,
            visit=request.args.get("visit") or None,
        )
    except checkins.CheckinError as exc:
        raise _bad(str(exc)) from exc
    return jsonify({"checkins": rows})


def _pair(text: str, name: str) -> tuple[float, float]:
    lat, sep, lon = text.partition(",")
    if not sep:
        raise _bad(f"'{name}' must be LAT,LON, not {text!r}")
    return _lat_lon(lat, lon, name, text_ok=True)


def eligible_arguments(args) -> dict:
    """Keyword arguments of ``passport.admission.eligible`` from query parameters."""
    home = (args.get("home") or "").strip()
    if not home:
        raise _bad("'home' is required")
    out: dict[str, Any] = {"home": home}
    if args.get("residence"):
        out["residence"] = _pair(args["residence"], "residence")
    elif args.get("lat") or args.get("lon"):
        out["residence"] = _lat_lon(args.get("lat"), args.get("lon"), "residence",
                                    text_ok=True)
    if args.get("postal"):
        if "residence" in out:
            raise _bad("send either a residence (lat/lon) or 'postal', not both")
        out["postal"] = args["postal"].strip()[:20]
        out["country"] = (args.get("country") or "US").strip()[:2]
    if args.get("near"):
        out["near"] = _pair(args["near"], "near")
    return out


def run_eligible(kwargs: dict, limit: int | None = None) -> dict:
    with domain_errors():
        return admission.eligible(get_db(), limit=limit, **kwargs)


@bp.get("/eligible")
def eligible():
    kwargs = eligible_arguments(request.args)
    limit = _int_arg("limit", 0, 0, MAX_SEARCH_LIMIT) or None
    return jsonify(run_eligible(kwargs, limit))


@bp.get("/institutions")
def institutions_search():
    limit = _int_arg("limit", 20, 1, MAX_SEARCH_LIMIT)
    text = (request.args.get("q") or "").strip()[:200]
    with domain_errors():
        active = active_list()
        found = institutions.search(get_db(), text or None, limit)
        total = len(found) if len(found) < limit else institutions.count(get_db(), text)
    return jsonify({"list_version": active.version, "total": total,
                    "institutions": [dict(r) for r in found]})
