"""Hostile uploads (passport/uploadlimits.py): an XLSX bomb, parts whose declared sizes lie,
sheets with too many cells, oversized CSV/JSON, deep JSON, and upload names that try to be
paths. Each is refused with a clear message and nothing is published or written."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
import zlib
from datetime import date

import pytest
from zipbomb import bomb_xlsx, deflated, lying_xlsx, workbook_parts, write_zip

from passport import importer, institutions, roster, uploadlimits
from passport.importer import ListValidationError, parse_bytes

ROWS = [["id", "name", "country", "latitude", "longitude"],
        ["cosi", "COSI", "US", "39.9595", "-83.007"],
        ["sw", "Science World", "CA", "49.2733", "-123.1038"]]
SMALL_CSV = "\n".join(",".join(row) for row in ROWS) + "\n"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return bomb_xlsx(ROWS)


def _workbook(rows=ROWS, sheet=None) -> bytes:
    """A valid workbook's bytes; ``sheet(xml) -> xml`` rewrites its first sheet."""
    parts = workbook_parts(rows)
    if sheet is not None:
        parts["xl/worksheets/sheet1.xml"] = sheet(parts["xl/worksheets/sheet1.xml"])
    return write_zip([(name, *deflated(data)) for name, data in parts.items()])


def _post_file(client, url: str, csrf: str, data: bytes, name: str):
    """A multipart upload encoded in memory (werkzeug's test client spools bodies over
    500 KB to a temporary file it never closes: a ResourceWarning)."""
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import stream_encode_multipart

    upload = FileStorage(io.BytesIO(data), filename=name)
    body, _, boundary = stream_encode_multipart({"csrf_token": csrf, "file": upload},
                                                use_tempfile=False)
    return client.post(url, data=body.getvalue(),
                       content_type=f"multipart/form-data; boundary={boundary}")


def _refusal(data: bytes, name: str) -> str:
    with pytest.raises(ListValidationError) as caught:
        parse_bytes(data, name)
    return str(caught.value)


def test_the_bomb_is_a_small_file_that_inflates_to_a_gibibyte(bomb):
    assert len(bomb) < 1.2e6
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        assert archive.getinfo("xl/sharedStrings.xml").file_size == 1024 ** 3


def test_the_bomb_is_refused_before_parsing_and_nothing_is_published(bomb, db, tmp_path, cli):
    institutions.import_bytes(db, SMALL_CSV.encode(), "good.csv")
    started = time.perf_counter()
    message = _refusal(bomb, "list.xlsx")
    elapsed_s = time.perf_counter() - started
    assert "xl/sharedStrings.xml inflates to 1,024 MiB" in message
    assert "limit is 64 MiB" in message
    print(f"XLSX bomb refused in {elapsed_s * 1000:.1f} ms")  # docs/reliability.md
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(bomb)
    result = cli("import", path, "--json", error="nothing was published")
    assert "inflates to 1,024 MiB" in result.stdout
    assert institutions.active_version(db) == 1


def test_a_part_that_holds_more_than_it_declares_is_refused():
    message = _refusal(lying_xlsx(ROWS), "list.xlsx")
    assert "xl/sharedStrings.xml does not match its declared size" in message


def test_a_sheet_claiming_too_many_cells_is_refused():
    def huge(xml: bytes) -> bytes:
        return re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', xml)

    message = _refusal(_workbook(sheet=huge), "list.xlsx")
    assert "1,048,576 rows x 16,384 columns" in message
    assert f"limit is {uploadlimits.MAX_XLSX_CELLS:,} cells" in message


def test_cells_are_counted_while_streaming_when_dimension_is_missing(monkeypatch):
    def no_dimension(xml: bytes) -> bytes:
        return re.sub(rb'<dimension ref="[^"]*"\s*/>', b"", xml)

    data = _workbook(sheet=no_dimension)
    assert len(parse_bytes(data, "list.xlsx").records) == 2  # valid as it is
    monkeypatch.setattr(uploadlimits, "MAX_XLSX_CELLS", 12)
    assert "more than 12 cells" in _refusal(data, "list.xlsx")


def test_an_ordinary_workbook_passes_the_checks():
    assert [r["id"] for r in parse_bytes(_workbook(), "list.xlsx").records] == ["cosi", "sw"]


def test_the_bomb_as_a_roster_is_refused(bomb):
    rules = roster.RosterRules(today=date(2026, 6, 15), group_party_size=6)
    with pytest.raises(roster.RosterError) as caught:
        roster.parse_roster(bomb, "members.xlsx", rules)
    assert "inflates to 1,024 MiB" in str(caught.value)


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_csv_and_json_over_the_size_limit(suffix):
    data = b" " * (importer.MAX_UPLOAD_BYTES + 1)
    message = _refusal(data, f"list{suffix}")
    assert "the limit is 5 MB" in message and "5.2 MB" in message


@pytest.mark.parametrize("depth", [uploadlimits.MAX_JSON_DEPTH + 1, 900, 200_000])
def test_deep_json_is_refused(depth):
    message = _refusal(("[" * depth + "]" * depth).encode(), "list.json")
    assert "levels deep" in message or "levels;" in message
    assert f"the limit is {uploadlimits.MAX_JSON_DEPTH}" in message
    if depth < 1000:
        assert f"nested {depth} levels deep" in message


def test_an_unterminated_json_string_is_a_syntax_error_quickly():
    message = _refusal(b'"' + b'\\"' * 1_000_000, "list.json")
    assert "not valid JSON" in message


def test_brackets_inside_json_strings_do_not_count():
    items = [{"id": "cosi", "name": "[[[[" * 20 + '\\"{{{{' * 20, "country": "US",
              "latitude": 39.9595, "longitude": -83.007}]
    parsed = parse_bytes(json.dumps({"institutions": items}).encode(), "list.json")
    assert parsed.records[0]["name"].startswith("[[[[")


def test_admin_upload_of_the_bomb(bomb, kiosk_client, kiosk_login, kiosk_app, db):
    csrf = kiosk_login(kiosk_client, "root", "admin")
    page = _post_file(kiosk_client, "/admin/lists/upload", csrf, bomb, "l.xlsx")
    assert page.status_code == 422 and b"inflates to 1,024 MiB" in page.data
    with pytest.raises(institutions.NoActiveList):
        institutions.load_active(db)


@pytest.mark.parametrize("hostile", ["../../../escaped.csv", "..\\..\\escaped.csv",
                                     "/tmp/escaped.csv", "name.txt.csv"])
def test_upload_names_are_never_paths(hostile, kiosk_client, kiosk_login, kiosk_app, tmp_path):
    csrf = kiosk_login(kiosk_client, "root", "admin")
    page = _post_file(kiosk_client, "/admin/lists/upload", csrf, SMALL_CSV.encode(), hostile)
    assert page.status_code == 200, page.data
    uploads = tmp_path / "instance" / "uploads"
    if not uploads.is_dir():  # the app's instance folder, wherever the test config put it
        from pathlib import Path
        uploads = Path(kiosk_app.instance_path) / "uploads"
    saved = sorted(p.name for p in uploads.rglob("*") if p.is_file())
    assert saved == ["name.txt", "upload.csv"]
    assert not list(tmp_path.rglob("escaped.csv"))
    token = re.search(rb'name="token" value="([0-9a-f]{32})"', page.data).group(1).decode()
    published = kiosk_client.post("/admin/lists/publish", follow_redirects=True,
                                  data={"csrf_token": csrf, "token": token})
    assert b"Published list version 1" in published.data


def _corrupt_stream(stream: bytes) -> bytes:
    """``stream`` with the first single-byte change (in a fixed order) that zlib refuses as
    a deflate stream, e.g. "invalid distance too far back" (the fuzzer found such a file)."""
    for at in range(len(stream) // 2, len(stream)):
        for value in (0x00, 0xFF, 0x55, 0xAA):
            mended = stream[:at] + bytes([value]) + stream[at + 1:]
            try:
                zlib.decompressobj(-15).decompress(mended)
            except zlib.error:
                return mended
    raise AssertionError("no corruption zlib refuses")


def test_a_part_whose_deflate_stream_is_corrupt_is_refused():
    parts = workbook_parts(ROWS)
    sheet = "xl/worksheets/sheet1.xml"
    stream, crc, size = deflated(parts.pop(sheet))
    data = write_zip([(name, *deflated(content)) for name, content in parts.items()]
                     + [(sheet, _corrupt_stream(stream), crc, size)])
    assert f"{sheet} does not match its declared size or checksum" in _refusal(data, "list.xlsx")
