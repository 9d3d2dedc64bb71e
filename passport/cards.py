"""Signed member cards: the compact payload in a card's QR code, issuing and verifying it.

Payload, format version 1 (full byte-level spec in README.md, section "cards")::

    PYZ1 <base32 of body || signature>

- ``PYZ1`` is the prefix: ``PYZ`` marks a Passport card and lets ``normalize_scan`` detect
  the keyboard layout a USB scanner typed it through (see there), ``1`` is the version.
- The rest is RFC 4648 base32 (``A-Z2-7``, no ``=`` padding) of the binary body followed
  by the 64-byte Ed25519 signature over ``b"PYZ1" + body``.

Why base32: every character is in the QR alphanumeric set (5.5 bits per character, so
base32 costs 10 % over raw bits against base45's 3 %), and unlike base45 or base64 it has
no space, no punctuation and no lower case: keyboard-wedge scanners type it through any
Latin layout's letter and digit keys, and a Caps Lock or layout mix-up is reversible.

Body (integers big-endian)::

    u8   flags         bit 0: residence present; bit 1: issuer id is UTF-8, not packed;
                       other bits 0
    6 B  key id        first 6 bytes of SHA-256 of the raw Ed25519 public key
    u16  expires       days since 2000-01-01; valid through that day inclusive
    u8   party size    1 = individual membership; 2..99 = group (people covered)
    issuer id          packed: u8 length n, then the base-37 number of the id's characters
                       over "-0123456789abcdefghijklmnopqrstuvwxyz" in the fewest bytes
                       that hold 37**n - 1; UTF-8 (flag bit 1): u8 length + bytes
    str  member id     u8 length + UTF-8 (1..64 bytes)
    u8   name count    1..8, then each name as u8 length + UTF-8 (1..64 bytes)
    [residence]        2 B country (ISO 3166 alpha-2, A-Z) + str postal code (1..12)

Format version 2 (``PYZ2``, signed over ``b"PYZ2" + body``) is version 1's body followed by
the programs the member's membership qualifies for (the issuing site vouches)::

    u8   programs      bit i (0..5): PROGRAM_REGISTRY[i] (astc, narm, aza, roam, ahs, acm);
                       bit 6: 0; bit 7: other program ids follow
    [other programs]   u8 count 1..8, then each id packed like the issuer id (1..20
                       characters of a-z 0-9 -), sorted, none of the registry's

A version 1 card means ASTC only (``Card.programs == ("astc",)``); ``issue`` writes version 2
only when the programs are not ASTC alone, so ASTC-only cards stay byte for byte as before.

Decoding is strict: one encoding per card (canonical base32, no spare bytes, no unknown
flags), so any change to the text is a change to the signed bytes.
"""

from __future__ import annotations

import base64
import io
import os
import re
import unicodedata
import warnings
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from passport import keys, store
from passport.ids import check_institution_id, is_key_id
from passport.trust import TrustedKey, is_card_revoked, trust_snapshot, trusted_key

PREFIX = "PYZ1"
PREFIX_V2 = "PYZ2"
PREFIXES = (PREFIX, PREFIX_V2)  # by format version - 1
FORMAT_VERSION = 1  # ASTC-only cards
FORMAT_VERSION_PROGRAMS = 2  # cards that name their programs
# Program ids a version 2 card carries as one bit each, in this order, forever (append only
# while bit 6 is free); other ids are spelled out after them.
PROGRAM_REGISTRY = ("astc", "narm", "aza", "roam", "ahs", "acm")
DEFAULT_PROGRAMS = ("astc",)  # what a version 1 card means
MAX_PROGRAMS = 8
SIGNATURE_BYTES = 64
MAX_PAYLOAD_CHARS = 1200  # far above any real card; cuts fuzzed or pasted junk short
MAX_TEXT_BYTES = 64
MAX_NAMES = 8
MAX_PARTY_SIZE = 99
EPOCH = date(2000, 1, 1)
LAST_EXPIRY = EPOCH + timedelta(days=0xFFFF)

# Reason codes (the same strings as passport.rules; kept here so cards has no upward import).
CARD_MALFORMED = "CARD_MALFORMED"
CARD_SIGNATURE_INVALID = "CARD_SIGNATURE_INVALID"
KEY_UNKNOWN = "KEY_UNKNOWN"
CARD_REVOKED = "CARD_REVOKED"
CARD_EXPIRED = "CARD_EXPIRED"

_FLAG_RESIDENCE = 0x01
_FLAG_ISSUER_UTF8 = 0x02
_SLUG_ALPHABET = "-0123456789abcdefghijklmnopqrstuvwxyz"
_SLUG_RE = re.compile(r"[a-z0-9-]{1,100}")
_POSTAL_RE = re.compile(r"[A-Z0-9][A-Z0-9 -]{0,10}[A-Z0-9]|[A-Z0-9]")
_COUNTRY_RE = re.compile(r"[A-Z]{2}")
_SLUG_BYTES = [0] + [((37**n - 1).bit_length() + 7) // 8 for n in range(1, 101)]
_PROGRAM_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,19}")
_PROGRAM_OTHERS = 0x80  # bit 7 of the programs byte
_PROGRAM_BITS = (1 << len(PROGRAM_REGISTRY)) - 1


class CardIssueError(ValueError):
    """A card cannot be issued with these details (the message names the bad value)."""


class CardImageError(ValueError):
    """An image cannot be read or holds no QR code."""


class _Malformed(Exception):
    """Internal: the payload does not follow the format (message says where)."""


@dataclass(frozen=True)
class Card:
    """The contents of a card (as decoded; trust them only when ``CardCheck.valid``)."""

    version: int
    issuer_id: str
    key_id: str
    member_id: str
    names: tuple[str, ...]
    party_size: int
    expires: date
    postal_code: str | None = None
    country: str | None = None
    # the programs the membership qualifies for (version 1: ASTC only)
    programs: tuple[str, ...] = DEFAULT_PROGRAMS

    @property
    def membership(self) -> str:
        """``individual`` (covers the named cardholder) or ``group``."""
        return "individual" if self.party_size == 1 else "group"

    def to_json(self) -> dict:
        """JSON-ready form (``expires`` as YYYY-MM-DD, ``names`` as a list)."""
        return {
            "version": self.version,
            "issuer_id": self.issuer_id,
            "key_id": self.key_id,
            "member_id": self.member_id,
            "names": list(self.names),
            "party_size": self.party_size,
            "membership": self.membership,
            "expires": self.expires.isoformat(),
            "postal_code": self.postal_code,
            "country": self.country,
            "programs": list(self.programs),
        }


@dataclass(frozen=True)
class CardCheck:
    """The result of verifying a payload: valid only when ``reasons`` is empty.

    ``card`` is the decoded card even when it is not valid (so staff can see what it
    claims), None only when the payload is malformed. ``detail`` explains a malformed one.
    """

    valid: bool
    reasons: list[str]
    card: Card | None
    detail: str | None = field(default=None, compare=False)

    def to_json(self) -> dict:
        """``{"valid", "reasons", "card"}`` as ``passport card verify --json`` prints it."""
        return {
            "valid": self.valid,
            "reasons": list(self.reasons),
            "card": self.card.to_json() if self.card is not None else None,
        }


# ----------------------------------------------------------------------------- scanner input

# What a scanner configured for a US keyboard types when the computer uses a French (AZERTY)
# layout, mapped back: the letter keys A/Q and Z/W trade places, M's key gives "?" with
# Shift, and the unshifted digit row gives symbols (Belgian AZERTY: "§" for 6, "!" for 8).
_AZERTY_BACK = str.maketrans({
    "Q": "A", "A": "Q", "W": "Z", "Z": "W", "?": "M",
    "&": "1", "é": "2", '"': "3", "'": "4", "(": "5", "-": "6", "§": "6",
    "è": "7", "_": "8", "!": "8", "ç": "9", "à": "0",
})
# German, Austrian and Swiss QWERTZ layouts trade Y and Z; digits and other letters agree.
_QWERTZ_BACK = str.maketrans({"Y": "Z", "Z": "Y"})
# How each version's prefix arrives through those layouts: "PYW&"/"PYWé" and "PZY1"/"PZY2".
_AZERTY_PREFIXES = tuple(p.translate(str.maketrans({"Z": "W", "1": "&", "2": "é"}))
                         for p in PREFIXES)
_QWERTZ_PREFIXES = tuple(p.translate(_QWERTZ_BACK) for p in PREFIXES)
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def normalize_scan(text: str) -> str:
    """Undo what scanners and keyboards do to a payload; any other text is returned as is.

    Exactly these, in this order:

    1. Whitespace (spaces, tabs, CR, LF: the Enter a scanner sends, line breaks of a paste)
       and control/format characters (STX/ETX framing some scanners add, zero-width
       characters) are removed everywhere: none of them is in the payload alphabet.
    2. Caps Lock: text with lower-case ASCII letters and no upper-case ones is upper-cased
       (the payload has no lower case; mixed case is left alone and fails).
    3. Keyboard layout, recognised from the prefix as typed, then mapped back over the whole
       text: ``PZY1`` (``PZY2``) = German/Austrian/Swiss QWERTZ (Y and Z swapped back);
       ``PYW&`` (``PYWé``) = French/Belgian AZERTY (A/Q, Z/W, "?"->M and the digit-row symbols
       ``& é " ' ( - è _ ç à`` -> ``1..0``, Belgian ``§``->6, ``!``->8).

    Both layout prefixes differ from ``PYZ1`` in two places, so no single typo triggers a
    mapping. For example ``normalize_scan(" pyz1abc\\r\\n") == "PYZ1ABC"``.
    """
    if not isinstance(text, str):
        return ""
    kept = text.strip()
    if len(kept) > 8 * MAX_PAYLOAD_CHARS:
        return kept  # no card is that long: do not spend time on pasted junk
    if kept.isascii() and kept.isprintable() and " " not in kept:
        # Printable ASCII without spaces, as nearly every scan: its only cased characters
        # are the letters, so islower() is "lower-case letters and no upper-case ones".
        if kept.islower():
            kept = kept.upper()
    else:  # the slow path only for unusual input
        kept = "".join(
            ch for ch in kept
            if not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf")
        )
        if re.search("[a-z]", kept) and not re.search("[A-Z]", kept):
            kept = kept.translate(_ASCII_UPPER)
    if kept.startswith(_QWERTZ_PREFIXES):
        kept = kept.translate(_QWERTZ_BACK)
    elif kept.startswith(_AZERTY_PREFIXES):
        kept = kept.translate(_AZERTY_BACK)
    return kept


# ----------------------------------------------------------------------------- field checks

def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise CardIssueError(f"{what} is not text: {value!r}")
    size = len(value.encode("utf-8"))
    if not 1 <= size <= MAX_TEXT_BYTES:
        raise CardIssueError(f"{what} must be 1 to {MAX_TEXT_BYTES} bytes of UTF-8: {value!r}")
    # isprintable: no control/format characters and no separators but the plain space
    if value != value.strip() or not value.isprintable():
        raise CardIssueError(f"{what} has control characters or spaces at an end: {value!r}")
    return value


def _check_issuer(issuer_id: object) -> None:
    try:
        check_institution_id(issuer_id)
    except ValueError as exc:
        raise CardIssueError(str(exc)) from None


def _check_people(member_id: object, names: tuple, party_size: object) -> None:
    _check_text(member_id, "member id")
    if not 1 <= len(names) <= MAX_NAMES:
        raise CardIssueError(f"a card names 1 to {MAX_NAMES} people, not {len(names)}")
    for name in names:
        _check_text(name, "name")
    if (not isinstance(party_size, int) or isinstance(party_size, bool)
            or not 1 <= party_size <= MAX_PARTY_SIZE):
        raise CardIssueError(f"party size must be 1 to {MAX_PARTY_SIZE}: {party_size!r}")


def _check_residence(postal_code: object, country: object) -> None:
    if not isinstance(postal_code, str) or not _POSTAL_RE.fullmatch(postal_code):
        raise CardIssueError(f"not a postal code: {postal_code!r}")
    if not isinstance(country, str) or not _COUNTRY_RE.fullmatch(country):
        raise CardIssueError(f"not a two-letter country code: {country!r}")


def canonical_programs(programs: Sequence[str] | str) -> tuple[str, ...]:
    """Program ids as a card carries them: the registry's in its order, then the others
    sorted; raises CardIssueError for a bad, repeated or missing id. ``"astc, narm"`` and
    ``["narm", "astc"]`` both give ``("astc", "narm")``."""
    if isinstance(programs, str):
        programs = [p.strip() for p in programs.split(",") if p.strip()]
    ids = list(programs)
    for program in ids:
        if not isinstance(program, str) or not _PROGRAM_RE.fullmatch(program):
            raise CardIssueError(f"not a program id (1 to 20 of a-z 0-9 -): {program!r}")
    if len(set(ids)) != len(ids):
        raise CardIssueError(f"a program is named twice: {', '.join(ids)}")
    if not 1 <= len(ids) <= MAX_PROGRAMS:
        raise CardIssueError(f"a card names 1 to {MAX_PROGRAMS} programs, not {len(ids)}")
    known = [p for p in PROGRAM_REGISTRY if p in ids]
    return (*known, *sorted(p for p in ids if p not in PROGRAM_REGISTRY))


def check_known_programs(db: sqlite_utils.Database, programs: Sequence[str] | str
                         ) -> tuple[str, ...]:
    """``canonical_programs``, each of them a program of this store (a typo on a card would
    be vouched for and signed): CardIssueError names the unknown one."""
    chosen = canonical_programs(programs)
    for program in chosen:
        # the profiles' own read (passport.programs sits above this module)
        if store.get_profile_row(db, program) is None:
            raise CardIssueError(f"no program {program!r} in this store (see `passport "
                                 "programs`)")
    return chosen


def card_version(programs: Sequence[str]) -> int:
    """The format version a card of these (canonical) programs is written in: 1 for ASTC
    alone (as every card before version 2), else 2."""
    return FORMAT_VERSION if tuple(programs) == DEFAULT_PROGRAMS else FORMAT_VERSION_PROGRAMS


def _check_programs(card: Card) -> None:
    if card.version not in (FORMAT_VERSION, FORMAT_VERSION_PROGRAMS):
        raise CardIssueError(f"cannot write card format version {card.version!r}")
    if not isinstance(card.programs, tuple) or canonical_programs(card.programs) != card.programs:
        raise CardIssueError(f"programs must be a tuple in canonical order "
                             f"(canonical_programs): {card.programs!r}")
    if card.version == FORMAT_VERSION and card.programs != DEFAULT_PROGRAMS:
        raise CardIssueError(f"a version 1 card means ASTC only; programs "
                             f"{', '.join(card.programs)} need version 2")


def _check_fields(card: Card) -> None:
    """Raise CardIssueError unless every field is within the format (issue and decode)."""
    _check_programs(card)
    _check_issuer(card.issuer_id)
    if not is_key_id(card.key_id):
        raise CardIssueError(f"not a key id: {card.key_id!r}")
    _check_people(card.member_id, card.names, card.party_size)
    if not isinstance(card.expires, date) or isinstance(card.expires, datetime):
        raise CardIssueError(f"expiry is not a date: {card.expires!r}")
    if not EPOCH <= card.expires <= LAST_EXPIRY:
        raise CardIssueError(f"expiry must be {EPOCH} to {LAST_EXPIRY}: {card.expires}")
    if (card.postal_code is None) != (card.country is None):
        raise CardIssueError("give both postal code and country, or neither")
    if card.postal_code is not None:
        _check_residence(card.postal_code, card.country)


# ----------------------------------------------------------------------------- encoding

def _text_bytes(value: str) -> bytes:
    raw = value.encode("utf-8")
    return bytes([len(raw)]) + raw


@lru_cache(maxsize=256)  # a batch signs thousands of cards of one issuer: pack its id once
def _issuer_bytes(issuer_id: str) -> tuple[int, bytes]:
    if not _SLUG_RE.fullmatch(issuer_id):
        return _FLAG_ISSUER_UTF8, _text_bytes(issuer_id)
    number = 0
    for ch in issuer_id:
        number = number * 37 + _SLUG_ALPHABET.index(ch)
    size = _SLUG_BYTES[len(issuer_id)]
    return 0, bytes([len(issuer_id)]) + number.to_bytes(size, "big")


def _body(card: Card) -> bytes:
    issuer_flag, issuer = _issuer_bytes(card.issuer_id)
    flags = issuer_flag | (_FLAG_RESIDENCE if card.postal_code is not None else 0)
    out = bytearray([flags])
    out += bytes.fromhex(card.key_id)
    out += (card.expires - EPOCH).days.to_bytes(2, "big")
    out.append(card.party_size)
    out += issuer
    out += _text_bytes(card.member_id)
    out.append(len(card.names))
    for name in card.names:
        out += _text_bytes(name)
    if card.postal_code is not None:
        out += card.country.encode("ascii") + _text_bytes(card.postal_code)
    if card.version == FORMAT_VERSION_PROGRAMS:
        out += _programs_bytes(card.programs)
    return bytes(out)


def _programs_bytes(programs: tuple[str, ...]) -> bytes:
    bits = 0
    for i, program in enumerate(PROGRAM_REGISTRY):
        if program in programs:
            bits |= 1 << i
    others = [p for p in programs if p not in PROGRAM_REGISTRY]
    if not others:
        return bytes([bits])
    out = bytearray([bits | _PROGRAM_OTHERS, len(others)])
    for program in others:
        out += _issuer_bytes(program)[1]  # always packed: program ids are slugs
    return bytes(out)


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


# RFC 4648 base32 digits -> the digits int(..., 32) reads, every other byte -> "!" (which
# int() refuses and the check below finds): one C-speed parse instead of base64.b32decode's
# Python loop (this is on the desk's hot path).
_B32_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TO_INT_DIGITS = bytes(
    b"0123456789abcdefghijklmnopqrstuv"[_B32_ALPHABET.index(i)] if i in _B32_ALPHABET else 33
    for i in range(256)
)


def _unb32(encoded: str) -> bytes:
    """Strict unpadded base32: only the canonical spelling of some bytes is accepted."""
    digits = encoded.encode("ascii").translate(_TO_INT_DIGITS) if encoded.isascii() else b""
    if not digits or b"!" in digits:
        raise _Malformed("not base32 after the prefix")
    size, spare_bits = divmod(5 * len(encoded), 8)
    number = int(digits, 32)
    # Lengths 1, 3, 6 (mod 8) leave 5+ spare bits: no encoder writes them. Set spare
    # bits would be a second spelling of the same bytes.
    if spare_bits >= 5 or number & ((1 << spare_bits) - 1):
        raise _Malformed("not canonical base32")
    return (number >> spare_bits).to_bytes(size, "big")


def check_card(card: Card) -> None:
    """Raise ``CardIssueError`` naming the first field of ``card`` outside the format (the
    checks ``sign`` makes), so a batch can refuse a bad row before signing anything."""
    _check_fields(card)


def sign(card: Card, private_key: Ed25519PrivateKey) -> str:
    """The payload of ``card`` signed with ``private_key`` (no store needed).

    ``card.key_id`` must be the id of that key (``passport.keys.key_id_for``).
    """
    _check_fields(card)
    body = _body(card)
    prefix = PREFIXES[card.version - 1]
    return prefix + _b32(body + private_key.sign(prefix.encode("ascii") + body))


def _u8_at(body: bytes, pos: int) -> int:
    if pos >= len(body):
        raise _Malformed("the body ends early")
    return body[pos]


def _text_at(body: bytes, pos: int, what: str) -> tuple[str, int]:
    """The u8-length-prefixed UTF-8 text at ``pos`` and the offset after it."""
    start = pos + 1
    end = start + _u8_at(body, pos)
    if end > len(body):
        raise _Malformed("the body ends early")
    try:
        return body[start:end].decode("utf-8"), end
    except UnicodeDecodeError:
        raise _Malformed(f"{what} is not UTF-8") from None


def _issuer_at(body: bytes, pos: int, utf8: bool) -> tuple[str, int]:
    if utf8:
        return _text_at(body, pos, "issuer id")
    count = _u8_at(body, pos)
    if not 1 <= count <= 100:
        raise _Malformed("issuer id length out of range")
    end = pos + 1 + _SLUG_BYTES[count]
    if end > len(body):
        raise _Malformed("the body ends early")
    return _unpack_slug(count, body[pos + 1:end]), end


@lru_cache(maxsize=2048)  # a few hundred issuers: unpack each once, not on every scan
def _unpack_slug(count: int, packed: bytes) -> str:
    number = int.from_bytes(packed, "big")
    if number >= 37**count:
        raise _Malformed("issuer id out of range")
    chars = []
    for _ in range(count):
        number, digit = divmod(number, 37)
        chars.append(_SLUG_ALPHABET[digit])
    return "".join(reversed(chars))


def _split(text: str) -> tuple[int, bytes, bytes]:
    """(format version, body, signature) of a normalized payload, or raise _Malformed."""
    if len(text) > MAX_PAYLOAD_CHARS:
        raise _Malformed("too long for a card")
    prefix = text[:len(PREFIX)]
    if prefix not in PREFIXES:
        if text.startswith(PREFIX[:3]):
            raise _Malformed(f"unsupported card format version {text[3:4]!r}")
        raise _Malformed("not a Passport card (no PYZ1 or PYZ2 prefix)")
    raw = _unb32(text[len(PREFIX):])
    if len(raw) <= SIGNATURE_BYTES:
        raise _Malformed("too short to hold a signature")
    return PREFIXES.index(prefix) + 1, raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]


def _residence_at(body: bytes, pos: int) -> tuple[str, str, int]:
    """(postal code, country, offset after them) at ``pos``."""
    if pos + 2 > len(body):
        raise _Malformed("the body ends early")
    try:
        country = body[pos:pos + 2].decode("ascii")
    except UnicodeDecodeError:
        raise _Malformed("country is not ASCII") from None
    postal_code, pos = _text_at(body, pos + 2, "postal code")
    return postal_code, country, pos


def _programs_at(body: bytes, pos: int) -> tuple[tuple[str, ...], int]:
    """A version 2 card's programs at ``pos`` (canonical only) and the offset after them."""
    bits = _u8_at(body, pos)
    pos += 1
    if bits & ~(_PROGRAM_BITS | _PROGRAM_OTHERS):
        raise _Malformed("unknown program bits")
    programs = [p for i, p in enumerate(PROGRAM_REGISTRY) if bits & (1 << i)]
    if bits & _PROGRAM_OTHERS:
        count = _u8_at(body, pos)
        if count == 0:
            raise _Malformed("other programs flagged but none follow")
        pos += 1
        for _ in range(count):
            program, pos = _issuer_at(body, pos, False)
            if program in PROGRAM_REGISTRY:
                raise _Malformed(f"program {program!r} spelled out: it has a bit")
            programs.append(program)
    try:
        canonical = canonical_programs(programs)
    except CardIssueError as exc:
        raise _Malformed(str(exc)) from None
    if canonical != tuple(programs):
        raise _Malformed("programs not in canonical order")
    return canonical, pos


def _decode(text: str) -> tuple[Card, bytes, bytes]:
    """Split a normalized payload into (card, signed message, signature) or raise _Malformed."""
    version, body, signature = _split(text)
    flags = body[0]
    if flags & ~(_FLAG_RESIDENCE | _FLAG_ISSUER_UTF8):
        raise _Malformed("unknown flags")
    if len(body) < 10:  # flags, key id, expiry, party size
        raise _Malformed("the body ends early")
    key_id = body[1:7].hex()
    expires = _expiry(int.from_bytes(body[7:9], "big"))
    party_size = body[9]
    issuer_id, pos = _issuer_at(body, 10, bool(flags & _FLAG_ISSUER_UTF8))
    member_id, pos = _text_at(body, pos, "member id")
    names = []
    count = _u8_at(body, pos)
    pos += 1
    for _ in range(count):
        name, pos = _text_at(body, pos, "name")
        names.append(name)
    postal_code = country = None
    if flags & _FLAG_RESIDENCE:
        postal_code, country, pos = _residence_at(body, pos)
    programs = DEFAULT_PROGRAMS
    if version == FORMAT_VERSION_PROGRAMS:
        programs, pos = _programs_at(body, pos)
    if pos != len(body):
        raise _Malformed("bytes left over after the last field")
    # The checks of _check_fields in its order, less those the byte layout always passes
    # (key id, expiry range, postal code and country given together; programs checked above).
    try:
        _check_issuer(issuer_id)
        _check_people(member_id, names, party_size)
        if postal_code is not None:
            _check_residence(postal_code, country)
    except CardIssueError as exc:
        raise _Malformed(str(exc)) from None
    if (flags & _FLAG_ISSUER_UTF8) and _SLUG_RE.fullmatch(issuer_id):
        raise _Malformed("issuer id should have been packed")
    card = Card(version, issuer_id, key_id, member_id, tuple(names), party_size,
                expires, postal_code, country, programs)
    return card, PREFIXES[version - 1].encode("ascii") + body, signature


@lru_cache(maxsize=4096)  # a desk sees the same few expiry dates over and over
def _expiry(days: int) -> date:
    return EPOCH + timedelta(days=days)


def decode(payload: str) -> Card:
    """The card a payload claims to be, unverified; raises ``ValueError`` if malformed."""
    try:
        return _decode(normalize_scan(payload))[0]
    except _Malformed as exc:
        raise ValueError(f"malformed card payload: {exc}") from None


# ----------------------------------------------------------------------------- verifying

@lru_cache(maxsize=4096)
def _verified(public_raw: bytes, message: bytes, signature: bytes) -> bool:
    # Raises BadSignatureError on a bad signature, and lru_cache keeps no exception: only
    # successes are remembered, by their exact bytes.
    crypto_sign_open(signature + message, public_raw)
    return True


def _signature_valid(public_key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification, remembering good (key, message, signature) triples.

    Verified by libsodium (PyNaCl), not OpenSSL (``cryptography``): libsodium is the faster
    of the two (``passport bench`` times both, ``ed25519_verify`` and
    ``ed25519_verify_openssl``), and the verification is the bulk of a desk decision on a
    first scan. libsodium is also the stricter verifier (it refuses
    small-order keys and points). The desk verifies the same card again when it logs the
    visit: only successes are kept, by their exact bytes, so a changed byte or another key
    always verifies afresh; revocation and expiry are checked on every call, outside this
    memo.
    """
    try:
        # public_bytes_raw: always 32 bytes, as libsodium reads it
        return _verified(public_key.public_bytes_raw(), message, signature)
    except BadSignatureError:
        return False


def forget_verified_signatures() -> None:
    """Forget every remembered good signature, so the next verification is a first scan."""
    _verified.cache_clear()


def _judge(card: Card, message: bytes, signature: bytes, key: TrustedKey | None,
           member_revoked: bool, on: date) -> CardCheck:
    reasons = []
    if key is None or key.institution_id != card.issuer_id or key.status == keys.RETIRED:
        reasons.append(KEY_UNKNOWN)
    else:
        if not _signature_valid(key.public_key, message, signature):
            reasons.append(CARD_SIGNATURE_INVALID)
        if key.status == keys.REVOKED:
            reasons.append(CARD_REVOKED)
    if member_revoked and CARD_REVOKED not in reasons:
        reasons.append(CARD_REVOKED)
    if on > card.expires:
        reasons.append(CARD_EXPIRED)
    return CardCheck(not reasons, reasons, card)


def _visit_date(on: date | None) -> date:
    if on is None:
        return date.today()
    if isinstance(on, datetime):
        return on.date()
    if not isinstance(on, date):
        raise TypeError(f"the visit date must be a date, not {on!r}")
    return on


def verify_with_trust(
    payload: str,
    trust: Mapping[str, TrustedKey],
    on: date | None,
    revoked: Container[tuple[str, str]] = frozenset(),
) -> CardCheck:
    """Verify ``payload`` against in-memory keys (key id -> TrustedKey) and revoked
    (institution id, member id) pairs, as ``passport.trust.load_trust(db)`` returns them.

    Never raises on a bad payload: reasons, in this order, any of ``CARD_MALFORMED``
    (alone), ``KEY_UNKNOWN``, ``CARD_SIGNATURE_INVALID``, ``CARD_REVOKED``, ``CARD_EXPIRED``.
    A card is valid through its expiry date inclusive (``on`` is the visit date).
    """
    on = _visit_date(on)
    try:
        card, message, signature = _decode(normalize_scan(payload))
    except _Malformed as exc:
        return CardCheck(False, [CARD_MALFORMED], None, str(exc))
    member_revoked = (card.issuer_id, card.member_id) in revoked
    return _judge(card, message, signature, trust.get(card.key_id), member_revoked, on)


def verify(db: sqlite_utils.Database, payload: str, on: date | None = None) -> CardCheck:
    """Verify a scanned or typed payload against the store's trust list on visit date ``on``
    (default: today). Scanner quirks are undone first (``normalize_scan``).

    Never raises on a bad payload; see ``verify_with_trust`` for the reasons. Example::

        check = verify(db, "PYZ1...", date(2026, 5, 1))
        if check.valid: admit(check.card.issuer_id, check.card.expires)
    """
    on = _visit_date(on)
    try:
        card, message, signature = _decode(normalize_scan(payload))
    except _Malformed as exc:
        return CardCheck(False, [CARD_MALFORMED], None, str(exc))
    snapshot = trust_snapshot(db)  # one read while no key or revocation changes
    if snapshot is None:  # a store never stamped: its rows one by one
        key = trusted_key(db, card.key_id)
        member_revoked = is_card_revoked(db, card.issuer_id, card.member_id)
    else:
        key = snapshot[0].get(card.key_id)
        member_revoked = (card.issuer_id, card.member_id) in snapshot[1]
    return _judge(card, message, signature, key, member_revoked, on)


# ----------------------------------------------------------------------------- issuing

def issue(
    db: sqlite_utils.Database,
    institution_id: str,
    member_id: str,
    names: Sequence[str] | str,
    expires: date,
    party_size: int = 1,
    postal_code: str | None = None,
    country: str | None = None,
    programs: Sequence[str] | str | None = None,
) -> str:
    """Sign a card with the institution's current key and return its payload.

    ``party_size`` 1 is an individual membership; a group membership covers the
    program's ``Profile.group_party_size``. Postal codes and countries are upper-cased.
    ``programs``: the programs the membership qualifies for, each a program of this store
    (default ASTC alone: a version 1 card; any other set: version 2). Raises
    ``CardIssueError`` for a bad field, ``keys.KeyStoreError`` when the institution has
    no signing key. Example::

        payload = issue(db, "exploratorium-san-francisco", "M-1042", ["Ada Lovelace"],
                        date(2027, 6, 30), postal_code="94111", country="US",
                        programs=["astc", "narm"])
    """
    chosen = check_known_programs(db, DEFAULT_PROGRAMS if programs is None else programs)
    if isinstance(names, str):
        names = [names]
    if postal_code is not None:
        postal_code = postal_code.strip().upper()
    if country is not None:
        country = country.strip().upper()
    _check_issuer(institution_id)
    key_id, private_key = keys.signing_key(db, institution_id)
    card = Card(card_version(chosen), institution_id, key_id, member_id, tuple(names),
                party_size, expires, postal_code, country, chosen)
    _check_fields(card)
    if is_card_revoked(db, institution_id, member_id):
        raise CardIssueError(
            f"member {member_id!r} of {institution_id} is revoked; issue under a new member id"
        )
    return sign(card, private_key)


# ----------------------------------------------------------------------------- images

def decode_image(path_or_bytes: str | os.PathLike[str] | bytes) -> str:
    """The text of the QR code in an image file or its bytes (PNG, JPEG, ...).

    Prefers a code that holds a Passport payload when the image has several. Raises
    ``CardImageError`` when the image cannot be read or holds no QR code. The text is
    returned as decoded; ``verify`` normalizes it.
    """
    # pillow and zxing-cpp load only when an image is decoded
    import zxingcpp
    from PIL import Image

    source = (io.BytesIO(bytes(path_or_bytes))
              if isinstance(path_or_bytes, (bytes, bytearray, memoryview)) else path_or_bytes)
    try:
        with warnings.catch_warnings():
            # A huge image is refused rather than decoded (memory on the kiosk's server).
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                gray = image.convert("L")
    except FileNotFoundError:
        raise CardImageError(f"no such image file: {path_or_bytes}") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise CardImageError(f"cannot read the image: {exc}") from None
    found = [r.text for r in zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)
             if r.valid and r.text]
    if not found:
        raise CardImageError("no QR code found in the image")
    for text in found:
        if normalize_scan(text).startswith(PREFIX):
            return text
    return found[0]
