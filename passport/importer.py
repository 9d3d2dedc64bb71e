"""Reading and validating a participant-list upload (CSV, XLSX or JSON).

``parse_file(path)`` / ``parse_bytes(data, filename)`` return a ``ParsedList`` of clean
records ready for the store, or raise ``ListValidationError`` whose ``.errors`` lists EVERY
problem found as ``RowError(row, column, message)``. Nothing here writes anything.

Row numbers are the ones a spreadsheet user sees: the header is row 1, the first data row
is row 2 (blank lines count, as they show as blank rows). In a JSON upload the row is the
1-based position of the object in the list. ``row`` is None for problems with the whole
file (empty, wrong type, too large, not decodable).

Columns (header names are matched case-insensitively; spaces and hyphens count as ``_``;
``lat``/``lng``/``zip``/``state``... are accepted aliases): ``id``, ``name``, ``country``
(required); ``latitude`` + ``longitude``, or ``postal_code`` to geocode offline; optional
``address``, ``city``, ``region``, ``website``, ``restrictions`` (free text shown to staff and
members), ``timezone`` (computed from the coordinates when absent) and the structured terms
``proof_of_residence``, ``reservation_required``, ``store_discount_only`` (yes/no),
``local_radius_miles``, ``local_discount_percent`` (numbers). Other programs' lists add
``phone``, ``symbols`` (NARM), ``excluded_venue``, ``benefit`` (AZA) and ``coord_precision``
(``passport.listterms`` reads them into terms). Other columns are ignored and reported as a
warning.

Where a program has no program-wide radius (``place_by_town``), a row without coordinates or
postal code is placed at its town's centre by the offline gazetteer (``passport.places``) and
the import report lists it; for a program with a radius such a row stays an error (a town's
centre is too rough at the boundary). Country ``PR`` (and the other US territories' ISO codes)
is read as country ``US`` with that region, as USPS addresses and the ASTC list write it.

Spreadsheet formula injection: text that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or
carriage return) is stored with a leading ``'`` so that no spreadsheet ever evaluates it,
and ``inert()`` applies the same rule to anything exported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import warnings
import zipfile
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from passport.geocode import (
    COUNTRY_CODE_MISTAKES,
    GeocodeError,
    geocode_postal,
    iso_country_codes,
    normalize_country,
    normalize_us_zip,
    timezone_at,
)
from passport.ids import is_institution_id
from passport.listterms import (
    FILE_COLUMNS,
    GAZETTEER_SOURCE,
    RECORD_COLUMNS,
    read_precision,
    read_terms,
    split_name_marker,
)
from passport.uploadlimits import (
    UploadLimitError,
    check_cell_count,
    check_xlsx,
    load_json,
)

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # a full program list is ~60 KB; 5 MB leaves room for XLSX
MAX_ROWS = 20_000
MAX_TEXT_CHARS = {"name": 200, "address": 300, "city": 100, "region": 100,
                  "postal_code": 20, "website": 500, "restrictions": 2000}
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
SUPPORTED_SUFFIXES = (*CSV_SUFFIXES, ".xlsx", ".json")
CSV_DELIMITERS = (",", ";", "\t", "|")

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")

REQUIRED_COLUMNS = ("id", "name", "country")
TEXT_COLUMNS = ("name", "address", "city", "region", "postal_code", "website", "restrictions")
BOOL_COLUMNS = ("proof_of_residence", "reservation_required", "store_discount_only")
# column -> (lowest, highest) allowed value
NUMBER_COLUMNS = {"local_radius_miles": (0.0, 1000.0), "local_discount_percent": (0.0, 100.0)}
KNOWN_COLUMNS = (
    "id", "name", "address", "city", "region", "country", "postal_code", "latitude",
    "longitude", "timezone", "website", "restrictions", *BOOL_COLUMNS, *NUMBER_COLUMNS,
    "coord_source", *FILE_COLUMNS,
)
# The keys of a validated record: the known columns (``benefit`` is read as
# ``benefit_tier``) and the terms they become.
RECORD_KEYS = tuple(dict.fromkeys([*(c for c in KNOWN_COLUMNS if c != "benefit"),
                                   *RECORD_COLUMNS]))
# US territories by their ISO codes, which are also their USPS region codes: stored as
# country US with that region (the ASTC list's form; the country box of US covers them).
US_TERRITORIES = ("PR", "VI", "GU", "AS", "MP")
HEADER_ALIASES = {
    "lat": "latitude", "lat_deg": "latitude", "lon": "longitude", "lng": "longitude",
    "long": "longitude", "lon_deg": "longitude", "zip": "postal_code", "zip_code": "postal_code",
    "zipcode": "postal_code", "postcode": "postal_code", "postal": "postal_code",
    "state": "region", "province": "region", "url": "website", "terms": "restrictions",
    "institution_id": "id", "institution": "name", "tz": "timezone",
}
_TRUE = {"1", "true", "yes", "y", "t", "x", "✓", "required"}
_FALSE = {"", "0", "false", "no", "n", "f", "-", "not required"}

# Country bounding boxes (lon_min, lat_min, lon_max, lat_max), generous by ~0.5 degree, from
# the countries' extreme points; several boxes where a country has distant parts. They catch
# swapped or sign-flipped coordinates, not borders.
COUNTRY_BOXES: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "US": (
        (-125.5, 24.0, -66.5, 49.5),     # contiguous states
        (-180.0, 51.0, -129.5, 71.8),    # Alaska
        (172.0, 51.0, 180.0, 53.5),      # Aleutians west of 180
        (-161.0, 18.5, -154.5, 22.6),    # Hawaii
        (-68.0, 17.6, -65.1, 18.7),      # Puerto Rico
        (-65.2, 17.6, -64.5, 18.5),      # US Virgin Islands
        (144.5, 13.1, 146.2, 20.7),      # Guam and Northern Mariana Islands
        (-171.2, -14.7, -168.0, -10.9),  # American Samoa
    ),
    "CA": ((-141.5, 41.5, -52.3, 83.5),),
    "AU": ((112.5, -44.0, 154.0, -9.9),),
    "BM": ((-65.0, 32.1, -64.5, 32.5),),
    "CZ": ((12.0, 48.5, 19.0, 51.1),),
    "IL": ((34.2, 29.4, 35.95, 33.4),),
    "MY": ((99.5, 0.8, 119.4, 7.5),),
    "PH": ((116.8, 4.5, 126.7, 21.2),),
    "SG": ((103.55, 1.15, 104.1, 1.5),),
    "MX": ((-118.5, 14.5, -86.7, 32.8),),
    "GB": ((-8.7, 49.8, 1.8, 60.9),),
    "NZ": ((166.0, -47.4, 178.7, -34.3),),
}


class RowError(NamedTuple):
    """One problem in an upload: 1-based spreadsheet row (None: whole file), column, message."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = "file" if self.row is None else f"row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class ListValidationError(ValueError):
    """The uploaded list has problems; nothing was published."""

    def __init__(self, errors: list[RowError]):
        self.errors = list(errors)
        first = str(self.errors[0]) if self.errors else "invalid list"
        more = f" (and {len(self.errors) - 1} more problems)" if len(self.errors) > 1 else ""
        super().__init__(first + more)


@dataclass(frozen=True)
class TableShape:
    """How one kind of upload is read: its header names, its row limit, the key of the list
    in a JSON object, and how a JSON list cell is written as text (None: refused)."""

    normalize: Callable[[Any], str]
    max_rows: int = MAX_ROWS
    json_key: str = "institutions"
    json_list_separator: str | None = None


@dataclass
class ParsedList:
    """A validated upload: records with every store column, plus provenance and warnings."""

    records: list[dict[str, Any]]
    source_name: str
    sha256: str
    warnings: list[str] = field(default_factory=list)


def inert(value: Any) -> Any:
    """Text made safe for spreadsheets: a leading ``'`` before =, +, -, @, tab or CR.

    Idempotent, and non-text values pass through, so exports may apply it to every cell.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def normalize_header(name: Any) -> str:
    """``" Postal Code "`` -> ``postal_code``; aliases such as ``lat`` -> ``latitude``."""
    text = str(name if name is not None else "").replace("\ufeff", "").strip().strip('"').lower()
    text = re.sub(r"[\s\-/]+", "_", text)
    return HEADER_ALIASES.get(text, text)


# --------------------------------------------------------------------------- entry points

def parse_file(path: str | Path, *, place_by_town: bool = False) -> ParsedList:
    """Read and validate the upload at ``path`` (CSV, XLSX or JSON by content and name);
    ``place_by_town``: place rows without coordinates at their town (module docstring)."""
    file_path = Path(path)
    try:
        size = file_path.stat().st_size
    except OSError as exc:
        raise ListValidationError([RowError(None, None, f"cannot read {file_path.name}: "
                                            f"{exc.strerror or exc}")]) from exc
    if size > MAX_UPLOAD_BYTES:
        raise ListValidationError([_too_large(size)])
    return parse_bytes(file_path.read_bytes(), file_path.name, place_by_town=place_by_town)


def parse_bytes(data: bytes, filename: str, *, place_by_town: bool = False) -> ParsedList:
    """Read and validate an upload given as bytes (a web upload); ``filename`` picks the type."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ListValidationError([_too_large(len(data))])
    warnings_out: list[str] = []
    header, rows, header_row = read_table(data, filename, warnings_out, LIST_SHAPE)
    records = _validate(header, rows, header_row, warnings_out, place_by_town)
    return ParsedList(
        records=records,
        source_name=Path(filename).name,
        sha256=hashlib.sha256(data).hexdigest(),
        warnings=warnings_out,
    )


def _too_large(size: int) -> RowError:
    return RowError(None, None, f"the file is {size / 1e6:.1f} MB; the limit is "
                                f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB")


def _file_error(message: str) -> ListValidationError:
    return ListValidationError([RowError(None, None, message)])


# --------------------------------------------------------------------------- reading

Rows = list[tuple[int, dict[str, str]]]
LIST_SHAPE = TableShape(normalize_header)


def read_table(data: bytes, filename: str, warnings_out: list[str],
               shape: TableShape = LIST_SHAPE) -> tuple[list[str] | None, Rows, int | None]:
    """(normalised header or None for JSON, [(row number, {column: text})], header row).

    The reading layer of every upload (participant lists, member rosters): CSV with any of
    ``CSV_DELIMITERS``, UTF-8 with or without BOM, Windows-1252, UTF-16; XLSX (first sheet);
    JSON. Raises ``ListValidationError`` for a file that cannot be read as a table."""
    suffix = Path(filename).suffix.lower()
    if not data.strip():
        raise _file_error("the file is empty")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _file_error("this is an old Excel .xls workbook; save it as .xlsx or CSV")
    if data.startswith(b"%PDF"):
        raise _file_error("this is a PDF; upload the list as CSV, XLSX or JSON")
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "(no extension)"
        raise _file_error(f"unsupported file type {shown}; upload a .csv, .xlsx or .json file")
    if data.startswith(b"PK\x03\x04"):
        if suffix != ".xlsx":
            raise _file_error(f"the file is named {suffix} but is a ZIP/XLSX archive; "
                              "name it .xlsx or export it as CSV")
        try:
            check_xlsx(data)  # before openpyxl inflates anything (uploadlimits: ZIP bombs)
        except UploadLimitError as exc:
            raise _file_error(f"refused: {exc}") from None
        return _read_xlsx(data, shape)
    if suffix == ".xlsx":
        raise _file_error("the file is named .xlsx but is not an Excel workbook")
    text = _decode(data, warnings_out)
    if "\x00" in text:
        raise _file_error("the file contains binary data, not text")
    if suffix == ".json":
        header, rows = _read_json(text, shape)
        return header, rows, None
    return _read_csv(text, shape)


def _decode(data: bytes, warnings_out: list[str]) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode Text" export is UTF-16 with a byte-order mark.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _file_error("the file claims UTF-16 but cannot be decoded") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise _file_error(
            "the file is not UTF-8 or Windows-1252 text; in Excel use Save As > 'CSV UTF-8'"
        ) from exc
    warnings_out.append(
        "The file is not UTF-8; it was read as Windows-1252 (Excel's plain 'CSV' export). "
        "Check accented names, or save it as 'CSV UTF-8' next time."
    )
    return text


def _sniff_delimiter(text: str) -> str:
    # The header line holds plain column names, so counting candidates there is reliable
    # where csv.Sniffer guesses wrong on short files.
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in CSV_DELIMITERS}
    best = max(CSV_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(text: str, shape: TableShape) -> tuple[list[str], Rows, int]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    header: list[str] | None = None
    header_row = 0
    rows: Rows = []
    try:
        for row_number, cells in enumerate(reader, start=1):
            if header is None:
                if not any(c.strip() for c in cells):
                    continue
                header, header_row = [shape.normalize(c) for c in cells], row_number
                continue
            rows.append((row_number, _cells_to_row(header, cells, row_number)))
            if len(rows) > shape.max_rows:
                raise _file_error(f"more than {shape.max_rows} rows")
    except csv.Error as exc:
        raise _file_error(f"the CSV cannot be read near row {reader.line_num}: {exc}") from exc
    if header is None:
        raise _file_error("the file is empty")
    return header, rows, header_row


_EXTRA = "\x00extra"  # marker key for cells beyond the header (reported by the validator)
EXTRA_CELLS = _EXTRA  # the same marker for other validators of ``read_table``'s rows


def _cells_to_row(header: list[str], cells: list[Any], row_number: int) -> dict[str, str]:
    row = {name: _cell_text(cells[i]) if i < len(cells) else ""
           for i, name in enumerate(header) if name}
    extra = [c for c in cells[len(header):] if _cell_text(c)]
    if extra:
        row[_EXTRA] = f"{len(cells)} cells but the header has {len(header)} columns " \
                      "(an unquoted comma or delimiter in a value?)"
    return row


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).replace("\ufeff", "").strip()  # stray byte-order marks are invisible


def _read_xlsx(data: bytes, shape: TableShape) -> tuple[list[str], Rows, int]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    # openpyxl documents no exceptions; on a damaged or hostile workbook it raises these
    # (atheris, tests/fuzz: the XML parser's ParseError, a SyntaxError; TypeError and
    # IndexError from elements and attributes outside the schema), while loading and, as
    # read-only sheets are parsed lazily, while iterating rows.
    unreadable = (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError,
                  SyntaxError, TypeError, IndexError, AttributeError)
    try:
        # openpyxl warns about styles/extensions it does not know; they do not matter here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except unreadable as exc:
        raise _file_error("the file is not a readable Excel .xlsx workbook") from exc
    try:
        return _xlsx_table(workbook.worksheets[0], shape)
    except ListValidationError:
        raise
    except unreadable as exc:
        raise _file_error("the file is not a readable Excel .xlsx workbook") from exc
    finally:
        workbook.close()


def _xlsx_table(sheet: Any, shape: TableShape) -> tuple[list[str], Rows, int]:
    """``_read_xlsx`` of one sheet: the header is the first row with text."""
    header: list[str] | None = None
    header_row = cells_seen = 0
    rows: Rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for row_number, cells in enumerate(sheet.iter_rows(min_row=1, values_only=True),
                                           start=1):
            cells_seen += max(len(cells), 1)  # <dimension> is optional or may lie
            try:
                check_cell_count(cells_seen)
            except UploadLimitError as exc:
                raise _file_error(f"refused: {exc}") from None
            if header is None:
                if not any(_cell_text(c) for c in cells):
                    continue
                header, header_row = [shape.normalize(c) for c in cells], row_number
                continue
            if not any(_cell_text(c) for c in cells):
                continue  # read-only sheets report formatted-but-empty rows
            rows.append((row_number, _cells_to_row(header, list(cells), row_number)))
            if len(rows) > shape.max_rows:
                raise _file_error(f"more than {shape.max_rows} rows")
    if header is None:
        raise _file_error("the workbook's first sheet is empty")
    return header, rows, header_row


def _read_json(text: str, shape: TableShape) -> tuple[None, Rows]:
    try:
        document = load_json(text)  # nesting bounded (uploadlimits.MAX_JSON_DEPTH)
    except UploadLimitError as exc:
        raise _file_error(f"refused: {exc}") from None
    except json.JSONDecodeError as exc:
        raise _file_error(f"not valid JSON: {exc.msg} at line {exc.lineno} "
                          f"column {exc.colno}") from exc
    if isinstance(document, dict) and shape.json_key in document:
        document = document[shape.json_key]
    if not isinstance(document, list):
        raise _file_error(f'JSON must be a list of objects or {{"{shape.json_key}": [...]}}')
    if len(document) > shape.max_rows:
        raise _file_error(f"more than {shape.max_rows} rows")
    rows: Rows = []
    problems: list[RowError] = []
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            problems.append(RowError(number, None, "item is not an object"))
            continue
        row: dict[str, str] = {}
        for key, value in item.items():
            column = shape.normalize(key)
            if (isinstance(value, list) and shape.json_list_separator is not None
                    and all(isinstance(v, str | int | float) for v in value)):
                row[column] = shape.json_list_separator.join(_cell_text(v) for v in value)
                continue
            if isinstance(value, dict | list):
                problems.append(RowError(number, column, "must be text or a number, "
                                                         f"not a JSON {type(value).__name__}"))
                continue
            row[column] = _cell_text(value)
        rows.append((number, row))
    if problems:
        raise ListValidationError(problems)
    return None, rows


# --------------------------------------------------------------------------- validation

def _validate(header: list[str] | None, rows: Rows, header_row: int | None,
              warnings_out: list[str], place_by_town: bool = False) -> list[dict[str, Any]]:
    if header is not None:
        columns = [c for c in header if c]
        errors = _check_header(columns, header_row)
    else:
        columns = sorted({c for _, row in rows for c in row})
        errors = _check_header(columns, None)
    if errors:
        raise ListValidationError(errors)
    if not rows:
        raise _file_error("the file has a header but no data rows")
    ignored = sorted(set(columns) - set(KNOWN_COLUMNS))
    if ignored:
        warnings_out.append("ignored unknown columns: " + ", ".join(ignored))

    records: list[dict[str, Any]] = []
    ids_seen: dict[str, int] = {}
    places_seen: dict[tuple[str, float, float], int] = {}
    for row_number, row in rows:
        if not any(v for k, v in row.items() if k != _EXTRA):
            continue  # a blank line between rows is not an institution
        _move_name_marker(row_number, row, warnings_out)
        record = _validate_row(row_number, row, errors, place_by_town)
        if record is None:
            continue
        id_key = record["id"].casefold()
        if id_key in ids_seen:
            errors.append(RowError(row_number, "id", f"duplicate id '{record['id']}' "
                                                     f"(first on row {ids_seen[id_key]})"))
        else:
            ids_seen[id_key] = row_number
        if record["latitude"] is not None:
            place = (record["name"].casefold(), round(record["latitude"], 4),
                     round(record["longitude"], 4))
            if place in places_seen:
                errors.append(RowError(row_number, "name", "duplicate: same name at the same "
                                       f"coordinates as row {places_seen[place]}"))
            else:
                places_seen[place] = row_number
        records.append(record)
    if not records and not errors:
        errors.append(RowError(None, None, "the file has no data rows"))
    if errors:
        raise ListValidationError(errors)
    _fill_timezones(records)
    _report_placed(rows, records, warnings_out)
    return records


def _move_name_marker(row_number: int, row: dict[str, str], warnings_out: list[str]) -> None:
    """A list with symbols whose marker stayed at the end of a name ("Newfields  **", as a
    PDF parse leaves it): the marker is the row's symbols and the name is clean."""
    if "symbols" not in row or row["symbols"].strip():
        return
    name, marker = split_name_marker(row.get("name", ""))
    if marker:
        row["name"], row["symbols"] = name, marker
        warnings_out.append(f"row {row_number}: the name ended in the marker {marker!r}; "
                            f"read as its symbols (name {name[:60]!r})")


def _report_placed(rows: Rows, records: list[dict[str, Any]], warnings_out: list[str]) -> None:
    placed = [(n, r) for (n, _), r in zip(_data_rows(rows), records, strict=True)
              if r["coord_source"] == GAZETTEER_SOURCE]
    if placed:
        warnings_out.append(
            f"{len(placed)} row(s) without coordinates placed at their town's centre by the "
            "offline gazetteer (passport/places.py; coord_precision city): " + "; ".join(
                f"row {n} {r['name']} ({r['city']}, {r['region'] or r['country']})"
                for n, r in placed))


def _data_rows(rows: Rows) -> Rows:
    """The rows ``_validate`` made records of (blank lines left out)."""
    return [(n, row) for n, row in rows if any(v for k, v in row.items() if k != _EXTRA)]


def _check_header(columns: list[str], header_row: int | None) -> list[RowError]:
    errors: list[RowError] = []
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            errors.append(RowError(header_row, column, f"column '{column}' appears twice"))
        seen.add(column)
    for column in REQUIRED_COLUMNS:
        if column not in seen:
            errors.append(RowError(header_row, column, f"missing column '{column}'"))
    has_lat, has_lon = "latitude" in seen, "longitude" in seen
    if has_lat != has_lon:
        missing = "longitude" if has_lat else "latitude"
        errors.append(RowError(header_row, missing, f"missing column '{missing}'"))
    elif not has_lat and "postal_code" not in seen:
        errors.append(RowError(header_row, "latitude", "missing columns 'latitude' and "
                               "'longitude' (or 'postal_code' to locate each row)"))
    return errors


# Adds one problem of the row being validated: err(column, message).
_Err = Callable[[str | None, str], None]


def _validate_row(row_number: int, row: dict[str, str], errors: list[RowError],
                  place_by_town: bool = False) -> dict[str, Any] | None:
    """One data row as a clean record, or None after adding its problems to ``errors``."""
    start = len(errors)

    def err(column: str | None, message: str) -> None:
        errors.append(RowError(row_number, column, message))

    if _EXTRA in row:
        err(None, "the row has " + row[_EXTRA])
    for column, value in row.items():
        if column != _EXTRA and _CONTROL_CHARS.search(value):
            err(column, "contains control characters")

    record: dict[str, Any] = dict.fromkeys(RECORD_KEYS)
    record["id"] = _validate_id(row, err)
    _validate_text(row, record, err)
    country = record["country"] = _validate_country(row, record, err)
    if country == "US" and record["postal_code"]:
        _fix_us_zip(record, err)
    _validate_coordinates(row, record, country, err, place_by_town)
    _validate_terms(row, record, err)
    read_terms(row, record, err)
    _validate_website(record, err)
    _validate_timezone(row, record, err)
    record["coord_source"] = record["coord_source"] or row.get("coord_source", "").strip() or None
    read_precision(row, record, err)

    for column in ("name", "address", "city", "region", "restrictions", "coord_source",
                   "phone", "excluded_venue"):
        record[column] = inert(record[column])
    return record if len(errors) == start else None


def _validate_id(row: dict[str, str], err: _Err) -> str:
    record_id = row.get("id", "").strip()
    if not record_id:
        err("id", "id is empty")
    elif not is_institution_id(record_id):
        err("id", f"id '{record_id[:40]}' may contain only letters, digits, '.', '_', ':' and "
                  "'-', start with a letter or digit, and be at most 100 characters")
    return record_id


def _validate_text(row: dict[str, str], record: dict[str, Any], err: _Err) -> None:
    for column in TEXT_COLUMNS:
        value = row.get(column, "").strip()
        limit = MAX_TEXT_CHARS[column]
        if len(value) > limit:
            err(column, f"{column} is {len(value)} characters long; the limit is {limit}")
        record[column] = value or None
    if not record["name"]:
        err("name", "name is empty")


def _validate_country(row: dict[str, str], record: dict[str, Any], err: _Err) -> str | None:
    country = normalize_country(row.get("country"))
    if country in US_TERRITORIES and (record["region"] or country).upper() == country:
        record["region"] = country  # NARM's Puerto Rico row: US, region PR
        return "US"
    if not country:
        err("country", "country is empty (use a two-letter code such as US or CA)")
    elif not re.fullmatch(r"[A-Z]{2}", country):
        err("country", f"country '{row.get('country', '')[:40]}' is not a two-letter ISO "
                       "code (e.g. US, CA)")
    elif country in COUNTRY_CODE_MISTAKES:
        err("country", f"country '{country}' is not an ISO 3166 code; did you mean "
                       f"'{COUNTRY_CODE_MISTAKES[country]}'?")
    elif country not in iso_country_codes():
        err("country", f"country '{country}' is not an ISO 3166 country code")
    return country


def _fix_us_zip(record: dict[str, Any], err: _Err) -> None:
    zip5 = normalize_us_zip(record["postal_code"])
    if zip5 is None:
        err("postal_code", f"'{record['postal_code']}' is not a US ZIP code")
    elif len(record["postal_code"]) < 5:
        record["postal_code"] = zip5  # Excel drops the leading zeros of 02134


def _validate_terms(row: dict[str, str], record: dict[str, Any], err: _Err) -> None:
    """The structured terms: yes/no columns and bounded numbers."""
    for column in BOOL_COLUMNS:
        value = row.get(column, "").strip().lower()
        if value in _TRUE:
            record[column] = 1
        elif value in _FALSE:
            record[column] = 0
        else:
            err(column, f"{column} '{row[column][:40]}' is not yes/no (use 1/0, yes/no, "
                        "true/false)")
            record[column] = 0
    for column, (low, high) in NUMBER_COLUMNS.items():
        text = row.get(column, "").strip()
        if not text:
            continue
        number = _parse_number(text)
        if number is None:
            err(column, f"{column} '{text[:40]}' is not a number")
        elif not low <= number <= high:
            err(column, f"{column} {text} is out of range {low:g}..{high:g}")
        else:
            record[column] = number


def _validate_website(record: dict[str, Any], err: _Err) -> None:
    website = record["website"]
    if website:
        if "://" not in website and re.match(r"^[\w.-]+\.[a-z]{2,}(/|$)", website, re.I):
            website = "https://" + website
        if not re.match(r"^https?://[^\s/]+", website, re.I):
            err("website", f"website '{website[:60]}' must be an http:// or https:// address")
        record["website"] = website


def _validate_timezone(row: dict[str, str], record: dict[str, Any], err: _Err) -> None:
    tz_name = row.get("timezone", "").strip()
    if tz_name:
        try:
            zoneinfo.ZoneInfo(tz_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            err("timezone", f"timezone '{tz_name[:40]}' is not an IANA time zone name "
                            "(e.g. America/Chicago)")
        record["timezone"] = tz_name


def _parse_number(text: str) -> float | None:
    cleaned = text.strip().replace("\u2212", "-")  # a typographic minus from word processors
    if _DECIMAL_COMMA.match(cleaned):
        cleaned = cleaned.replace(",", ".")  # European spreadsheets write 45,4033
    try:
        number = float(cleaned)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _in_country(country: str, lat_deg: float, lon_deg: float) -> bool | None:
    boxes = COUNTRY_BOXES.get(country)
    if boxes is None:
        return None
    return any(lon_min <= lon_deg <= lon_max and lat_min <= lat_deg <= lat_max
               for lon_min, lat_min, lon_max, lat_max in boxes)


def _swap_fits(country: str, lat_deg: float, lon_deg: float) -> bool:
    """Whether the pair read the other way round is valid: in range, and inside ``country``
    when there is a box to check it against."""
    if abs(lon_deg) > 90.0 or abs(lat_deg) > 180.0:
        return False
    return _in_country(country, lon_deg, lat_deg) is not False


def _validate_coordinates(row: dict[str, str], record: dict[str, Any], country: str,
                          err: _Err, place_by_town: bool = False) -> None:
    lat_text = row.get("latitude", "").strip()
    lon_text = row.get("longitude", "").strip()
    if not lat_text and not lon_text:
        _locate_without_coordinates(record, country, err, place_by_town)
        return
    if not lat_text or not lon_text:
        given, missing = ("latitude", "longitude") if lat_text else ("longitude", "latitude")
        err(missing, f"{given} is given but {missing} is empty")
        return
    lat_deg, lon_deg = _parse_number(lat_text), _parse_number(lon_text)
    if lat_deg is None:
        err("latitude", f"latitude '{lat_text[:40]}' is not a number")
    if lon_deg is None:
        err("longitude", f"longitude '{lon_text[:40]}' is not a number")
    if lat_deg is None or lon_deg is None:
        return
    bad = False
    if not -90.0 <= lat_deg <= 90.0:
        hint = ("; latitude and longitude look swapped"
                if _swap_fits(country, lat_deg, lon_deg) else "")
        err("latitude", f"latitude {lat_text} is out of range -90..90{hint}")
        bad = True
    if not -180.0 <= lon_deg <= 180.0:
        err("longitude", f"longitude {lon_text} is out of range -180..180")
        bad = True
    if bad:
        return
    if lat_deg == 0.0 and lon_deg == 0.0:
        err("latitude", "coordinates 0,0 are a missing value, not a location")
        return
    inside = _in_country(country, lat_deg, lon_deg)
    if inside is False:
        if _in_country(country, lon_deg, lat_deg):
            err("latitude", f"latitude {lat_text} and longitude {lon_text} look swapped "
                            f"(swapped, they fall in {country})")
        elif _in_country(country, lat_deg, -lon_deg) and lon_deg > 0:
            err("longitude", f"longitude {lon_text} is east of Greenwich but {country} is "
                             "west: is the minus sign missing?")
        elif _in_country(country, -lat_deg, lon_deg):
            err("latitude", f"latitude {lat_text} has the wrong sign for {country}")
        else:
            err("latitude", f"coordinates {lat_text},{lon_text} are outside {country}")
        return
    record["latitude"], record["longitude"] = lat_deg, lon_deg


def _locate_without_coordinates(record: dict[str, Any], country: str, err: _Err,
                                place_by_town: bool) -> None:
    """A row without coordinates: its postal code's centre, else (``place_by_town``) its
    town's centre, else an error."""
    postal = record["postal_code"]
    if not postal and place_by_town and record["city"] and country:
        _place_at_town(record, country, err)
        return
    if not postal:
        err("latitude", "no coordinates and no postal_code to locate the institution")
        return
    if not country:
        return
    try:
        lat_deg, lon_deg = geocode_postal(postal, country)
    except GeocodeError as exc:
        err("postal_code", f"no coordinates, and {exc}")
        return
    record["latitude"], record["longitude"] = lat_deg, lon_deg
    record["coord_source"] = "postal-centroid"


def _place_at_town(record: dict[str, Any], country: str, err: _Err) -> None:
    """The centre of the row's town from the offline gazetteer (GeoNames, places of 1,000+
    people), restricted to the row's region and country."""
    from passport import places  # loads the gazetteer (2-3 s) only for lists that need it

    query = ", ".join(p for p in (record["city"], record["region"], country) if p)
    try:
        place = places.lookup(query)
    except places.PlaceError as exc:
        err("city", f"no coordinates, and the town cannot be placed: {exc}")
        return
    record["latitude"], record["longitude"] = place.lat_deg, place.lon_deg
    record["coord_source"] = GAZETTEER_SOURCE


def _fill_timezones(records: list[dict[str, Any]]) -> None:
    for record in records:
        if not record["timezone"]:
            record["timezone"] = timezone_at(record["latitude"], record["longitude"])
