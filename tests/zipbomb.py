"""Hostile workbooks for the upload-limit tests, built in a fraction of a second.

A 1 GiB part of zeros deflates to ~1 MB; compressing it would take seconds, so the deflate
stream is one compressed MiB of zeros repeated (a full flush resets the compressor, so every
MiB compresses to the same bytes), and its CRC-32 is combined from the MiB's by zlib's
GF(2) method instead of hashing 1 GiB.
"""

from __future__ import annotations

import io
import struct
import zlib

MIB = 1024 * 1024


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[n]) for n in range(32)]


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A+B from crc(A), crc(B) and len(B) (zlib's crc32_combine)."""
    odd = [0xEDB88320] + [1 << n for n in range(31)]
    even = _gf2_square(odd)
    odd = _gf2_square(even)
    while len2:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
    return crc1 ^ crc2


def zeros_part(size_mib: int) -> tuple[bytes, int, int]:
    """(raw deflate stream, CRC-32, size in bytes) of ``size_mib`` MiB of zero bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = block * size_mib + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc, length = zlib.crc32(bytes(MIB)), MIB
    total_crc, total_length = 0, 0
    for bit in range(size_mib.bit_length()):  # binary doubling of the one-MiB CRC
        if size_mib >> bit & 1:
            total_crc = crc32_combine(total_crc, crc, length) if total_length else crc
            total_length += length
        crc, length = crc32_combine(crc, crc, length), length * 2
    return stream, total_crc, size_mib * MIB


def write_zip(parts: list[tuple[str, bytes, int, int]]) -> bytes:
    """A ZIP of ``(name, raw deflate stream, crc, declared size)`` parts, sizes as given
    (so a test can declare a size that lies)."""
    out, directory = io.BytesIO(), []
    for name, stream, crc, size in parts:
        offset, encoded = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc,
                              len(stream), size, len(encoded), 0) + encoded + stream)
        directory.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21,
                                     crc, len(stream), size, len(encoded), 0, 0, 0, 0, 0,
                                     offset) + encoded)
    start = out.tell()
    for entry in directory:
        out.write(entry)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts),
                          out.tell() - start, start, 0))
    return out.getvalue()


def deflated(data: bytes) -> tuple[bytes, int, int]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)


def workbook_parts(rows: list[list[str]]) -> dict[str, bytes]:
    """The parts of a small valid XLSX (openpyxl's own output) holding ``rows``."""
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def bomb_xlsx(rows: list[list[str]], size_mib: int = 1024) -> bytes:
    """A valid small workbook whose ``xl/sharedStrings.xml`` inflates to ``size_mib`` MiB."""
    parts = [(name, *deflated(data)) for name, data in workbook_parts(rows).items()
             if name != "xl/sharedStrings.xml"]
    return write_zip([*parts, ("xl/sharedStrings.xml", *zeros_part(size_mib))])


def lying_xlsx(rows: list[list[str]], size_mib: int = 64, declared_bytes: int = 1000) -> bytes:
    """As ``bomb_xlsx``, but the directory declares the big part as ``declared_bytes``."""
    parts = [(name, *deflated(data)) for name, data in workbook_parts(rows).items()
             if name != "xl/sharedStrings.xml"]
    stream, crc, _ = zeros_part(size_mib)
    return write_zip([*parts, ("xl/sharedStrings.xml", stream, crc, declared_bytes)])


def _time_refusal(data: bytes, name: str) -> dict:
    import time

    from passport.importer import ListValidationError, parse_bytes

    started = time.perf_counter()
    try:
        parse_bytes(data, name)
    except ListValidationError as exc:
        return {"file_bytes": len(data), "refused_ms": round((time.perf_counter() - started)
                                                             * 1000, 2), "error": str(exc)}
    raise AssertionError(f"{name} was accepted")


# docs/reliability.md, "Hostile input": .venv/bin/python tests/zipbomb.py
if __name__ == "__main__":
    import json

    rows = [["id", "name", "country", "latitude", "longitude"],
            ["cosi", "COSI", "US", "39.9595", "-83.007"]]
    depth = 100_000
    for label, data, name in (
            ("xlsx_bomb_1_gib", bomb_xlsx(rows), "list.xlsx"),
            ("xlsx_part_lies_64_mib", lying_xlsx(rows), "list.xlsx"),
            ("json_depth_100000", ("[" * depth + "]" * depth).encode(), "list.json"),
            ("csv_over_5_mb", b"id,name\n" + b"x,y\n" * 1_400_000, "list.csv")):
        print(json.dumps({"case": label, **_time_refusal(data, name)}))
