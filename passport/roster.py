"""Reading and validating a member roster: the CRM export a home site issues cards from.

``parse_roster(data, filename, rules)`` returns a ``Roster`` of clean ``RosterMember``s, or
raises ``RosterError`` whose ``.errors`` lists EVERY problem as ``RowError(row, column,
message)``: rows as a spreadsheet shows them (header = row 1), columns as the file names
them (``Exp Date``, not ``expires``). Nothing here writes anything. The file is read by the
participant lists' reading layer (``passport.importer.read_table``): CSV with any usual
delimiter, UTF-8 with or without BOM, Windows-1252, UTF-16; XLSX (first sheet); JSON (a list
of objects or ``{"members": [...]}``).

Columns, matched case-, space- and punctuation-insensitively, in any order, with the header
spellings CRM exports use (Tessitura, Altru, ACME and the like; ``ROSTER_ALIASES``):

- ``member_id`` (``Member ID``, ``Constituent ID``, ``Membership Number``, ``Lookup ID``...);
- the names, one way of three: ``names`` (1 to 8, ``;``-separated), ``name_1`` .. ``name_8``,
  or ``First Name``/``Last Name`` pairs (``first_name_2``/``last_name_2``, ``Primary`` and
  ``Secondary``/``Spouse First Name``...);
- ``expires`` (``Expiration Date``, ``Exp Date``...): ISO ``2027-06-30``, US ``06/30/2027``
  (month first), an Excel serial day number (``46568``) or ``30-Jun-2027``; a time after the
  date is ignored;
- ``membership`` (``Level``, ``Membership Type``...: ``individual`` or ``group``, with the
  usual level words, ``MEMBERSHIP_WORDS``) and/or ``party_size`` (people covered, 1..99);
- optional ``postal_code`` (``Zip``, ``Postal Code``), ``country`` (the home site's country
  when empty), ``email`` (``Email Address``; never on the card).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from passport.cards import (
    EPOCH,
    LAST_EXPIRY,
    MAX_NAMES,
    MAX_PARTY_SIZE,
    MAX_TEXT_BYTES,
    Card,
    CardIssueError,
    check_card,
)
from passport.geocode import PostalFormatError, normalize_country, normalize_postal
from passport.importer import (
    EXTRA_CELLS,
    FORMULA_PREFIXES,
    SUPPORTED_SUFFIXES,
    ListValidationError,
    RowError,
    TableShape,
    read_table,
)

MAX_ROSTER_BYTES = 16 * 1024 * 1024  # the admin console's upload limit
MAX_ROSTER_ROWS = 100_000
NAME_SEPARATOR = ";"
EXCEL_DAY_ZERO = date(1899, 12, 30)  # Excel's serial day 1 is 1900-01-01 (after its 1900 leap bug)

COLUMNS = ("member_id", "names", "expires", "membership", "party_size", "postal_code",
           "country", "email")
ROSTER_ALIASES: dict[str, str] = {
    **dict.fromkeys((
        "member_id", "memberid", "member_number", "member_no", "member_num", "membership_id",
        "membership_number", "membership_no", "membership_num", "constituent_id",
        "constituent_number", "constituent_lookup_id", "lookup_id", "customer_id",
        "customer_number", "customer_no", "account_id", "account_number", "account_no",
        "card_number", "card_no", "patron_id", "record_id", "id"), "member_id"),
    **dict.fromkeys((
        "names", "name", "member_names", "member_name", "full_name", "cardholder",
        "cardholders", "cardholder_name", "cardholder_names", "card_name", "card_names",
        "name_on_card", "names_on_card", "display_name", "constituent_name"), "names"),
    **dict.fromkeys((
        "expires", "expiry", "expiry_date", "expiration", "expiration_date", "exp_date",
        "exp", "exp_dt", "expires_on", "expire_date", "expiration_dt", "end_date",
        "membership_end", "membership_end_date", "membership_expiration",
        "membership_expiration_date", "membership_expires", "membership_exp_date",
        "member_expiration_date", "valid_through", "valid_thru", "valid_until", "valid_to",
        "good_through", "paid_through", "paid_thru"), "expires"),
    **dict.fromkeys((
        "membership", "membership_type", "membership_level", "member_level", "member_type",
        "level", "type", "category", "membership_category", "tier", "membership_tier"),
        "membership"),
    **dict.fromkeys((
        "party_size", "party", "people", "people_covered", "covered", "admits", "admissions",
        "number_admitted", "num_admitted", "card_admits", "max_admits", "number_of_people",
        "group_size", "household_size"), "party_size"),
    **dict.fromkeys((
        "postal_code", "postalcode", "postal", "zip", "zip_code", "zipcode", "zip_postal_code",
        "postal_zip_code", "zip_postal", "postcode", "post_code", "home_zip",
        "home_postal_code", "address_postal_code", "mailing_zip", "primary_zip"),
        "postal_code"),
    **dict.fromkeys((
        "country", "country_code", "country_iso", "nation", "home_country", "address_country",
        "mailing_country"), "country"),
    **dict.fromkeys((
        "email", "email_address", "e_mail", "e_mail_address", "primary_email",
        "primary_email_address", "email_1", "home_email", "personal_email"), "email"),
}
_FIRST = {"first_name", "firstname", "first", "given_name", "givenname", "forename", "fname"}
_LAST = {"last_name", "lastname", "last", "surname", "family_name", "familyname", "lname"}
_NAME_BASES = {"name", "member_name", "cardholder", "cardholder_name", "card_name",
               "full_name", "member"}
_PERSON_PREFIXES = {"primary": 1, "secondary": 2, "spouse": 2, "partner": 2, "second": 2,
                    "additional": 2}
_PERSON_COLUMN = re.compile(r"^(?:first_name|last_name|name)_[1-8]$")
_NUMBERED_PREFIX = re.compile(r"^(?:member|cardholder|card_holder|person|adult|name)_?([1-8])_")

# Membership words: a level whose words include one of these (group first).
MEMBERSHIP_WORDS = {
    "group": frozenset({"group", "family", "families", "household", "dual", "couple",
                        "grandparent", "grandparents"}),
    "individual": frozenset({"individual", "single", "solo", "student", "senior"}),
}
_US_DATE = re.compile(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4}|\d{2})$")
_ISO_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_TIME_TAIL = re.compile(r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?"
                        r"(?:Z|[+-]\d{2}:?\d{2})?)$")
_TEXT_DATE_FORMATS = ("%d-%b-%Y", "%d-%b-%y", "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RosterError(ListValidationError):
    """The roster has problems (``errors``: every one, with row and column); no card was
    issued."""


@dataclass(frozen=True)
class RosterRules:
    """What a row is checked against: the issuing site's today and country, the program's
    group size; ``allow_expired`` accepts expiry dates before today."""

    today: date
    group_party_size: int
    default_country: str | None = None
    allow_expired: bool = False


@dataclass(frozen=True)
class RosterMember:
    """One valid roster row: what its card carries, plus the email (never on the card)."""

    row: int
    member_id: str
    names: tuple[str, ...]
    expires: date
    party_size: int
    postal_code: str | None = None
    country: str | None = None
    email: str | None = None


@dataclass
class Roster:
    """A valid roster: its members in file order, where it came from, and warnings."""

    members: list[RosterMember]
    source_name: str
    sha256: str
    warnings: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # column -> the file's header


# --------------------------------------------------------------------------- headers

def _plain(name: Any) -> str:
    """``" Member #"`` -> ``member_number``; accents dropped, digits split off a word end."""
    text = unicodedata.normalize("NFKD", str(name if name is not None else ""))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("\ufeff", "").replace("#", " number ").replace("&", " and ")
    text = re.sub(r"[^0-9a-z]+", "_", text).strip("_")
    return re.sub(r"(?<=[a-z])([1-8])$", r"_\1", text)


def _person_column(text: str) -> str | None:
    """``first_name_2``, ``spouse_last_name``, ``member_2_name``, ``name_3`` -> the
    canonical ``first_name_N`` / ``last_name_N`` / ``name_N``; None for other columns."""
    number = None
    match = re.search(r"_([1-8])$", text)
    if match:
        number, text = int(match.group(1)), text[:match.start()]
    match = _NUMBERED_PREFIX.match(text)
    if match:
        number, text = int(match.group(1)), text[match.end():]
    prefix, _, rest = text.partition("_")
    if prefix in _PERSON_PREFIXES and rest:
        number, text = _PERSON_PREFIXES[prefix], rest
    if text in _FIRST:
        return f"first_name_{number or 1}"
    if text in _LAST:
        return f"last_name_{number or 1}"
    if text in _NAME_BASES and number is not None:
        return f"name_{number}"
    return None


class _HeaderNames:
    """The roster's header normaliser; remembers each column's spelling in the file."""

    def __init__(self) -> None:
        self.spelled: dict[str, list[str]] = {}

    def __call__(self, name: Any) -> str:
        text = _plain(name)
        column = ROSTER_ALIASES.get(text) or _person_column(text) or text
        shown = str(name if name is not None else "").replace("\ufeff", "").strip()
        spellings = self.spelled.setdefault(column, [])
        if shown not in spellings:
            spellings.append(shown)
        return column

    def shown(self, column: str) -> str:
        """The header as the file writes it (the first spelling seen)."""
        return (self.spelled.get(column) or [column])[0] or column


# --------------------------------------------------------------------------- values

def parse_roster_date(text: str) -> date:
    """A roster's expiry: ``2027-06-30``, ``06/30/2027`` (US, month first), ``6/30/27``,
    an Excel serial day (``46568``), ``30-Jun-2027`` or ``June 30, 2027``; a time after the
    date (``6/30/2027 12:00:00 AM``, ``2027-06-30T00:00:00``) is ignored. ``ValueError``
    with a sentence otherwise (``30/06/2027`` is called day-first)."""
    value = text.strip()
    if _SERIAL.match(value):
        return EXCEL_DAY_ZERO + timedelta(days=int(float(value)))
    value = _TIME_TAIL.sub("", value).strip()
    numbers = _numeric_date(value, text)
    if numbers is not None:
        try:
            return date(*numbers)
        except ValueError:
            raise ValueError(f"'{text[:40]}' is not a day of the calendar") from None
    for pattern in _TEXT_DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"'{text[:40]}' is not a date (2027-06-30, 06/30/2027 or an Excel date)")


def _numeric_date(value: str, text: str) -> tuple[int, int, int] | None:
    """(year, month, day) of an ISO or US (month-first) date, None for other text."""
    match = _ISO_DATE.match(value)
    if match:
        year, month, day = (int(part) for part in match.groups())
        return year, month, day
    match = _US_DATE.match(value)
    if match is None:
        return None
    month, day, year = (int(part) for part in match.groups())
    if len(match.group(3)) == 2:
        year += 2000
    if month > 12 >= day:
        raise ValueError(f"'{text}' reads as day/month/year; write it month first "
                         f"({day:02d}/{month:02d}/{year}) or as {year}-{day:02d}-{month:02d}")
    return year, month, day


def membership_size(text: str, group_party_size: int) -> int:
    """The party size a membership level stands for: 1 for individual words, the program's
    group size for group words (``MEMBERSHIP_WORDS``); ``ValueError`` otherwise."""
    words = set(_plain(text).split("_"))
    if words & MEMBERSHIP_WORDS["group"]:
        return group_party_size
    if words & MEMBERSHIP_WORDS["individual"]:
        return 1
    raise ValueError(f"membership '{text[:40]}' is neither individual nor group (words such "
                     "as Family, Household, Dual count as group; or give a party_size column)")


def _text_problem(value: str, what: str) -> str | None:
    """Why ``value`` cannot be a card's text field, or None."""
    if len(value.encode("utf-8")) > MAX_TEXT_BYTES:
        return f"{what} is longer than {MAX_TEXT_BYTES} bytes: '{value[:40]}...'"
    if not value.isprintable():
        return f"{what} has control characters"
    if value.startswith(FORMULA_PREFIXES):
        return f"{what} '{value[:40]}' starts with '{value[0]}' (a spreadsheet formula?)"
    return None


# --------------------------------------------------------------------------- reading

def _shape(names: _HeaderNames) -> TableShape:
    return TableShape(names, max_rows=MAX_ROSTER_ROWS, json_key="members",
                      json_list_separator=NAME_SEPARATOR)


def parse_roster(data: bytes, filename: str, rules: RosterRules) -> Roster:
    """Read and validate a roster upload (CSV, XLSX or JSON by name and content); raises
    ``RosterError`` with every problem. Example::

        roster = parse_roster(Path("members.csv").read_bytes(), "members.csv",
                              RosterRules(today=date(2026, 6, 15), group_party_size=6))
    """
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError([RowError(None, None, f"the file is {len(data) / 1e6:.1f} MB; the "
                                                f"limit is {MAX_ROSTER_BYTES / 1e6:.0f} MB")])
    if Path(filename).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise RosterError([RowError(None, None, "upload the roster as a .csv, .xlsx or .json "
                                                "file")])
    names = _HeaderNames()
    warnings_out: list[str] = []
    try:
        header, rows, header_row = read_table(data, filename, warnings_out, _shape(names))
    except ListValidationError as exc:
        raise RosterError(exc.errors) from None
    columns = [c for c in header if c] if header is not None else \
        list(dict.fromkeys(c for _, row in rows for c in row))
    layout = _check_header(columns, header_row, names, header is None)
    members = _validate_rows(rows, layout, names, rules)
    ignored = [names.shown(c) for c in columns if c not in layout.known]
    if ignored:
        warnings_out.append("ignored columns: " + ", ".join(ignored))
    return Roster(members, Path(filename).name, hashlib.sha256(data).hexdigest(),
                  warnings_out, {c: names.shown(c) for c in columns if c in layout.known})


@dataclass(frozen=True)
class _Layout:
    """Which columns the roster has: how names are given, and every column used."""

    name_columns: tuple[tuple[str, ...], ...]  # per person: (name_N,) or (first_N, last_N)
    known: frozenset[str]


def _name_layout(columns: list[str]) -> tuple[tuple[str, ...], ...] | str:
    """The name columns per person, or a message when they are missing or mixed."""
    given = set(columns)
    numbered = [n for n in range(1, MAX_NAMES + 1) if f"name_{n}" in given]
    pairs = [n for n in range(1, MAX_NAMES + 1)
             if f"first_name_{n}" in given or f"last_name_{n}" in given]
    ways = sum(bool(way) for way in ("names" in given, numbered, pairs))
    if ways == 0:
        return ("missing the names: a 'names' column (';' between people), name_1..name_8, "
                "or First Name / Last Name columns")
    if ways > 1:
        return "give the names one way: a names column, name_1..name_8, or first/last names"
    if "names" in given:
        return (("names",),)
    if numbered:
        return tuple((f"name_{n}",) for n in numbered)
    return tuple(tuple(c for c in (f"first_name_{n}", f"last_name_{n}") if c in given)
                 for n in pairs)


def _check_header(columns: list[str], header_row: int | None, names: _HeaderNames,
                  is_json: bool) -> _Layout:
    errors: list[RowError] = []
    for column, spellings in names.spelled.items():
        used = column in COLUMNS or _PERSON_COLUMN.match(column)
        if used and not is_json and columns.count(column) > 1:
            shown = " and ".join(f"'{s}'" for s in spellings) if len(spellings) > 1 \
                else f"'{spellings[0]}' (twice)"
            errors.append(RowError(header_row, spellings[0], f"columns {shown} both give "
                                                             f"{column}; keep one"))
    for column in ("member_id", "expires"):
        if column not in columns:
            errors.append(RowError(header_row, column, f"missing column '{column}'"))
    if "membership" not in columns and "party_size" not in columns:
        errors.append(RowError(header_row, "membership", "missing column 'membership' "
                                                          "(individual/group) or 'party_size'"))
    layout = _name_layout(columns)
    if isinstance(layout, str):
        errors.append(RowError(header_row, "names", layout))
        layout = ()
    if errors:
        raise RosterError(errors)
    known = {c for c in COLUMNS if c in columns} | {c for person in layout for c in person}
    return _Layout(layout, frozenset(known))


# --------------------------------------------------------------------------- rows

# Adds one problem of the row being validated: err(column, message).
_Err = Callable[[str | None, str], None]


def _validate_rows(rows: list[tuple[int, dict[str, str]]], layout: _Layout,
                   names: _HeaderNames, rules: RosterRules) -> list[RosterMember]:
    errors: list[RowError] = []
    members: list[RosterMember] = []
    seen: dict[str, tuple[int, str]] = {}
    for row_number, row in rows:
        if not any(v for k, v in row.items() if k != EXTRA_CELLS and k in layout.known):
            continue  # a blank line (or only ignored columns) is not a member
        member = _validate_row(row_number, row, layout, names, rules, errors)
        if member is None:
            continue
        key = member.member_id.casefold()
        if key in seen:
            first_row, first_id = seen[key]
            errors.append(RowError(row_number, names.shown("member_id"),
                                   f"member id '{member.member_id}' appears twice (row "
                                   f"{first_row} has '{first_id}')"))
            continue
        seen[key] = (row_number, member.member_id)
        members.append(member)
    if not members and not errors:
        errors.append(RowError(None, None, "the roster has no members"))
    if errors:
        raise RosterError(errors)
    return members


def _validate_row(row_number: int, row: dict[str, str], layout: _Layout,
                  names: _HeaderNames, rules: RosterRules,
                  errors: list[RowError]) -> RosterMember | None:
    """One data row as a member, or None after adding its problems to ``errors``."""
    start = len(errors)

    def err(column: str | None, message: str) -> None:
        errors.append(RowError(row_number, names.shown(column) if column else None, message))

    if EXTRA_CELLS in row:
        err(None, "the row has " + row[EXTRA_CELLS])
    member_id = _member_id(row.get("member_id", ""), err)
    people = _names(row, layout, err)
    expires = _expiry(row.get("expires", ""), rules, err)
    party_size = _party_size(row, rules, err)
    postal, country = _residence(row, rules, err)
    email = _email(row.get("email", ""), err)
    if len(errors) > start:
        return None
    member = RosterMember(row_number, member_id, people, expires, party_size, postal,
                          country, email)
    try:  # the card format's own checks, so that signing never fails half-way
        check_card(Card(1, "roster-check", "000000000000", member_id, people, party_size,
                        expires, postal, country))
    except CardIssueError as exc:
        err(None, str(exc))
        return None
    return member


def _member_id(text: str, err: _Err) -> str:
    value = text.strip()
    if not value:
        err("member_id", "member id is empty")
        return value
    problem = _text_problem(value, "member id")
    if problem:
        err("member_id", problem)
    return value


def _names(row: dict[str, str], layout: _Layout, err: _Err) -> tuple[str, ...]:
    people: list[str] = []
    for person in layout.name_columns:
        if person == ("names",):
            people += re.split(r"[;\n]", row.get("names", ""))
        else:
            people.append(" ".join(row.get(c, "").strip() for c in person).strip())
    people = [" ".join(name.split()) for name in people if name.strip()]
    column = layout.name_columns[0][0] if layout.name_columns else "names"
    if not people:
        err(column, "no name: a card names 1 to 8 people")
    elif len(people) > MAX_NAMES:
        err(column, f"{len(people)} names: a card names at most {MAX_NAMES} people")
    for name in people:
        problem = _text_problem(name, "name")
        if problem:
            err(column, problem)
    return tuple(people)


def _expiry(text: str, rules: RosterRules, err: _Err) -> date:
    if not text.strip():
        err("expires", "the expiry date is empty")
        return rules.today
    try:
        day = parse_roster_date(text)
    except ValueError as exc:
        err("expires", str(exc))
        return rules.today
    if not EPOCH <= day <= LAST_EXPIRY:
        err("expires", f"expiry {day} is outside {EPOCH}..{LAST_EXPIRY}")
    elif day < rules.today and not rules.allow_expired:
        err("expires", f"expired on {day} (before today, {rules.today}): leave lapsed "
                       "members out, or allow expired cards")
    return day


def _party_size(row: dict[str, str], rules: RosterRules, err: _Err) -> int:
    level, size_text = row.get("membership", "").strip(), row.get("party_size", "").strip()
    by_level = None
    if level:
        try:
            by_level = membership_size(level, rules.group_party_size)
        except ValueError as exc:
            err("membership", str(exc))
            return 1
    if not size_text:
        if by_level is None:
            err("membership" if "membership" in row else "party_size",
                "membership is empty (individual or group)")
            return 1
        return by_level
    try:
        size = int(float(size_text))
    except ValueError:
        size = 0
    if str(size) != size_text and f"{size}.0" != size_text or not 1 <= size <= MAX_PARTY_SIZE:
        err("party_size", f"party size '{size_text[:20]}' is not a whole number "
                          f"1..{MAX_PARTY_SIZE}")
    elif by_level is not None and (by_level == 1) != (size == 1):
        err("party_size", f"party size {size} does not fit membership '{level[:40]}'")
    return size


def _residence(row: dict[str, str], rules: RosterRules, err: _Err
               ) -> tuple[str | None, str | None]:
    postal, country_text = row.get("postal_code", "").strip(), row.get("country", "").strip()
    if not postal:
        return None, None
    country = normalize_country(country_text) or rules.default_country
    if not country:
        err("country", "the country is empty (the postal code needs one: US, CA, ...)")
        return None, None
    try:
        return normalize_postal(postal, country)
    except PostalFormatError as exc:
        column = "country" if country_text and "country" in str(exc) else "postal_code"
        assumed = "" if country_text else f" (no country given: read as {country}, the " \
                                          "home site's)"
        err(column, f"{exc}{assumed}")
        return None, None


def _email(text: str, err: _Err) -> str | None:
    value = text.strip()
    if not value:
        return None
    if not _EMAIL.match(value) or value.startswith(FORMULA_PREFIXES):
        err("email", f"'{value[:60]}' is not an email address")
    return value
