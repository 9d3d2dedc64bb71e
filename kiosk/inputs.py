"""Request inputs for the API and the member pages: JSON types checked here, values handed
to the domain's parsers (``passport.admission``), whose ``CheckInputError`` is the one set
of rules and messages; ``domain_errors`` maps the domain's errors to ``ApiError``."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import request

from kiosk.errors import ApiError
from passport import admission, checkins, institutions, planner, rules

MAX_TEXT_CHARS = 4000


def bad_input(message: str, code: str = "invalid_input") -> ApiError:
    return ApiError(400, code, message)


@contextlib.contextmanager
def domain_errors():
    """Map the domain's input errors to API errors (400; 503 while no list is published)."""
    try:
        yield
    except (admission.CheckInputError, checkins.CheckinError) as exc:
        raise bad_input(str(exc)) from exc
    except institutions.NoActiveList as exc:
        raise ApiError(503, "no_active_list", "no participant list is published yet") from exc
    except institutions.UnknownProfile as exc:
        raise bad_input(str(exc), "unknown_program") from exc


def query_args(args, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters ``args`` (a MultiDict) as one value each, empty ones left out;
    400 naming any parameter not in ``allowed`` or given more than once."""
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise bad_input(f"unknown query parameter{'s' * (len(unknown) > 1)} "
                        f"{', '.join(repr(name) for name in unknown)}; this endpoint takes "
                        f"{', '.join(sorted(allowed))}")
    out = {}
    for name in args:
        values = args.getlist(name)
        if len(values) > 1:
            raise bad_input(f"query parameter {name!r} was given {len(values)} times; "
                            "give it once")
        if values[0].strip():
            out[name] = values[0].strip()
    return out


def json_body() -> dict:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes: not a request of ours
        body = None
    if not isinstance(body, dict):
        raise bad_input("send a JSON object with Content-Type: application/json", "bad_request")
    return body


def json_text(body: dict, name: str, required: bool = False) -> str | None:
    """A string field (the domain judges its content); None when absent or empty."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise bad_input(f"'{name}' is required")
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise bad_input(f"'{name}' must be a string of at most {MAX_TEXT_CHARS} characters")
    return value.strip()


def _json_object(body: dict, name: str, shape: str) -> dict | None:
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise bad_input(f"'{name}' must be an object {shape}")
    return value


def check_arguments(body: dict) -> dict:
    """The keyword arguments of ``passport.admission.check`` from a request body."""
    home, card = json_text(body, "home"), json_text(body, "card")
    if (home is None) == (card is None):
        raise bad_input("send exactly one of 'home' (institution id) or 'card' (QR payload)")
    args: dict[str, Any] = {
        "visit": json_text(body, "visit", required=True), "home": home, "card": card,
        "residence": _json_object(body, "residence",
                                  '{"lat": .., "lon": ..} or {"place": "Town, Region, Country"}'),
        "postal": json_text(body, "postal"), "country": json_text(body, "country"),
        "on": json_text(body, "on"), "expires": json_text(body, "expires"),
        "party": _json_object(body, "party", "{adults, children, named_present}"),
    }
    membership = json_text(body, "membership")
    if membership is not None:
        args["membership"] = membership
    program = json_text(body, "program")
    if program is not None:
        args["program"] = program
    return args


def party_from_size(party_size: int, profile: rules.Profile) -> rules.Party:
    """The party a bare ``party_size`` stands for: the most generous split the program's
    rule allows (up to a group's adults, the rest children), so a decision never denies
    cover that the visitors could have had; a larger party still gets PARTY_TOO_LARGE."""
    max_adults, _ = profile.membership_limits["group"]
    adults = min(party_size, max_adults)
    return rules.Party(adults=adults, children=party_size - adults)


def checkin_arguments(body: dict, profile: rules.Profile) -> tuple[dict, int]:
    """``check_arguments`` plus the party being logged: the decision is made with the party
    (``party``, or ``party_size`` split by ``party_from_size``; both must agree)."""
    args = check_arguments(body)
    with domain_errors():
        party = admission.parse_party(args["party"])
        party_size = (None if body.get("party_size") is None
                      else checkins.check_party_size(body["party_size"]))
    if party is not None and party_size is not None and party.size != party_size:
        raise bad_input(f"'party_size' {party_size} does not match 'party' "
                        f"({party.adults} adults + {party.children} children = {party.size})")
    if party is None:
        party = party_from_size(party_size or 1, profile)
    args["party"] = party
    return args, party.size


def eligible_arguments(args) -> dict:
    """Keyword arguments of ``passport.admission.eligible`` from query parameters: the
    residence as ``residence=LAT,LON``, ``lat``+``lon``, ``place`` (a town, ``country``
    preferred), ``postal`` (+ ``country``, US by default) or ``where`` (the member page's
    one field: a postal code or a town, ``admission.postal_or_place``), and
    ``near=LAT,LON``."""
    home = (args.get("home") or "").strip()
    if not home:
        raise bad_input("'home' is required")
    out: dict[str, Any] = {"home": home, "residence": args.get("residence") or None,
                           "near": args.get("near") or None}
    if args.get("lat") or args.get("lon"):
        if out["residence"]:
            raise bad_input("send the residence once: 'residence' or 'lat'/'lon'")
        out["residence"] = f"{args.get('lat', '')},{args.get('lon', '')}"
    if args.get("postal"):
        out["postal"] = args["postal"].strip()
        out["country"] = (args.get("country") or "US").strip()
    if args.get("place"):
        out["residence_place"] = args["place"].strip()
        if args.get("country"):
            out["country"] = args["country"].strip()
    if args.get("where", "").strip():
        if args.get("postal") or args.get("place"):
            raise bad_input("send the residence once: 'where', 'postal' or 'place'")
        out.update(admission.postal_or_place(args["where"], args.get("country")))
    return out


# The member planner's query (GET /api/v1/plan, its GeoJSON and the planner page).
PLAN_QUERY = ("home", "postal", "country", "place", "where", "lat", "lon", "residence",
              "near", "near_place", "site", "area", "benefit", "no_proof", "program", "limit")
_YES, _NO = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})


def whole_number(args, name: str) -> int | None:
    """Query parameter ``name`` as a whole number >= 1 (None when absent); 400 naming it."""
    text = (args.get(name) or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise bad_input(f"'{name}' must be a whole number >= 1, not {text!r}")
    return int(text)


def plan_arguments(args) -> dict:
    """Keyword arguments of ``passport.planner.member_plan`` from query parameters: the home
    and the residence as ``eligible_arguments`` reads them, where the member is going
    (``near=LAT,LON`` or ``near_place``), the ``site`` asked about, ``limit`` and the
    filters ``area`` (US, US-IL), ``benefit`` (free, discount) and ``no_proof`` (1)."""
    out = eligible_arguments(args)
    out["near_place"] = (args.get("near_place") or "").strip() or None
    out["site"] = (args.get("site") or "").strip() or None
    out["limit"] = whole_number(args, "limit")
    no_proof = (args.get("no_proof") or "").strip().lower()
    if no_proof and no_proof not in _YES | _NO:
        raise bad_input(f"'no_proof' must be 1 or 0, not {args.get('no_proof')!r}")
    with domain_errors():
        out["filters"] = planner.Filters(area=(args.get("area") or "").strip() or None,
                                         benefit=(args.get("benefit") or "").strip() or None,
                                         no_proof=no_proof in _YES,
                                         program=(args.get("program") or "").strip() or None)
    return out
