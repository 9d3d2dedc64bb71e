"""Limits every uploaded table passes before a parser sees it (participant lists, member
rosters): hostile files are refused quickly, with a clear message, and cost little memory.

An XLSX workbook is a ZIP archive, and ZIP's deflate reaches ratios above 1000:1, so a
1 MB upload can hold a 1 GiB ``sharedStrings.xml`` that openpyxl would otherwise parse for
many seconds. ``check_xlsx`` therefore reads only the ZIP's central directory and caps
each part's and the whole archive's uncompressed size, then inflates every part through a
bounded reader (an archive whose parts hold more than they declare is refused, not
trusted), and caps the cells the first sheet's ``<dimension>`` claims. The importer counts
cells again while it streams the sheet (``MAX_XLSX_CELLS``), as ``<dimension>`` is optional.

JSON: ``load_json`` parses with a bound on nesting (a table needs four levels): json's C
parser stops at the interpreter's recursion limit with a ``RecursionError``, which is
refused, and the parsed document's depth is then measured without recursion.

The byte-size limits of whole files stay with their readers (``importer.MAX_UPLOAD_BYTES``,
``roster.MAX_ROSTER_BYTES``, ``kiosk.desk.MAX_PHOTO_BYTES``); card photos are bounded in
pixels by pillow's decompression-bomb check (``cards.decode_image``).
"""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
import zlib
from typing import Any

# A real participant list is ~60 KB of XLSX that inflates to ~1 MB; a 100,000-member roster
# about 40 MB. These leave room for both and refuse the bombs (1 GiB from 1 MB).
MAX_XLSX_PART_BYTES = 64 * 1024 * 1024  # uncompressed, any one part of the archive
MAX_XLSX_TOTAL_BYTES = 128 * 1024 * 1024  # uncompressed, all parts together
MAX_XLSX_PARTS = 1000  # a workbook from Excel or LibreOffice has a dozen or two
MAX_XLSX_CELLS = 2_000_000  # 100,000 roster rows x 20 columns
MAX_JSON_DEPTH = 32  # {"institutions": [{"column": [values]}]} is 4 deep

_CHUNK_BYTES = 1024 * 1024
_HEAD_BYTES = 64 * 1024  # <dimension> comes right after <sheetPr> at a sheet's start
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="\$?([A-Z]{1,3})\$?(\d{1,7})'
                        rb'(?::\$?([A-Z]{1,3})\$?(\d{1,7}))?"')


class UploadLimitError(ValueError):
    """An upload breaks one of the limits above; the message says which and by how much."""


def _mib(size_bytes: int) -> str:
    return f"{size_bytes / (1024 * 1024):,.0f} MiB"


def check_xlsx(data: bytes) -> None:
    """Refuse an XLSX archive that would inflate beyond the limits; reads no XML except the
    sheets' first bytes. Raises ``UploadLimitError``; a damaged ZIP passes through to the
    workbook reader, which names it unreadable."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError):
        return  # not a ZIP we can read: openpyxl's reader reports it as unreadable
    with archive:
        parts = archive.infolist()
        if len(parts) > MAX_XLSX_PARTS:
            raise UploadLimitError(f"the workbook has {len(parts):,} parts; the limit is "
                                   f"{MAX_XLSX_PARTS:,}")
        _check_declared(parts)
        total_bytes = sum(_inflated_bytes(archive, part) for part in parts)
        if total_bytes > MAX_XLSX_TOTAL_BYTES:
            raise UploadLimitError(f"the workbook inflates to more than "
                                   f"{_mib(MAX_XLSX_TOTAL_BYTES)}; the limit is "
                                   f"{_mib(MAX_XLSX_TOTAL_BYTES)}")
        for part in parts:
            if part.filename.startswith("xl/worksheets/") and part.filename.endswith(".xml"):
                _check_dimension(archive, part)


def _check_declared(parts: list[zipfile.ZipInfo]) -> None:
    """The central directory's declared sizes: one part or the sum over the limit."""
    for part in parts:
        if part.file_size > MAX_XLSX_PART_BYTES:
            raise UploadLimitError(
                f"the workbook part {part.filename} inflates to {_mib(part.file_size)} "
                f"(from {part.compress_size / 1e6:.1f} MB); the limit is "
                f"{_mib(MAX_XLSX_PART_BYTES)} per part: this is not an ordinary workbook")
    declared_bytes = sum(part.file_size for part in parts)
    if declared_bytes > MAX_XLSX_TOTAL_BYTES:
        raise UploadLimitError(f"the workbook inflates to {_mib(declared_bytes)}; the limit is "
                               f"{_mib(MAX_XLSX_TOTAL_BYTES)}")


def _inflated_bytes(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> int:
    """Inflate ``part`` in chunks, never past its declared size plus one chunk; refuse a
    part that holds more (or other) bytes than its directory entry declares."""
    size_bytes = 0
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(_CHUNK_BYTES):
                size_bytes += len(chunk)
                if size_bytes > part.file_size:
                    break
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError) as exc:
        # zipfile stops at the declared size and then finds the CRC wrong: a size that lies
        raise UploadLimitError(f"the workbook part {part.filename} does not match its "
                               f"declared size or checksum ({exc})") from None
    if size_bytes != part.file_size:
        raise UploadLimitError(f"the workbook part {part.filename} holds {size_bytes:,} bytes "
                               f"but declares {part.file_size:,}")
    return size_bytes


def _check_dimension(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> None:
    with archive.open(part) as stream:
        head = stream.read(_HEAD_BYTES)
    found = _DIMENSION.search(head)
    if found is None:
        return  # optional: the importer counts cells as it reads
    first_col, first_row, last_col, last_row = found.groups()
    if last_col is None:
        return  # one cell
    columns = abs(column_number(last_col.decode()) - column_number(first_col.decode())) + 1
    rows = abs(int(last_row) - int(first_row)) + 1
    if columns * rows > MAX_XLSX_CELLS:
        raise UploadLimitError(
            f"the sheet {part.filename} spans {rows:,} rows x {columns:,} columns "
            f"({columns * rows:,} cells); the limit is {MAX_XLSX_CELLS:,} cells")


def column_number(letters: str) -> int:
    """``A`` -> 1, ``Z`` -> 26, ``AA`` -> 27 (spreadsheet column letters)."""
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def check_cell_count(cells: int) -> None:
    """Called as a sheet streams: refuse once it has produced more than ``MAX_XLSX_CELLS``."""
    if cells > MAX_XLSX_CELLS:
        raise UploadLimitError(f"the sheet has more than {MAX_XLSX_CELLS:,} cells")


def load_json(text: str) -> Any:
    """``json.loads(text)``, refusing nesting deeper than ``MAX_JSON_DEPTH`` with
    ``UploadLimitError``; a syntax error raises ``json.JSONDecodeError`` as usual."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise UploadLimitError(f"the JSON is nested deeper than {sys.getrecursionlimit()} "
                               f"levels; the limit is {MAX_JSON_DEPTH}") from None
    depth = json_depth(document)
    if depth > MAX_JSON_DEPTH:
        raise UploadLimitError(f"the JSON is nested {depth} levels deep; the limit is "
                               f"{MAX_JSON_DEPTH}")
    return document


def json_depth(document: Any) -> int:
    """Levels of lists and objects in a parsed document (a scalar is 0), without recursion."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, depth)
        stack.extend((item, depth + 1) for item in value)
    return deepest
