"""Check-in orchestration: the one path used by ``passport check``, ``/api/v1/check`` and the
desk page, and the member's "where can I go" list.

``check()`` parses and validates the inputs (raising ``CheckInputError`` with a clear
message), loads the cached active list, verifies a card when one is given (CARDS part),
geocodes a postal code offline, and calls the pure ``rules.decide()``. Unknown institution
ids are reasons in the decision, never exceptions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlite_utils

from passport import plan, rules
from passport.geocode import GeocodeError, geocode_postal
from passport.ids import is_institution_id
from passport.institutions import ActiveList, load_active

if TYPE_CHECKING:
    from passport.cards import Card, CardCheck

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CheckInputError(ValueError):
    """A check's input is malformed: an id, a date, coordinates, a party, a postal code."""


class UnknownInstitution(CheckInputError):
    """The institution id is well-formed but not on the active list."""


# --------------------------------------------------------------------------- input parsing

def parse_id(value: Any, what: str) -> str:
    """A well-formed institution id, or CheckInputError naming ``what``."""
    text = value.strip() if isinstance(value, str) else value
    if not is_institution_id(text):
        raise CheckInputError(f"{what} {value!r} is not a valid institution id")
    return text


def parse_date(value: Any, what: str) -> date | None:
    """``None``, a date, or an ISO ``YYYY-MM-DD`` string, else CheckInputError."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise CheckInputError(f"{what} {value!r} is not a date (YYYY-MM-DD)")


def _degrees(value: Any, what: str, limit_deg: float, text_ok: bool) -> float:
    """A finite number of degrees within +-``limit_deg``: a number (not a bool), or text
    when ``text_ok`` (a "LAT,LON" string); else CheckInputError naming ``what``."""
    number_ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not (number_ok or (text_ok and isinstance(value, str))):
        raise CheckInputError(f"{what} must be a number of degrees, not {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise CheckInputError(f"{what} must be a number of degrees, not {value!r}") from None
    if not math.isfinite(number) or abs(number) > limit_deg:
        raise CheckInputError(f"{what} must be between -{limit_deg:g} and {limit_deg:g}, "
                              f"not {value!r}")
    return number


def parse_point(value: Any, what: str) -> tuple[float, float] | None:
    """``None``, a (lat, lon) pair, ``{"lat":..,"lon":..}`` or ``"LAT,LON"``, in degrees;
    else CheckInputError naming ``what`` and the bad part (``residence lat``)."""
    if value is None or value == "":
        return None
    text_ok = isinstance(value, str)
    if text_ok:
        lat, sep, lon = value.partition(",")
        if not sep:
            raise CheckInputError(f"{what} must be LAT,LON in degrees, not {value!r}")
    elif isinstance(value, Mapping):
        lat, lon = value.get("lat"), value.get("lon")
    elif isinstance(value, tuple | list) and len(value) == 2:
        lat, lon = value
    else:
        raise CheckInputError(f"{what} must be LAT,LON in degrees, not {value!r}")
    return (_degrees(lat, f"{what} lat", 90.0, text_ok),
            _degrees(lon, f"{what} lon", 180.0, text_ok))


def parse_party(value: Any) -> rules.Party | None:
    """``None``, a Party, or a mapping with adults/children/named_present."""
    if value is None or isinstance(value, rules.Party):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"adults", "children", "named_present"}
        if unknown:
            raise CheckInputError(f"unknown party field(s): {', '.join(sorted(unknown))}")
        try:
            return rules.Party(**value)
        except (TypeError, ValueError) as exc:
            raise CheckInputError(str(exc)) from None
    raise CheckInputError(f"party {value!r} is not adults/children/named_present")


def _residence(residence: Any, postal: str | None, country: str | None
               ) -> tuple[float, float] | None:
    if residence not in (None, "") and postal:
        raise CheckInputError("give the residence as coordinates or as postal code, not both")
    point = parse_point(residence, "residence")
    if point is not None:
        return point
    if postal:
        if not country:
            raise CheckInputError("a postal code needs its country (e.g. US)")
        try:
            return geocode_postal(postal, country)
        except GeocodeError as exc:
            raise CheckInputError(str(exc)) from None
    if country:
        raise CheckInputError("a country was given without a postal code")
    return None


def site_today(active: ActiveList, institution_id: str, now: datetime | None = None) -> date:
    """Today (at the instant ``now``, default the real clock) in the site's own time zone
    (UTC when the site or its zone is unknown)."""
    return rules.site_local_today(active.timezone_of(institution_id), now)


# --------------------------------------------------------------------------- check

def _manual_home(home: Any, card: Any, card_image: Any) -> Any:
    """``home`` parsed when the manual flow is used; checks that exactly one of ``home``,
    ``card`` and ``card_image`` is given."""
    given = [name for name, v in (("home", home), ("card", card), ("card_image", card_image))
             if v not in (None, "", b"")]
    if len(given) != 1:
        raise CheckInputError("give exactly one of home, card or card image"
                              + (f" (got {', '.join(given)})" if given else ""))
    return parse_id(home, "home") if home not in (None, "") else home


def _visit_and_expiry(on: Any, expires: Any, manual: bool) -> tuple[date | None, date | None]:
    """The visit date and the expiry date, parsed; an expiry date is for the manual flow."""
    visit_on = parse_date(on, "visit date")
    expires_on = parse_date(expires, "expiry date")
    if expires_on is not None and not manual:
        raise CheckInputError("an expiry date is only for the manual flow (the card carries "
                              "its own)")
    return visit_on, expires_on


def _read_card(db: sqlite_utils.Database, card: str | None, card_image: Any,
               on: date) -> CardCheck:
    """Verify the scanned payload, or the QR code in a photo of the card, on date ``on``."""
    from passport import cards  # the cards part loads crypto only when a card is checked

    if card_image not in (None, ""):
        try:
            card = cards.decode_image(card_image)
        except cards.CardImageError as exc:
            raise CheckInputError(str(exc)) from None
    return cards.verify(db, card, on)


def _card_residence(card: Card) -> tuple[float, float] | None:
    """The card's postal code geocoded offline; None when it has none or it is not found."""
    if not (card.postal_code and card.country):
        return None
    try:
        return geocode_postal(card.postal_code, card.country)
    except GeocodeError:
        return None  # staff are prompted to ask for the residence instead


def check(
    db: sqlite_utils.Database,
    visit: str,
    *,
    home: str | None = None,
    card: str | None = None,
    card_image: Any = None,
    residence: Any = None,
    postal: str | None = None,
    country: str | None = None,
    on: Any = None,
    expires: Any = None,
    party: Any = None,
    membership: str | None = None,
    profile: str = rules.DEFAULT_PROFILE_NAME,
    now: datetime | None = None,
) -> rules.Decision:
    """Decide one visit. Exactly one of ``home`` (manual flow: staff read the printed card),
    ``card`` (a scanned payload) or ``card_image`` (path or bytes of a photo of the card).

    ``residence`` is (lat, lon), ``{"lat","lon"}`` or ``"LAT,LON"``; or ``postal`` +
    ``country`` (geocoded offline). ``on`` defaults to the date of ``now`` (an aware
    instant, default the real clock) in the visited site's time zone; ``expires`` (manual
    flow only) adds the expiry check. Raises ``CheckInputError`` for malformed input and
    ``institutions.NoActiveList`` when no list is published.
    """
    visit = parse_id(visit, "visit")
    home = _manual_home(home, card, card_image)
    visit_on, expires_on = _visit_and_expiry(on, expires, manual=bool(home))
    if membership is not None and membership not in rules.MEMBERSHIPS:
        raise CheckInputError(f"membership must be one of {sorted(rules.MEMBERSHIPS)}")
    party_obj = parse_party(party)
    point = _residence(residence, postal, country)

    active = load_active(db, profile)
    if visit_on is None:
        visit_on = site_today(active, visit, now)

    card_reasons: list[str] = []
    card_json: dict | None = None
    if not home:
        result = _read_card(db, card, card_image, visit_on)
        card_reasons = list(result.reasons)
        card_json = {"valid": result.valid, "reasons": list(result.reasons),
                     **(result.card.to_json() if result.card is not None else {})}
        if result.card is not None:
            home = result.card.issuer_id
            expires_on = result.card.expires
            membership = membership or result.card.membership
            if point is None:
                point = _card_residence(result.card)
    try:
        return rules.decide(
            active, visit, home or None, on=visit_on, expires=expires_on, residence=point,
            party=party_obj, membership=membership, card=card_json, card_reasons=card_reasons,
            manual=card_json is None,
        )
    except ValueError as exc:  # out-of-range residence caught by the engine
        raise CheckInputError(str(exc)) from None


# --------------------------------------------------------------------------- eligible

_SITE_FIELDS = ("id", "name", "city", "region", "country", "website", "restrictions",
                "proof_of_residence", "reservation_required", "store_discount_only",
                "local_radius_miles", "local_discount_percent", "latitude", "longitude",
                "timezone")


def _site_entries(active: ActiveList, home: str, point: tuple[float, float] | None,
                  near_miles: Any) -> tuple[list[dict], list[dict]]:
    """Every listed site but ``home``, decided at once (``plan.decide_all``, the same rules
    as ``rules.decide``): (eligible entries, ineligible entries)."""
    decided = plan.decide_all(active, home, point)
    terms = plan.site_terms(active)
    residence_rule = active.profile.residence_rule
    ok: list[dict] = []
    not_ok: list[dict] = []
    for index, site_id in enumerate(active.table.ids):
        if index == decided.home_index:
            continue
        row = active.by_id[site_id]
        entry = {f: row.get(f) for f in _SITE_FIELDS}
        entry["distance_miles"] = float(decided.home_miles[index])
        entry["residence_distance_miles"] = (None if decided.residence_miles is None
                                             else float(decided.residence_miles[index]))
        if near_miles is not None:
            entry["near_miles"] = float(near_miles[index])
        reasons = decided.reasons(index, terms)
        if decided.admit[index]:
            entry["notes"] = reasons[1:]
            entry["staff_checks"] = decided.staff_checks(index, terms, residence_rule)
            ok.append(entry)
        else:
            entry["reasons"] = reasons
            not_ok.append(entry)
    return ok, not_ok


def eligible(
    db: sqlite_utils.Database,
    home: str,
    *,
    residence: Any = None,
    postal: str | None = None,
    country: str | None = None,
    near: Any = None,
    limit: int | None = None,
    profile: str = rules.DEFAULT_PROFILE_NAME,
) -> dict[str, Any]:
    """Which participating sites a member of ``home`` may visit free, nearest first.

    Every site is decided by the same rules as a check (``plan.decide_all``, held equal to
    ``rules.decide()`` site by site in the tests, so the list and the desk always agree).
    Sorted by distance from ``near`` (lat, lon) when given, else from home. ``limit`` caps
    the eligible list (``eligible_count`` is the uncapped number); the home institution
    itself is in neither list. Raises ``UnknownInstitution`` for a home not on the list.
    """
    home = parse_id(home, "home")
    point = _residence(residence, postal, country)
    near_point = parse_point(near, "near")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 0):
        raise CheckInputError(f"limit must be a whole number >= 0, got {limit!r}")
    active = load_active(db, profile)
    home_row = active.by_id.get(home)
    if home_row is None:
        raise UnknownInstitution(f"home institution {home!r} is not on the active list "
                                 f"(version {active.version})")
    near_miles = (active.table.distances_from(*near_point) if near_point is not None
                  else None)
    ok, not_ok = _site_entries(active, home, point, near_miles)
    sort_key = "near_miles" if near_miles is not None else "distance_miles"
    ok.sort(key=lambda e: (e[sort_key], e["id"]))
    not_ok.sort(key=lambda e: (e["distance_miles"], e["id"]))
    return {
        "list_version": active.version,
        "home": {f: home_row.get(f) for f in ("id", "name", "city", "region", "country")},
        "radius_miles": active.profile.radius_miles,
        "residence": {"lat": point[0], "lon": point[1]} if point else None,
        "near": {"lat": near_point[0], "lon": near_point[1]} if near_point else None,
        "eligible_count": len(ok),
        "eligible": ok[:limit] if limit is not None else ok,
        "ineligible": not_ok,
    }
