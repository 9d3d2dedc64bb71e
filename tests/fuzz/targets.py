"""Fuzz targets: the card decoder and the list importer, each a function of one byte string
that returns quietly or raises ``Escaped`` (an undocumented outcome).

Both drivers call them: coverage-guided atheris in ``make fuzz`` (tests/fuzz/run.py) and a
short derandomized mutation loop in ``make test`` (tests/test_fuzz_targets.py). The seeds
are real inputs: cards signed with a real Ed25519 key, and the shipped participant list as
CSV, JSON and XLSX.

What each entry point documents, and so the only outcomes allowed:

- ``passport.cards.decode(payload)``: a ``Card``, or ``ValueError`` ("malformed card
  payload: ..."). ``verify_with_trust`` never raises: a ``CardCheck`` whose reasons are
  ``CARD_MALFORMED`` alone (exactly when ``decode`` refuses) or any of ``KEY_UNKNOWN``,
  ``CARD_SIGNATURE_INVALID``, ``CARD_REVOKED``, ``CARD_EXPIRED``; valid only when no reason
  applies, and then it must be one of the cards we signed (no forgery is admitted).
- ``passport.importer.parse_bytes(data, filename)``: a ``ParsedList``, or
  ``ListValidationError`` with at least one ``RowError``. A list it accepts has valid ids,
  coordinates in range and no cell a spreadsheet would run as a formula.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
import zipfile
from datetime import date, datetime
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passport import cards, importer, keys
from passport.ids import is_institution_id
from passport.trust import TrustedKey

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_CSV = ROOT / "data" / "institutions.csv"
VISIT_DAY = date(2026, 6, 15)
# The first byte of a fuzz input says how the rest is read (its value modulo the count).
CARD_MODES = ("text", "body")  # the payload as typed, or the bytes under PYZ1 + base32
LIST_MODES = ("csv", "json", "xlsx", "xlsx-parts")
# xlsx-parts: the fuzzed sheet and shared strings, in a real workbook's zip (so the XML
# parser is reached: a mutated zip fails its CRC check before any XML is read).
PART_SEPARATOR = b"\n--sharedStrings--\n"
SHEET, SHARED = "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"
SEED_ROWS = 4
OTHER_ISSUER = "Science_Centre.Two"  # not a slug: the card carries it as UTF-8


class Escaped(AssertionError):
    """An entry point answered outside what it documents (a fuzzing finding)."""


# --------------------------------------------------------------------------- cards

@cache
def _keys() -> tuple[Ed25519PrivateKey, ...]:
    # Fixed private keys: Ed25519 signatures are deterministic, so the seeds are too.
    return tuple(Ed25519PrivateKey.from_private_bytes(bytes(range(start, start + 32)))
                 for start in (0, 32, 64))


def _key_id(private: Ed25519PrivateKey) -> str:
    return keys.key_id_for(private.public_key().public_bytes_raw())


@cache
def card_trust() -> tuple[dict[str, TrustedKey], frozenset[tuple[str, str]]]:
    """(trust list, revoked members): two issuers' active keys and one revoked key."""
    statuses = (("science-center-one", keys.ACTIVE), ("science-center-one", keys.REVOKED),
                (OTHER_ISSUER, keys.ACTIVE))
    trust = {_key_id(key): TrustedKey(_key_id(key), issuer, key.public_key(), status)
             for key, (issuer, status) in zip(_keys(), statuses, strict=True)}
    return trust, frozenset({("science-center-one", "M-REVOKED")})


def _card(member_id: str, names: tuple[str, ...], **fields) -> cards.Card:
    base = {"version": cards.FORMAT_VERSION, "issuer_id": "science-center-one",
            "key_id": _key_id(_keys()[0]), "member_id": member_id, "names": names,
            "party_size": 6, "expires": date(2099, 6, 30)}
    return cards.Card(**{**base, **fields})


@cache
def card_payloads() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(genuine valid payloads, other real payloads that must be refused)."""
    active, revoked, other = _keys()
    valid = (
        cards.sign(_card("M-1042", ("Ada Lovelace", "Charles Babbage")), active),
        cards.sign(_card("M-7", ("Grace Hopper",), party_size=1, postal_code="94110",
                         country="US"), active),
        cards.sign(_card("Z-ü", ("Émilie du Châtelet",), issuer_id=OTHER_ISSUER,
                         key_id=_key_id(other)), other),
    )
    refused = (
        cards.sign(_card("M-OLD", ("Old Member",), expires=date(2020, 1, 1)), active),
        cards.sign(_card("M-REVOKED", ("Revoked Member",)), active),
        cards.sign(_card("M-9", ("Key Revoked",), key_id=_key_id(revoked)), revoked),
        cards.sign(_card("M-10", ("Wrong Issuer",), key_id=_key_id(other)), other),
    )
    return valid, refused


def card_seeds() -> list[bytes]:
    """Every real payload in both modes: as typed (mode 0) and as raw bytes (mode 1)."""
    valid, refused = card_payloads()
    seeds = []
    for payload in valid + refused:
        seeds.append(b"\x00" + payload.encode("ascii"))
        raw = payload[len(cards.PREFIX):]
        seeds.append(b"\x01" + base64.b32decode(raw + "=" * (-len(raw) % 8)))
    # As a scanner behind Caps Lock types it, with its Enter: still the genuine card.
    seeds.append(b"\x00" + f" {valid[0].lower()}\r\n".encode("ascii"))
    return seeds


def card_input(data: bytes) -> str:
    """The payload a fuzz input stands for."""
    if not data:
        return ""
    if CARD_MODES[data[0] % len(CARD_MODES)] == "body":
        return cards.PREFIX + base64.b32encode(data[1:]).decode("ascii").rstrip("=")
    return data[1:].decode("utf-8", errors="surrogateescape")


def card_target(data: bytes) -> None:
    """Decode and verify one payload; raise ``Escaped`` on anything undocumented."""
    payload = card_input(data)
    try:
        decoded = cards.decode(payload)
    except ValueError as exc:
        if not str(exc).startswith("malformed card payload: "):
            raise Escaped(f"decode raised an unexpected ValueError: {exc}") from exc
        decoded = None
    trust, revoked = card_trust()
    check = cards.verify_with_trust(payload, trust, VISIT_DAY, revoked)
    if (decoded is None) != (cards.CARD_MALFORMED in check.reasons):
        raise Escaped(f"decode and verify disagree on {payload!r}: {check.reasons}")
    if cards.CARD_MALFORMED in check.reasons and (check.reasons != [cards.CARD_MALFORMED]
                                                 or check.card is not None):
        raise Escaped(f"CARD_MALFORMED must stand alone: {check.reasons}")
    if check.valid != (not check.reasons):
        raise Escaped(f"valid={check.valid} with reasons {check.reasons}")
    if check.valid and cards.normalize_scan(payload) not in card_payloads()[0]:
        raise Escaped(f"a payload we never signed was admitted: {payload!r}")
    if decoded is not None and decoded != check.card:
        raise Escaped(f"decode and verify read different cards from {payload!r}")


# --------------------------------------------------------------------------- lists

@cache
def _shipped_rows() -> tuple[list[str], list[list[str]]]:
    with SHIPPED_CSV.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


def _csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode("utf-8")


FIXED_TIME = datetime(2026, 1, 1)


def _xlsx_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.properties.created = workbook.properties.modified = FIXED_TIME
    sheet = workbook.active
    for row in [header, *rows]:
        sheet.append(row)
    saved = io.BytesIO()
    workbook.save(saved)
    # The same bytes on every run (the mutations are seeded): openpyxl stamps each ZIP
    # entry with the time of saving, so the parts are written again with a fixed one.
    out = io.BytesIO()
    with zipfile.ZipFile(saved) as archive, zipfile.ZipFile(out, "w") as fixed:
        for info in archive.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            content = archive.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl sets "modified" on save
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z",
                                 content)
            fixed.writestr(entry, content)
    return out.getvalue()


_INLINE_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)" t="inlineStr"><is><t>(.*?)</t></is></c>')
_SHARED_TYPE = (b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
_SHARED_REL = (b'<Relationship Id="rIdShared" Type="http://schemas.openxmlformats.org/'
               b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>')


@cache
def _workbook_template() -> dict[str, bytes]:
    """The parts of a real workbook of the first seed rows, written by openpyxl and moved
    to a shared-strings table as Excel writes it (openpyxl writes inline strings)."""
    header, rows = _shipped_rows()
    with zipfile.ZipFile(io.BytesIO(_xlsx_bytes(header, rows[:SEED_ROWS]))) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    strings: list[bytes] = []

    def shared(match: re.Match) -> bytes:
        strings.append(match.group(2))
        return b'<c r="%s" t="s"><v>%d</v></c>' % (match.group(1), len(strings) - 1)

    parts[SHEET] = _INLINE_CELL.sub(shared, parts[SHEET])
    parts[SHARED] = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
                     b' count="%d" uniqueCount="%d">' % (len(strings), len(strings))
                     + b"".join(b"<si><t>%s</t></si>" % text for text in strings) + b"</sst>")
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", _SHARED_TYPE + b"</Types>")
    rels = "xl/_rels/workbook.xml.rels"
    parts[rels] = parts[rels].replace(b"</Relationships>", _SHARED_REL + b"</Relationships>")
    return parts


def workbook_from_parts(sheet_xml: bytes, shared_xml: bytes) -> bytes:
    """A workbook whose sheet and shared strings are these bytes, its other parts real."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, content in _workbook_template().items():
            archive.writestr(name, {SHEET: sheet_xml, SHARED: shared_xml}.get(name, content))
    return out.getvalue()


def list_seeds() -> list[bytes]:
    """The first rows of the shipped list in each mode, plus the whole list as CSV."""
    header, rows = _shipped_rows()
    few = rows[:SEED_ROWS]
    records = [dict(zip(header, row, strict=True)) for row in few]
    parts = _workbook_template()
    return [
        b"\x00" + _csv_bytes(header, few),
        b"\x00" + SHIPPED_CSV.read_bytes(),
        b"\x01" + json.dumps(records).encode("utf-8"),
        b"\x01" + json.dumps({"institutions": records[:1]}).encode("utf-8"),
        b"\x02" + _xlsx_bytes(header, few),
        b"\x03" + parts[SHEET] + PART_SEPARATOR + parts[SHARED],
    ]


def list_input(data: bytes) -> tuple[bytes, str]:
    """(file bytes, file name) that a fuzz input stands for."""
    if not data:
        return b"", "list.csv"
    mode, rest = LIST_MODES[data[0] % len(LIST_MODES)], data[1:]
    if mode == "xlsx-parts":
        sheet_xml, _, shared_xml = rest.partition(PART_SEPARATOR)
        return workbook_from_parts(sheet_xml, shared_xml), "list.xlsx"
    return rest, f"list.{mode}"


def list_target(data: bytes) -> None:
    """Parse one upload; raise ``Escaped`` on anything undocumented."""
    content, filename = list_input(data)
    try:
        parsed = importer.parse_bytes(content, filename)
    except importer.ListValidationError as exc:
        if not exc.errors or not all(isinstance(e, importer.RowError) and e.message
                                     for e in exc.errors):
            raise Escaped(f"a ListValidationError without its errors: {exc.errors!r}") from exc
        return
    if not parsed.records:
        raise Escaped("a list with no institution was accepted")
    for record in parsed.records:
        _check_record(record)


def _check_record(record: dict) -> None:
    if not is_institution_id(record["id"]):
        raise Escaped(f"accepted an invalid id {record['id']!r}")
    lat, lon = record.get("latitude"), record.get("longitude")
    if lat is not None and not (math.isfinite(lat) and -90 <= lat <= 90
                                and math.isfinite(lon) and -180 <= lon <= 180):
        raise Escaped(f"accepted coordinates out of range: {lat!r}, {lon!r}")
    for column in importer.TEXT_COLUMNS:
        value = record.get(column)
        if isinstance(value, str) and value.startswith(importer.FORMULA_PREFIXES):
            raise Escaped(f"{column} {value!r} would run as a spreadsheet formula")


TARGETS = {"cards": (card_target, card_seeds), "lists": (list_target, list_seeds)}
