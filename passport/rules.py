"""Program rules: profiles, parties, and ``decide()`` — the admission decision, pure, no I/O.

A decision carries EVERY reason that applies (not just the first), both distances in miles,
the list version used, how many people the benefit covers and what staff must still check.
``admit`` is True exactly when no *deny* code applies. When admitted, ``ELIGIBLE`` is the
first reason, possibly followed by *note* codes.

Reason codes (stable: the UI, the API, the log and the tests use them)

=========================== ====== =====================================================
code                        kind   when
=========================== ====== =====================================================
ELIGIBLE                    admit  every rule passed (alone when admitted plainly)
HOME_WITHIN_RADIUS          deny   visited site is not more than the radius from home
RESIDENCE_WITHIN_RADIUS     deny   visited site is not more than the radius from the
                                   member's residence (profiles with the residence rule)
SAME_INSTITUTION            deny   visiting the home institution itself
HOME_NOT_PARTICIPATING      deny   home institution not on the active list
VISIT_NOT_PARTICIPATING     deny   visited institution not on the active list
CARD_EXPIRED                deny   card expired before the visit date (site's local date)
CARD_SIGNATURE_INVALID      deny   card signature does not verify (cards part)
CARD_MALFORMED              deny   card payload cannot be read (cards part)
CARD_REVOKED                deny   card or its key revoked (cards part)
KEY_UNKNOWN                 deny   card signed with a key not on the trust list (cards)
NAMED_MEMBER_ABSENT         deny   nobody named on the card is present
PROGRAM_NOT_ON_CARD         deny   the card names no program this store has a list for
                                   (a version 1 card means ASTC only)
PARTY_TOO_LARGE             note   the party is larger than the membership covers; the
                                   benefit covers ``covered`` people, the rest pay
LOCAL_RULE_HONOURED         note   admitted under the site's own smaller radius
                                   (``local_radius_miles``), not the program radius
STORE_DISCOUNT_ONLY         note   free-admission site: the benefit is a store discount
LOCAL_DISCOUNT              note   denied free admission, but the site offers
                                   ``local_discount_percent`` off inside the radius
DISCOUNT_BENEFIT            note   the benefit is a discount on admission (ACM's 50 %,
                                   AZA's half-price tier), not free entry
EVENTS_EXCLUDED             note   no concerts, lectures, special exhibitions or ticketed
                                   events (NARM ``*``)
VENUE_EXCLUDED              note   a venue of the site is excluded (NARM ``##``; terms)
P_HOME_WITHIN_N             deny   a site's own distance term: the home institution is
                                   within N miles (``NARM_HOME_WITHIN_15``, ``_50``)
P_RECIPROCAL_RESTRICTION    deny   NARM ``^``: not extended to members of institutions
                                   whose own term covers this site
=========================== ====== =====================================================

``P`` is the program's name in capitals (``NARM``): those codes are made by
``site_within_code``/``reciprocal_code`` and recognised by ``is_deny``.

Staff checks (``Decision.staff_checks``, only on admission): ``CHECK_PHOTO_ID`` (a photo ID
matches a name on the card), ``CHECK_MEMBER_CARD`` (manual flow: read the printed card's home
institution, expiry and names), ``CHECK_PROOF_OF_RESIDENCE`` (site requires an ID with an
address), ``CHECK_RESIDENCE`` (residence rule applies but the residence is unknown, or was
given but could not be placed),
``CHECK_RESERVATION`` (site requires an advance reservation), ``CHECK_PROGRAM_MARK`` (manual
flow: the card shows the program's mark, ``Profile.card_mark``: an ASTC logo, a NARM sticker).

Party: the program profile holds how many adults and children each kind of membership
covers (``Profile.membership_limits``; ASTC from 1 January 2026: a group membership covers up
to 2 adults, at least one of them named on the card, plus up to 4 children; an individual
membership covers the named cardholder only). The radius and the residence rule are the
profile's too: the profile row in the store is the only home of these numbers.

Hot path: ``decide`` reads the in-memory active list only: the engine's precomputed
beyond-radius matrix and the list's precomputed distance matrix for home/visit pairs; one
exact geodesic (compiled) only for a residence point. No SQL.
"""

from __future__ import annotations

import decimal
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any, Protocol

from passport.words import ENGLISH, N_, Words

ELIGIBLE = "ELIGIBLE"
HOME_WITHIN_RADIUS = "HOME_WITHIN_RADIUS"
RESIDENCE_WITHIN_RADIUS = "RESIDENCE_WITHIN_RADIUS"
SAME_INSTITUTION = "SAME_INSTITUTION"
HOME_NOT_PARTICIPATING = "HOME_NOT_PARTICIPATING"
VISIT_NOT_PARTICIPATING = "VISIT_NOT_PARTICIPATING"
CARD_EXPIRED = "CARD_EXPIRED"
CARD_SIGNATURE_INVALID = "CARD_SIGNATURE_INVALID"
CARD_MALFORMED = "CARD_MALFORMED"
CARD_REVOKED = "CARD_REVOKED"
KEY_UNKNOWN = "KEY_UNKNOWN"
NAMED_MEMBER_ABSENT = "NAMED_MEMBER_ABSENT"
PROGRAM_NOT_ON_CARD = "PROGRAM_NOT_ON_CARD"
PARTY_TOO_LARGE = "PARTY_TOO_LARGE"
LOCAL_RULE_HONOURED = "LOCAL_RULE_HONOURED"
STORE_DISCOUNT_ONLY = "STORE_DISCOUNT_ONLY"
LOCAL_DISCOUNT = "LOCAL_DISCOUNT"

EVENTS_EXCLUDED = "EVENTS_EXCLUDED"
VENUE_EXCLUDED = "VENUE_EXCLUDED"
DISCOUNT_BENEFIT = "DISCOUNT_BENEFIT"

CHECK_PHOTO_ID = "CHECK_PHOTO_ID"
CHECK_MEMBER_CARD = "CHECK_MEMBER_CARD"
CHECK_PROOF_OF_RESIDENCE = "CHECK_PROOF_OF_RESIDENCE"
CHECK_RESIDENCE = "CHECK_RESIDENCE"
CHECK_RESERVATION = "CHECK_RESERVATION"
CHECK_PROGRAM_MARK = "CHECK_PROGRAM_MARK"

# Canonical order of reasons in a decision (stable output for the log and the tests).
REASON_ORDER: tuple[str, ...] = (
    ELIGIBLE, CARD_MALFORMED, CARD_SIGNATURE_INVALID, KEY_UNKNOWN, CARD_REVOKED, CARD_EXPIRED,
    VISIT_NOT_PARTICIPATING, HOME_NOT_PARTICIPATING, SAME_INSTITUTION, HOME_WITHIN_RADIUS,
    RESIDENCE_WITHIN_RADIUS, NAMED_MEMBER_ABSENT, PROGRAM_NOT_ON_CARD, LOCAL_RULE_HONOURED,
    PARTY_TOO_LARGE, STORE_DISCOUNT_ONLY, LOCAL_DISCOUNT, DISCOUNT_BENEFIT, EVENTS_EXCLUDED,
    VENUE_EXCLUDED,
)
_RANK = {code: i for i, code in enumerate(REASON_ORDER)}
DENY_CODES = frozenset({
    HOME_WITHIN_RADIUS, RESIDENCE_WITHIN_RADIUS, SAME_INSTITUTION, HOME_NOT_PARTICIPATING,
    VISIT_NOT_PARTICIPATING, CARD_EXPIRED, CARD_SIGNATURE_INVALID, CARD_MALFORMED,
    CARD_REVOKED, KEY_UNKNOWN, NAMED_MEMBER_ABSENT, PROGRAM_NOT_ON_CARD,
})
NOTE_CODES = frozenset({PARTY_TOO_LARGE, LOCAL_RULE_HONOURED, STORE_DISCOUNT_ONLY,
                        LOCAL_DISCOUNT, DISCOUNT_BENEFIT, EVENTS_EXCLUDED, VENUE_EXCLUDED})
STAFF_CHECK_CODES = (CHECK_PHOTO_ID, CHECK_MEMBER_CARD, CHECK_PROGRAM_MARK,
                     CHECK_PROOF_OF_RESIDENCE, CHECK_RESIDENCE, CHECK_RESERVATION)


# A site's own distance terms (NARM's ``**``/``#``, ROAM's ``+``) deny with a code named by
# the program and the miles, e.g. ``NARM_HOME_WITHIN_15``; NARM's ``^`` with
# ``NARM_RECIPROCAL_RESTRICTION``. They are deny codes like the fixed ones.
_SITE_WITHIN = re.compile(r"^[A-Z0-9_]+_HOME_WITHIN_\d+(?:\.\d+)?$")
_RECIPROCAL_SUFFIX = "_RECIPROCAL_RESTRICTION"


def _program_prefix(program: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", program.upper())


def site_within_code(program: str, miles: float) -> str:
    """The deny code of a site's own distance term: ``NARM_HOME_WITHIN_15``."""
    return f"{_program_prefix(program)}_HOME_WITHIN_{miles:g}"


def reciprocal_code(program: str) -> str:
    """The deny code of NARM's ``^``: ``NARM_RECIPROCAL_RESTRICTION``."""
    return _program_prefix(program) + _RECIPROCAL_SUFFIX


def is_deny(code: str) -> bool:
    """Whether ``code`` denies admission (the fixed deny codes and the per-site ones)."""
    return (code in DENY_CODES or code.endswith(_RECIPROCAL_SUFFIX)
            or _SITE_WITHIN.match(code) is not None)

REASON_TEXT: dict[str, str] = {
    ELIGIBLE: "Eligible: free general admission under the program.",
    HOME_WITHIN_RADIUS: "Not eligible: this site is within the program distance of the "
                        "member's home institution.",
    RESIDENCE_WITHIN_RADIUS: "Not eligible: this site is within the program distance of the "
                             "member's home address.",
    SAME_INSTITUTION: "Not eligible: this is the member's own home institution.",
    HOME_NOT_PARTICIPATING: "Not eligible: the member's home institution is not on the "
                            "current participant list.",
    VISIT_NOT_PARTICIPATING: "Not eligible: this site is not on the current participant list.",
    CARD_EXPIRED: "Not eligible: the membership card has expired.",
    CARD_SIGNATURE_INVALID: "Not eligible: the card's signature does not verify; it may have "
                            "been altered.",
    CARD_MALFORMED: "The card code cannot be read; scan again or check the card by hand.",
    CARD_REVOKED: "Not eligible: the card has been revoked by the issuing institution.",
    KEY_UNKNOWN: "The card was signed with a key this desk does not know; update the trust "
                 "list or check the card by hand.",
    NAMED_MEMBER_ABSENT: "Not eligible: a person named on the card must be present.",
    PROGRAM_NOT_ON_CARD: "Not eligible: the card does not name a program this desk has a "
                         "list for; the membership does not qualify here.",
    PARTY_TOO_LARGE: "The membership does not cover the whole party; the others pay "
                     "admission.",
    LOCAL_RULE_HONOURED: "Eligible under this site's own shorter distance rule.",
    STORE_DISCOUNT_ONLY: "Admission here is free for everyone; the member benefit is a store "
                         "discount.",
    LOCAL_DISCOUNT: "This site offers members from nearby a discount on admission.",
    CHECK_PHOTO_ID: "Check a photo ID matches a name on the card.",
    CHECK_MEMBER_CARD: "Check the printed membership card: home institution, expiry date, and "
                       "a name matching a photo ID.",
    CHECK_PROOF_OF_RESIDENCE: "This site requires proof of residence: check an ID showing the "
                              "member's address.",
    CHECK_RESIDENCE: "Ask where the member lives: members living within the program distance "
                     "of this site are not eligible.",
    CHECK_RESERVATION: "This site requires an advance reservation: check the booking.",
    CHECK_PROGRAM_MARK: "Check the membership card shows the program's mark.",
    EVENTS_EXCLUDED: "The benefit does not cover concerts, lectures, special exhibitions or "
                     "other ticketed events here.",
    VENUE_EXCLUDED: "Part of this site is excluded from the benefit: see the site's terms.",
    DISCOUNT_BENEFIT: "The benefit here is a discount on admission, not free entry.",
}


# What an admission gives, for staff (``Decision.text_of``).
BENEFIT_TEXT = {
    "general_admission": "free general admission",
    "member_admission": "member admission (the host's member price, often free)",
    "discount": "a discount on admission",
    "store_discount": "a store discount (admission here is free for everyone)",
}


def reason_text(code: str, card_mark: str | None = None) -> str:
    """Staff text of any code, the per-site deny codes included; ``card_mark`` names what
    the program's card must show (for ``CHECK_PROGRAM_MARK``)."""
    if code == CHECK_PROGRAM_MARK and card_mark:
        return f"Check the membership card shows: {card_mark}."
    if code in REASON_TEXT:
        return REASON_TEXT[code]
    if code.endswith(_RECIPROCAL_SUFFIX):
        return ("Not eligible: this site does not extend the benefit to members of "
                "institutions that restrict its own members, and the member's home "
                "institution does (within its own distance term).")
    if _SITE_WITHIN.match(code):
        miles = code.rsplit("_", 1)[1]
        return (f"Not eligible: this site does not extend the benefit to members whose home "
                f"institution is within {miles} miles.")
    return code

# The same codes in a member's own words, for the member pages (/eligible, /card): what to
# bring or expect at the desk, never what staff should check. Every staff check and note
# code has one, and so has every reason a card can fail with.
MEMBER_TEXT: dict[str, str] = {  # N_: English here, translated where shown (the kiosk)
    CHECK_PHOTO_ID: N_("Bring a photo ID: the desk checks that it matches a name on your "
                       "card."),
    CHECK_MEMBER_CARD: N_("Bring your printed membership card and a photo ID."),
    CHECK_PROOF_OF_RESIDENCE: N_("This site asks for proof of residence: bring an ID that "
                                 "shows your address."),
    CHECK_RESIDENCE: N_("The desk may ask where you live: members living within the program "
                        "distance of this site are not eligible."),
    CHECK_RESERVATION: N_("This site requires an advance reservation: book before you go."),
    PARTY_TOO_LARGE: N_("Your membership does not cover your whole party; the others pay "
                        "admission."),
    LOCAL_RULE_HONOURED: N_("You are welcome here under this site's own shorter distance "
                            "rule."),
    STORE_DISCOUNT_ONLY: N_("Admission here is free for everyone; your member benefit is a "
                            "store discount."),
    LOCAL_DISCOUNT: N_("Not free for you, but this site offers members from nearby a "
                       "discount on admission."),
    CARD_EXPIRED: N_("The membership card has expired."),
    CARD_SIGNATURE_INVALID: N_("The card code does not verify: it may have been changed or "
                               "copied wrongly."),
    CARD_MALFORMED: N_("The card code cannot be read: check that you copied all of it."),
    CARD_REVOKED: N_("This card has been cancelled by your home site."),
    KEY_UNKNOWN: N_("This card was signed with a key the desks do not know yet."),
    CHECK_PROGRAM_MARK: N_("Bring a membership card that shows the program's mark."),
    EVENTS_EXCLUDED: N_("Concerts, lectures, special exhibitions and other ticketed events "
                        "are not included here."),
    VENUE_EXCLUDED: N_("Part of this site is not included: see its terms."),
    DISCOUNT_BENEFIT: N_("Your benefit here is a discount on admission, not free entry."),
}

MEMBERSHIPS = ("group", "individual")  # the kinds of membership a card or a clerk names
MAX_PARTY = 50  # the most people one check-in records (a bound of the log, not a program rule)
DEFAULT_PROFILE_NAME = "astc"  # the program a command or page means when it names none


# What an admission can give, best first: the order "best benefit" ranks programs by.
BENEFITS = ("general_admission", "member_admission", "discount", "store_discount")
# How a program's distance rule reads (the profile row's ``distance_rule``).
DISTANCE_RULES = ("none", "home", "home_and_residence", "per_site")


@dataclass(frozen=True)
class Profile:
    """A reciprocal program as data: its distance rule and radius (0: no program radius),
    whether the residence rule applies, how many (adults, children) each kind of membership
    covers, what an admission gives, what the card must show, and the list's validity."""

    name: str
    title: str
    radius_miles: float
    residence_rule: bool
    membership_limits: Mapping[str, tuple[int, int]]
    distance_rule: str = "home_and_residence"
    benefit: str = "general_admission"
    discount_percent: float | None = None
    card_mark: str | None = None
    min_membership: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    sort_order: int = 100

    @property
    def group_party_size(self) -> int:
        """How many people a group membership covers (what a group card carries)."""
        return sum(self.membership_limits["group"])

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Profile:
        limits = {kind: (int(row[f"{kind}_max_adults"]), int(row[f"{kind}_max_children"]))
                  for kind in MEMBERSHIPS}
        discount = row.get("discount_percent")
        return cls(name=row["name"], title=row["title"], radius_miles=float(row["radius_miles"]),
                   residence_rule=bool(row["residence_rule"]),
                   membership_limits=MappingProxyType(limits),
                   distance_rule=row.get("distance_rule") or (
                       "home_and_residence" if row["residence_rule"] else "home"),
                   benefit=row.get("benefit") or "general_admission",
                   discount_percent=float(discount) if discount is not None else None,
                   card_mark=row.get("card_mark"), min_membership=row.get("min_membership"),
                   valid_from=row.get("valid_from"), valid_until=row.get("valid_until"),
                   sort_order=int(row.get("sort_order") or 100))

    @property
    def has_radius(self) -> bool:
        """Whether a program-wide distance from home applies (``home`` rules)."""
        return self.distance_rule in ("home", "home_and_residence") and self.radius_miles > 0


def benefit_sentence(profile: Profile) -> str:
    """The program's rule in one sentence for a printed or phone card."""
    where = "home institution and from your residence" if profile.residence_rule \
        else "home institution"
    return (f"{profile.title}: free general admission at participating science centers and "
            f"museums more than {profile.radius_miles:g} miles from your {where}. "
            "Show this card with a photo ID.")


@dataclass(frozen=True)
class Party:
    """Who is at the desk: adults, children, and whether someone named on the card is there."""

    adults: int = 1
    children: int = 0
    named_present: bool = True

    def __post_init__(self) -> None:
        for name in ("adults", "children"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"party.{name} must be a whole number >= 0, not {value!r}")
        if not isinstance(self.named_present, bool):
            raise ValueError(f"party.named_present must be true or false, "
                             f"not {self.named_present!r}")
        if self.adults + self.children < 1:
            raise ValueError("a party has at least one person")
        if self.adults + self.children > MAX_PARTY:
            raise ValueError(f"a party has at most {MAX_PARTY} people")

    @property
    def size(self) -> int:
        return self.adults + self.children


DEFAULT_PARTY = Party()


class ActiveListLike(Protocol):
    """What decide() reads: see ``passport.institutions.ActiveList``."""

    version: int
    profile: Profile
    table: Any
    by_id: dict[str, dict]

    def distance_miles(self, id_a: str, id_b: str) -> float: ...


@dataclass
class Decision:
    """The outcome of one check: admit or not, every reason, distances, what to check."""

    admit: bool
    reasons: list[str]
    home_distance_miles: float | None
    residence_distance_miles: float | None
    list_version: int | None
    visit: str
    home: str | None
    on: date | None = None
    covered: int = 0
    party_size: int = 1
    staff_checks: list[str] = field(default_factory=list)
    terms: str | None = None
    card: dict | None = None
    benefit: str | None = None
    discount_percent: float | None = None
    radius_miles: float | None = None
    visit_name: str | None = None
    home_name: str | None = None
    residence: dict | None = None  # the residence the card or the clerk gave (see decide)
    program: str | None = None  # the program decided under (its profile's name)
    program_title: str | None = None
    card_mark: str | None = None  # what the program's card must show
    distance_precision: str | None = None  # "city" when a distance is from a city's centre
    # Across programs (admission.check without a program): every program decided, this
    # one included, best first; empty for a single program's decision.
    programs: list[Decision] = field(default_factory=list)

    @property
    def best(self) -> dict[str, Any] | None:
        """The best benefit among the programs decided (``{"program", "benefit",
        "discount_percent"}``), None when no program admits."""
        for decision in self.programs or [self]:
            if decision.admit:
                return {"program": decision.program, "benefit": decision.benefit,
                        "discount_percent": decision.discount_percent}
        return None

    def text_of(self, code: str) -> str:
        """Staff text of one of this decision's codes; ``ELIGIBLE`` names what the program
        gives here when it is not free general admission (NARM's member admission, a
        discount, a store discount)."""
        if code == ELIGIBLE and self.benefit not in (None, "general_admission"):
            what = BENEFIT_TEXT.get(self.benefit, self.benefit)
            if self.discount_percent:
                what = f"{self.discount_percent:g} % off admission"
            return f"Eligible: {what} under {self.program_title or 'the program'}."
        return reason_text(code, self.card_mark)

    def summary_json(self) -> dict[str, Any]:
        """One program's part of a decision across programs."""
        codes = [*self.reasons, *self.staff_checks]
        return {
            "program": self.program, "program_title": self.program_title,
            "admit": self.admit, "reasons": list(self.reasons), "benefit": self.benefit,
            "discount_percent": self.discount_percent, "covered": self.covered,
            "home": self.home, "visit": self.visit,
            "home_distance_miles": self.home_distance_miles,
            "residence_distance_miles": self.residence_distance_miles,
            "radius_miles": self.radius_miles, "list_version": self.list_version,
            "distance_precision": self.distance_precision,
            "staff_checks": list(self.staff_checks), "terms": self.terms,
            "text": {code: self.text_of(code) for code in codes},
        }

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: admit, reasons, both distances and the list version first, then
        what the pages and the log show besides."""
        codes = [*self.reasons, *self.staff_checks]
        return {
            "admit": self.admit,
            "reasons": list(self.reasons),
            "home_distance_miles": self.home_distance_miles,
            "residence_distance_miles": self.residence_distance_miles,
            "list_version": self.list_version,
            "visit": self.visit,
            "visit_name": self.visit_name,
            "home": self.home,
            "home_name": self.home_name,
            "on": self.on.isoformat() if self.on else None,
            "radius_miles": self.radius_miles,
            "covered": self.covered,
            "party_size": self.party_size,
            "benefit": self.benefit,
            "discount_percent": self.discount_percent,
            "staff_checks": list(self.staff_checks),
            "terms": self.terms,
            "card": self.card,
            "residence": self.residence,
            "text": {code: self.text_of(code) for code in codes},
            "program": self.program,
            "program_title": self.program_title,
            "distance_precision": self.distance_precision,
            "best": self.best,
            "programs": [d.summary_json() for d in self.programs or [self]],
        }


# Within this many miles of the radius, distances show two decimals instead of one, so an
# admission (more than the radius) and a denial (the radius or less) never look the same.
NEAR_RADIUS_MILES = 1.0


def format_miles(dist_miles: float | None, radius_miles: float | None,
                 words: Words = ENGLISH) -> str:
    """Distance text for people (no unit), the one rule of the CLI, the pages (Jinja filter
    ``miles``) and the desk (mirrored in kiosk/static/miles.js): one decimal, two within
    1 mile of the radius; a distance beyond the radius that would still round to it reads
    ``more than R``. ``radius_miles`` is the decision's (None: no radius applies);
    ``words`` the language (its decimal mark, "more than")."""
    if dist_miles is None:
        return ""
    if radius_miles is None:
        return words.number(str(decimal.Decimal(dist_miles).quantize(
            decimal.Decimal("0.1"), decimal.ROUND_HALF_UP)))
    radius = float(radius_miles)
    decimals = 2 if abs(dist_miles - radius) <= NEAR_RADIUS_MILES else 1
    # Half up on the float's exact value: what JavaScript's toFixed does in miles.js.
    step = decimal.Decimal(1).scaleb(-decimals)
    text = str(decimal.Decimal(dist_miles).quantize(step, decimal.ROUND_HALF_UP))
    if dist_miles > radius and float(text) <= radius:
        return words.gettext("more than %(radius)s") % {"radius": words.number(f"{radius:g}")}
    return words.number(text)


def site_local_today(timezone_name: str | None, now: datetime | None = None) -> date:
    """The date of the instant ``now`` (aware; default: the real clock) in an IANA time zone
    (UTC when the zone is missing or unknown)."""
    try:
        zone = zoneinfo.ZoneInfo(timezone_name) if timezone_name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = None
    return (now or datetime.now(UTC)).astimezone(zone or UTC).date()


def covered_people(party: Party, membership: str | None, profile: Profile) -> int:
    """How many of the party the membership covers (0 when no named member is present)."""
    if not party.named_present:
        return 0
    max_adults, max_children = profile.membership_limits[membership or "group"]
    # the named cardholder present is always covered, even when a child
    return max(1, min(party.adults, max_adults) + min(party.children, max_children))


def _admits(reasons: set[str]) -> bool:
    """No deny code among ``reasons`` (the per-site codes looked at only when present)."""
    if reasons & DENY_CODES:
        return False
    return not (reasons - _RANK.keys() and any(is_deny(code) for code in reasons))


def _reason_rank(code: str) -> tuple[int, int, str]:
    if code not in _RANK and is_deny(code):
        # a site's own distance terms, right after the program's; by name among themselves
        return _RANK[HOME_WITHIN_RADIUS], 1, code
    return _RANK.get(code, len(_RANK)), 0, code


def _beyond(table: Any, home_row: Mapping[str, Any], visit: str, miles: float) -> bool:
    # Off the precomputed radius (a site's own smaller radius, another program's radius):
    # one exact geodesic with the engine's boundary rule, so exactly-at-radius is within.
    return table.distance_and_beyond_from_point(home_row["latitude"], home_row["longitude"],
                                                visit, miles)[1]


# Each step of decide() below adds the reason codes it finds to the decision's ``reasons``.

def _listed_rows(active: ActiveListLike, visit: str, home: str | None, reasons: set[str]
                 ) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """The visited and home institutions' rows, None for an id not on the active list
    (adds ``VISIT_NOT_PARTICIPATING`` or ``HOME_NOT_PARTICIPATING``)."""
    visit_row = active.by_id.get(visit)
    home_row = active.by_id.get(home) if home is not None else None
    if visit_row is None:
        reasons.add(VISIT_NOT_PARTICIPATING)
    if home is not None and home_row is None:
        reasons.add(HOME_NOT_PARTICIPATING)
    return visit_row, home_row


def _site_radius(visit_row: Mapping[str, Any] | None, profile: Profile) -> float | None:
    """The radius at the visited site: its own ``local_radius_miles`` when smaller than the
    program's; None when the program has no radius (its sites' own terms may still apply)."""
    if not profile.has_radius:
        return None
    radius = profile.radius_miles
    local = visit_row.get("local_radius_miles") if visit_row is not None else None
    return local if local is not None and local < radius else radius


def _site_terms(active: ActiveListLike, visit: str, visit_row: Mapping[str, Any],
                home_row: Mapping[str, Any], reasons: set[str]) -> None:
    """A site's own distance terms, for programs whose lists carry them: no benefit when
    the home institution is within the site's ``site_home_within_miles`` (NARM ``**``,
    ``#``), nor when the site does not extend it to institutions that restrict it
    (``reciprocal_restriction``, NARM ``^``) and the home's own term covers this site.
    Exactly at the miles is within, as for the program radius."""
    program = active.profile.name
    within = visit_row.get("site_home_within_miles")
    if within and not _beyond(active.table, home_row, visit, float(within)):
        reasons.add(site_within_code(program, float(within)))
    home_within = home_row.get("site_home_within_miles")
    if (visit_row.get("reciprocal_restriction") and home_within
            and not _beyond(active.table, home_row, visit, float(home_within))):
        reasons.add(reciprocal_code(program))


def _home_rule(active: ActiveListLike, visit: str, home: str, home_row: Mapping[str, Any],
               site_radius: float | None, reasons: set[str]) -> float:
    """The home rule for a listed visit and home; returns the miles from home.

    Adds ``SAME_INSTITUTION`` or ``HOME_WITHIN_RADIUS``, or ``LOCAL_RULE_HONOURED`` when the
    site is beyond only its own smaller radius; nothing when beyond the program radius or
    when the program has none (``site_radius`` None).
    """
    if visit == home:
        reasons.add(SAME_INSTITUTION)
        return 0.0
    table = active.table
    radius = active.profile.radius_miles
    home_miles = active.distance_miles(home, visit)
    if site_radius is None:
        return home_miles
    if radius == table.radius_miles:
        beyond_program = table.beyond(home, visit)  # precomputed, no trigonometry
    else:
        beyond_program = _beyond(table, home_row, visit, radius)
    if not beyond_program:
        if site_radius < radius and _beyond(table, home_row, visit, site_radius):
            reasons.add(LOCAL_RULE_HONOURED)
        else:
            reasons.add(HOME_WITHIN_RADIUS)
    return home_miles


def _residence_rule(active: ActiveListLike, visit: str, residence: tuple[float, float],
                    site_radius: float | None, reasons: set[str]) -> float:
    """The residence rule for a listed visit; returns the miles from the residence (one
    exact geodesic, compiled).

    Only under a profile with the residence rule: adds ``RESIDENCE_WITHIN_RADIUS``, or
    ``LOCAL_RULE_HONOURED`` when the site is beyond only its own smaller radius.
    """
    table = active.table
    profile = active.profile
    lat_deg, lon_deg = residence
    residence_miles, beyond = table.distance_and_beyond_from_point(
        lat_deg, lon_deg, visit, profile.radius_miles)
    if profile.residence_rule and site_radius is not None and not beyond:
        if site_radius < profile.radius_miles and table.distance_and_beyond_from_point(
                lat_deg, lon_deg, visit, site_radius)[1]:
            reasons.add(LOCAL_RULE_HONOURED)
        else:
            reasons.add(RESIDENCE_WITHIN_RADIUS)
    return residence_miles


def _expiry_and_presence(reasons: set[str], visit_row: Mapping[str, Any] | None,
                         on: date | None, expires: date | None, party: Party) -> date | None:
    """The visit date (default: today at the visited site); adds ``CARD_EXPIRED`` and
    ``NAMED_MEMBER_ABSENT``."""
    if on is None and visit_row is not None:
        # Not I/O, but the clock: the visit is today at the visited site, as at the desk.
        on = site_local_today(visit_row.get("timezone"))
    if expires is not None and on is not None and on > expires:
        reasons.add(CARD_EXPIRED)
    if not party.named_present:
        reasons.add(NAMED_MEMBER_ABSENT)
    return on


# Denials after which a site may still offer members from nearby its discount.
_DISTANCE_DENIALS = frozenset({HOME_WITHIN_RADIUS, RESIDENCE_WITHIN_RADIUS})

# AZA's benefit tiers (a list's ``benefit_tier``): free to members of full and free-to-public
# homes, half price to members of half-price homes; half-price sites give half to all.
FULL_TIER, HALF_TIER, FREE_TO_PUBLIC_TIER = "100%", "50%", "free-to-public"
TIERS = (FULL_TIER, HALF_TIER, FREE_TO_PUBLIC_TIER)
HALF_PRICE_PERCENT = 50.0


def _site_benefit(profile: Profile, visit_row: Mapping[str, Any],
                  home_row: Mapping[str, Any] | None, reasons: set[str]
                  ) -> tuple[str, float | None]:
    """What an admission gives at this site under the program: (benefit, discount percent).

    The program's benefit (``Profile.benefit``), half price by the AZA tiers, a store
    discount at free-admission sites; adds the notes that say so (``DISCOUNT_BENEFIT``,
    ``STORE_DISCOUNT_ONLY``) and the site's exclusions (``EVENTS_EXCLUDED``,
    ``VENUE_EXCLUDED``)."""
    benefit, discount = profile.benefit, profile.discount_percent
    tier = visit_row.get("benefit_tier")
    home_tier = home_row.get("benefit_tier") if home_row is not None else None
    if tier == HALF_TIER or (tier in (FULL_TIER, FREE_TO_PUBLIC_TIER) and home_tier == HALF_TIER):
        benefit, discount = "discount", HALF_PRICE_PERCENT
    if visit_row.get("events_excluded"):
        reasons.add(EVENTS_EXCLUDED)
    if visit_row.get("excluded_venue"):
        reasons.add(VENUE_EXCLUDED)
    if visit_row.get("store_discount_only") or tier == FREE_TO_PUBLIC_TIER:
        reasons.add(STORE_DISCOUNT_ONLY)
        return "store_discount", None
    if benefit == "discount":
        reasons.add(DISCOUNT_BENEFIT)
    return benefit, discount


def site_benefit(profile: Profile, visit_row: Mapping[str, Any],
                 home_row: Mapping[str, Any] | None) -> tuple[str, float | None, list[str]]:
    """What an admission at ``visit_row`` gives a member of ``home_row`` under ``profile``:
    (benefit, discount percent, the note codes that go with it), as ``decide`` finds them."""
    notes: set[str] = set()
    benefit, discount = _site_benefit(profile, visit_row, home_row, notes)
    return benefit, discount, sorted(notes, key=_reason_rank)


def _staff_checks(visit_row: Mapping[str, Any], profile: Profile,
                  residence: tuple[float, float] | None, manual: bool,
                  residence_unplaced: bool) -> list[str]:
    """What staff must still check on an admission."""
    staff = [CHECK_MEMBER_CARD if manual else CHECK_PHOTO_ID]
    if manual and profile.card_mark:
        staff.append(CHECK_PROGRAM_MARK)
    if visit_row.get("proof_of_residence"):
        staff.append(CHECK_PROOF_OF_RESIDENCE)
    # A residence given but not placed is always asked about, proof of residence or not.
    if residence is None and profile.residence_rule and (
            residence_unplaced or not visit_row.get("proof_of_residence")):
        staff.append(CHECK_RESIDENCE)
    if visit_row.get("reservation_required"):
        staff.append(CHECK_RESERVATION)
    return staff


def _benefits_and_checks(
    admit: bool, reasons: set[str], visit_row: Mapping[str, Any] | None,
    home_row: Mapping[str, Any] | None, party: Party, membership: str | None,
    profile: Profile, residence: tuple[float, float] | None, manual: bool,
    residence_unplaced: bool = False,
) -> tuple[int, str | None, float | None, list[str]]:
    """What the decision grants: (people covered, benefit, discount percent, staff checks).

    Admitted: adds ``ELIGIBLE``, ``PARTY_TOO_LARGE`` and the site's benefit notes. Denied:
    drops ``LOCAL_RULE_HONOURED`` (a note on admissions only) and adds ``LOCAL_DISCOUNT``
    when distance alone denied and the site offers a discount.
    """
    if not admit:
        reasons.discard(LOCAL_RULE_HONOURED)
        denials = {code for code in reasons if is_deny(code)}
        if (visit_row is not None and visit_row.get("local_discount_percent")
                and denials <= _DISTANCE_DENIALS):
            reasons.add(LOCAL_DISCOUNT)
            return 0, "discount", float(visit_row["local_discount_percent"]), []
        return 0, None, None, []
    reasons.add(ELIGIBLE)
    covered = covered_people(party, membership, profile)
    if party.size > covered:
        reasons.add(PARTY_TOO_LARGE)
    benefit, discount = _site_benefit(profile, visit_row, home_row, reasons)
    staff = _staff_checks(visit_row, profile, residence, manual, residence_unplaced)
    return covered, benefit, discount, staff


def decide(
    active: ActiveListLike,
    visit: str,
    home: str | None,
    *,
    on: date | None = None,
    expires: date | None = None,
    residence: tuple[float, float] | None = None,
    party: Party | None = None,
    membership: str | None = None,
    card: dict | None = None,
    card_reasons: Iterable[str] = (),
    manual: bool | None = None,
    residence_given: dict | None = None,
) -> Decision:
    """Decide one visit against the in-memory active list; pure, no I/O.

    ``visit``/``home`` are institution ids (unknown ids become reasons, not errors; ``home``
    may be None only when ``card_reasons`` explain why no home is known). ``on`` is the visit
    date in the visited site's local date (default: today there) and ``expires`` the card's
    last valid day (a card is valid through its expiry date). ``residence`` is
    ``(lat_deg, lon_deg)``.
    ``membership`` is ``"group"`` (default) or ``"individual"``. ``card`` is a JSON-ready
    summary of a verified card, ``card_reasons`` the card verification's failure codes.
    ``manual`` (default: no card given) adds the printed-card staff check.
    ``residence_given`` (JSON-ready, ``admission.Residence``) is the decision's ``residence``;
    given without a ``residence`` point (not placed), an admission carries CHECK_RESIDENCE.
    """
    party = party or DEFAULT_PARTY
    if membership is not None and membership not in MEMBERSHIPS:
        raise ValueError(f"membership must be one of {sorted(MEMBERSHIPS)}, "
                         f"got {membership!r}")
    reasons: set[str] = set(card_reasons)
    if home is None and not reasons:
        raise ValueError("decide() needs a home institution or the card's failure reasons")
    visit_row, home_row = _listed_rows(active, visit, home, reasons)
    profile = active.profile
    site_radius = _site_radius(visit_row, profile)
    home_miles = residence_miles = None
    if visit_row is not None and home_row is not None:
        home_miles = _home_rule(active, visit, home, home_row, site_radius, reasons)
        if visit != home:
            _site_terms(active, visit, visit_row, home_row, reasons)
    if visit_row is not None and residence is not None:
        residence_miles = _residence_rule(active, visit, residence, site_radius, reasons)
    on = _expiry_and_presence(reasons, visit_row, on, expires, party)
    admit = _admits(reasons)
    covered, benefit, discount, staff = _benefits_and_checks(
        admit, reasons, visit_row, home_row, party, membership, profile, residence,
        card is None if manual is None else manual,
        residence_unplaced=residence_given is not None and residence is None)
    return Decision(
        admit=admit, reasons=sorted(reasons, key=_reason_rank),
        home_distance_miles=home_miles, residence_distance_miles=residence_miles,
        list_version=active.version, visit=visit, home=home, on=on, covered=covered,
        party_size=party.size, staff_checks=staff, card=card, benefit=benefit,
        discount_percent=discount, radius_miles=_shown_radius(site_radius, visit_row),
        terms=_site_terms_text(visit_row), residence=residence_given,
        **_names(visit_row, home_row), **_program_fields(profile),
    )


def _names(visit_row: Mapping[str, Any] | None, home_row: Mapping[str, Any] | None
           ) -> dict[str, Any]:
    """The decision's institution names and how precise its distances are."""
    return {"visit_name": visit_row["name"] if visit_row is not None else None,
            "home_name": home_row["name"] if home_row is not None else None,
            "distance_precision": _precision(visit_row, home_row)}


def _program_fields(profile: Profile) -> dict[str, Any]:
    return {"program": profile.name, "program_title": profile.title,
            "card_mark": profile.card_mark}


def _shown_radius(site_radius: float | None, visit_row: Mapping[str, Any] | None
                  ) -> float | None:
    """The radius a distance is read against: the program's at this site, else the site's
    own distance term (None: no distance rule applies)."""
    if site_radius is not None or visit_row is None:
        return site_radius
    within = visit_row.get("site_home_within_miles")
    return float(within) if within else None


def _site_terms_text(visit_row: Mapping[str, Any] | None) -> str | None:
    """The site's terms as one text: its free text and its excluded venue."""
    if visit_row is None:
        return None
    text, venue = visit_row.get("restrictions"), visit_row.get("excluded_venue")
    if text and venue:
        return f"{text} {venue}"
    return text or venue or None


def _precision(visit_row: Mapping[str, Any] | None, home_row: Mapping[str, Any] | None
               ) -> str | None:
    """``"city"`` when a distance is from a city's centre (NARM's points), else None."""
    for row in (visit_row, home_row):
        if row is not None and row.get("coord_precision") == "city":
            return "city"
    return None
