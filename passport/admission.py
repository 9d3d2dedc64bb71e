"""Check-in orchestration: the one path used by ``passport check``, ``/api/v1/check`` and the
desk page, and the member's "where can I go" list.

``check()`` parses and validates the inputs (raising ``CheckInputError`` with a clear
message), loads the cached active list, verifies a card when one is given (CARDS part),
places the member's residence offline (``Residence``: coordinates, a postal code or a place
name), and calls the pure ``rules.decide()``. Unknown institution ids are reasons in the
decision, never exceptions; so is a residence that cannot be placed (``CHECK_RESIDENCE``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlite_utils

from passport import across, places, plan, rules
from passport.geocode import (
    GeocodeError,
    PostalFormatError,
    locate_residence_postal,
    normalize_postal,
)
from passport.ids import is_institution_id
from passport.institutions import ActiveList, load_active, load_actives

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


@dataclass(frozen=True)
class Residence:
    """Where the member lives, as the card (``source="card"``) or the clerk or client
    (``"input"``) gave it, and the point it was placed at (None: not placed, ``note`` says
    why)."""

    source: str
    postal_code: str | None = None
    country: str | None = None
    place: str | None = None  # the place given, or the postal code's area
    point: tuple[float, float] | None = None
    note: str | None = None

    @property
    def located(self) -> bool:
        return self.point is not None

    def to_json(self) -> dict[str, Any]:
        """The decision's ``residence``: what was given and whether it was located."""
        return {"postal_code": self.postal_code, "country": self.country, "place": self.place,
                "lat": self.point[0] if self.point else None,
                "lon": self.point[1] if self.point else None,
                "located": self.located, "source": self.source, "note": self.note}


def place_residence(text: Any, country: str | None = None) -> Residence:
    """A residence by place name (``Markham, ON, CA``) through the offline gazetteer;
    ``country`` is preferred when the name is ambiguous. CheckInputError naming an unknown
    place."""
    try:
        found = places.lookup(text, country=country)
    except places.PlaceError as exc:
        raise CheckInputError(str(exc)) from None
    return Residence("input", country=found.country, place=found.label,
                     point=(found.lat_deg, found.lon_deg))


def postal_residence(postal: str, country: str, source: str = "input") -> Residence:
    """A residence by postal code, placed offline when a table covers it (US ZIP codes,
    Canadian urban postal areas); otherwise not placed, with the reason. CheckInputError
    when the code is not a postal code of that country."""
    try:
        area = locate_residence_postal(postal, country)
    except PostalFormatError as exc:
        raise CheckInputError(str(exc)) from None
    except GeocodeError as exc:
        code, country_code = normalize_postal(postal, country)
        return Residence(source, code, country_code, note=str(exc))
    return Residence(source, area.code, area.country, place=area.area,
                     point=(area.lat_deg, area.lon_deg))


def _split_residence(residence: Any, place: Any) -> tuple[Any, Any]:
    """(coordinates, place name) from ``residence`` (``{"place": ..}`` names a place) and
    ``place``; CheckInputError when both, or an object with both, are given."""
    if isinstance(residence, Mapping) and "place" in residence:
        if set(residence) != {"place"}:
            raise CheckInputError('residence is {"lat", "lon"} or {"place"}, not both')
        if place not in (None, ""):
            raise CheckInputError("give the residence place once")
        residence, place = None, residence["place"]
        if place in (None, ""):
            raise CheckInputError("residence place is empty (e.g. 'Markham, ON')")
    if residence not in (None, "") and place not in (None, ""):
        raise CheckInputError("give the residence as coordinates or a place, not both")
    return residence, place


def _residence(residence: Any, postal: str | None, country: str | None,
               place: Any = None) -> Residence | None:
    """The residence given as input: coordinates (``residence``), a place name (``place``
    or ``residence={"place": ..}``; ``country`` is preferred among places of that name) or
    ``postal`` + ``country``; None when none is given."""
    if residence is None and place is None and not postal and not country:
        return None  # the usual desk call: no residence given
    residence, place = _split_residence(residence, place)
    if postal and (residence not in (None, "") or place not in (None, "")):
        raise CheckInputError("give the residence as coordinates, a postal code or a place, "
                              "not both")
    point = parse_point(residence, "residence")
    if point is not None:
        if country:
            raise CheckInputError("a country was given without a postal code or place")
        return Residence("input", point=point)
    if place not in (None, ""):
        return place_residence(place, country or None)
    if postal:
        if not country:
            raise CheckInputError("a postal code needs its country (e.g. US)")
        return postal_residence(postal, country)
    if country:
        raise CheckInputError("a country was given without a postal code")
    return None


def postal_or_place(text: str | None, country: str | None) -> dict[str, str]:
    """What a person typed in one "ZIP / postal code or town" field, as keyword arguments of
    ``check``/``eligible``: a postal code when it has a digit (every US ZIP code and every
    Canadian postal code has one), else a place name, ``country`` going with either (for a
    place: the country preferred among places of that name)."""
    text = (text or "").strip()
    country = (country or "").strip()
    if not text:
        return {}
    if any(c.isdigit() for c in text):
        return {"postal": text, "country": country}
    return {"residence_place": text, **({"country": country} if country else {})}


def site_today(active: ActiveList, institution_id: str, now: datetime | None = None) -> date:
    """Today (at the instant ``now``, default the real clock) in the site's own time zone
    (UTC when the site or its zone is unknown)."""
    return rules.site_local_today(active.timezone_of(institution_id), now)


# --------------------------------------------------------------------------- check

def _manual_home(home: Any, card: Any, card_image: Any) -> Any:
    """``home`` parsed when the manual flow is used; checks that exactly one of ``home``,
    ``card`` and ``card_image`` is given."""
    count = ((home not in (None, "")) + (card not in (None, ""))
             + (card_image not in (None, "", b"")))
    if count != 1:
        given = [name for name, v in (("home", home), ("card", card), ("card_image", card_image))
                 if v not in (None, "", b"")]
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


def _card_summary(result: CardCheck) -> dict:
    """What the decision says about the card: valid, its reasons, and what it carries."""
    return {"valid": result.valid, "reasons": list(result.reasons),
            **(result.card.to_json() if result.card is not None else {})}


def _card_residence(card: Card) -> Residence | None:
    """The residence the card carries, placed offline when a table covers it (never an
    error: a code that cannot be placed makes the desk ask for the member's town)."""
    if not (card.postal_code and card.country):
        return None
    try:
        return postal_residence(card.postal_code, card.country, source="card")
    except CheckInputError as exc:
        return Residence("card", card.postal_code, card.country, note=str(exc))


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
    residence_place: str | None = None,
    on: Any = None,
    expires: Any = None,
    party: Any = None,
    membership: str | None = None,
    program: str | None = None,
    profile: str | None = None,
    now: datetime | None = None,
) -> rules.Decision:
    """Decide one visit. Exactly one of ``home`` (manual flow: staff read the printed card),
    ``card`` (a scanned payload) or ``card_image`` (path or bytes of a photo of the card).

    ``program`` (or ``profile``) decides under that program alone (``PROGRAM_NOT_ON_CARD``
    when a scanned card does not name it); without it, under every program the home, the
    site and the card share (``passport.across``), best benefit first.
    The residence (``residence``, ``residence_place``, ``postal`` + ``country``, else the
    card's: see ``_residence``) is placed offline; one not placed leaves ``CHECK_RESIDENCE``
    on an admission. ``on`` defaults to the date of ``now`` at the visited site. Raises
    ``CheckInputError`` for malformed input, ``NoActiveList`` when no list is published.
    """
    visit = parse_id(visit, "visit")
    home = _manual_home(home, card, card_image)
    visit_on, expires_on = _visit_and_expiry(on, expires, manual=bool(home))
    if membership is not None and membership not in rules.MEMBERSHIPS:
        raise CheckInputError(f"membership must be one of {sorted(rules.MEMBERSHIPS)}")
    party_obj = parse_party(party)
    given = _residence(residence, postal, country, residence_place)
    actives = _program_lists(db, program or profile)
    if visit_on is None:
        visit_on = site_today(_listing(actives, visit), visit, now)

    card_reasons, card_json = [], None
    programs = None  # the card's programs; None: a printed card, any program
    if not home:
        result = _read_card(db, card, card_image, visit_on)
        card_reasons, card_json = list(result.reasons), _card_summary(result)
        programs = _card_programs(result.card)
        if result.card is not None:
            home, expires_on = result.card.issuer_id, result.card.expires
            membership = membership or result.card.membership
            given = given or _card_residence(result.card)

    facts = {"on": visit_on, "expires": expires_on, "party": party_obj,
             "residence": given.point if given else None, "membership": membership,
             "card": card_json, "card_reasons": card_reasons, "manual": card_json is None,
             "residence_given": given.to_json() if given else None}
    try:
        return _decide(db, actives, visit, home or None, programs, facts)
    except ValueError as exc:  # out-of-range residence caught by the engine
        raise CheckInputError(str(exc)) from None


def _decide(db: sqlite_utils.Database, actives: list[ActiveList], visit: str,
            home: str | None, programs: tuple[str, ...] | None, facts: dict
            ) -> rules.Decision:
    """``rules.decide`` under the one program given, or across the programs shared;
    ``programs`` (the card's; None: a printed card) limits both."""
    if (programs is not None and home is not None  # a card read: its programs are known
            and not any(a.profile.name in programs for a in actives)):
        # The card qualifies for no program with a list here: never another program's benefit.
        facts = {**facts, "card_reasons": [*facts["card_reasons"], rules.PROGRAM_NOT_ON_CARD]}

    def decide_one(active: ActiveList, visit_id: str, home_id: str | None) -> rules.Decision:
        return rules.decide(active, visit_id, home_id, **facts)

    if len(actives) == 1:
        return decide_one(actives[0], visit, home)
    return across.decide_across(actives, crosswalk_links(db), visit, home, programs,
                               decide_one)


def _program_lists(db: sqlite_utils.Database, program: str | None) -> list[ActiveList]:
    """The active list of ``program``, or of every program with one (NoActiveList when
    none is published)."""
    if program is not None:
        return [load_active(db, program)]
    actives = load_actives(db)
    if not actives:
        return [load_active(db, rules.DEFAULT_PROFILE_NAME)]  # raises NoActiveList
    return actives


def _listing(actives: list[ActiveList], institution_id: str) -> ActiveList:
    """The first program list that has the institution (for its time zone), else the first."""
    return next((a for a in actives if institution_id in a.by_id), actives[0])


def _card_programs(card: Card | None) -> tuple[str, ...]:
    """The programs a card's membership qualifies for (version 1 cards, and a card that
    could not be read: the default program)."""
    return card.programs if card is not None else (rules.DEFAULT_PROFILE_NAME,)


def crosswalk_links(db: sqlite_utils.Database) -> across.Links:
    """The crosswalk between the programs' lists (``passport.crosswalk``)."""
    from passport import crosswalk  # cached in sys.modules: a dict lookup per check

    return crosswalk.load(db)


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


def located_residence(residence: Any = None, postal: str | None = None,
                      country: str | None = None, place: Any = None) -> Residence | None:
    """The residence given as to ``check`` (coordinates, a postal code or a place), placed
    offline; None when none is given. Unlike a check, a member's list needs the point: one
    that cannot be placed is a CheckInputError asking for a town instead."""
    given = _residence(residence, postal, country, place)
    if given is not None and not given.located:
        raise CheckInputError(f"cannot place {given.postal_code} ({given.country}) offline "
                              f"({given.note}): give a town instead")
    return given


def eligible(
    db: sqlite_utils.Database,
    home: str,
    *,
    residence: Any = None,
    postal: str | None = None,
    country: str | None = None,
    residence_place: str | None = None,
    near: Any = None,
    limit: int | None = None,
    profile: str = rules.DEFAULT_PROFILE_NAME,
) -> dict[str, Any]:
    """Which participating sites a member of ``home`` may visit free, nearest first.

    Every site is decided by the same rules as a check (``plan.decide_all``, held equal to
    ``rules.decide()`` site by site in the tests, so the list and the desk always agree).
    Sorted by distance from ``near`` (lat, lon) when given, else from home. ``limit`` caps
    the eligible list (``eligible_count`` is the uncapped number); the home institution
    itself is in neither list. The residence is given as to ``check``; one that cannot be
    placed is an error here (a member is asked for a town instead). Raises
    ``UnknownInstitution`` for a home not on the list.
    """
    home = parse_id(home, "home")
    given = located_residence(residence, postal, country, residence_place)
    point = given.point if given else None
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
        "residence": given.to_json() if given else None,
        "near": {"lat": near_point[0], "lon": near_point[1]} if near_point else None,
        "eligible_count": len(ok),
        "eligible": ok[:limit] if limit is not None else ok,
        "ineligible": not_ok,
    }
