"""Upload validation: the malformed corpus (each file's errors, nothing published) and the
formats and quirks a valid upload may have."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passport import importer, institutions, store
from passport.importer import ListValidationError, parse_bytes, parse_file

BAD = Path(__file__).resolve().parent / "data" / "bad_uploads"
MANIFEST = json.loads((BAD / "manifest.json").read_text(encoding="utf-8"))

SMALL = """id,name,city,region,country,postal_code,latitude,longitude,website,restrictions
exploratorium-sf,Exploratorium,San Francisco,CA,US,94111,37.8014,-122.3974,https://www.exploratorium.edu,
cosi-columbus,COSI,Columbus,OH,US,43215,39.9595,-83.007,https://cosi.org,General admission only
science-world-vancouver,Science World,Vancouver,BC,CA,V6A 3Z7,49.273251,-123.103767,,
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A store with a small valid list active (version 1), shared by the corpus tests."""
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "good.csv").write_text(SMALL, encoding="utf-8")
    db = store.open_db(folder / "passport.sqlite")
    result = institutions.import_file(db, folder / "good.csv")
    assert result.version == 1
    yield db
    db.close()


def test_the_corpus_is_large_enough():
    assert len(MANIFEST) >= 40
    assert {p.name for p in BAD.iterdir()} >= set(MANIFEST)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_bad_upload_is_reported_and_changes_nothing(published, name):
    before = (store.get_active_list_version(published, "astc"),
              len(institutions.list_versions(published)))
    with pytest.raises(ListValidationError) as caught:
        institutions.import_file(published, BAD / name)
    errors = caught.value.errors
    for row, column, fragment in MANIFEST[name]:
        assert any(e.row == row and e.column == column and fragment in e.message
                   for e in errors), (name, (row, column, fragment), errors)
    assert all(isinstance(e, importer.RowError) for e in errors)
    after = (store.get_active_list_version(published, "astc"),
             len(institutions.list_versions(published)))
    assert after == before == (1, 1)


def test_oversized_file_is_refused_before_reading(published, tmp_path):
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8") as out:
        out.write("id,name,country,latitude,longitude\n")
        line = "x,y,US,40.0,-100.0," + "z" * 200 + "\n"
        while out.tell() <= importer.MAX_UPLOAD_BYTES:
            out.write(line)
    with pytest.raises(ListValidationError, match="the limit is 5 MB"):
        institutions.import_file(published, big)
    with pytest.raises(ListValidationError, match="limit"):
        parse_bytes(b"x" * (importer.MAX_UPLOAD_BYTES + 1), "big.csv")
    assert store.get_active_list_version(published, "astc") == 1


def test_missing_file_is_a_validation_error(tmp_path):
    with pytest.raises(ListValidationError, match="cannot read"):
        parse_file(tmp_path / "nope.csv")


def test_error_str_and_summary():
    with pytest.raises(ListValidationError) as caught:
        parse_file(BAD / "many_errors_all_reported.csv")
    assert len(caught.value.errors) == 5
    assert str(caught.value).startswith("row 2, column id:")
    assert "and 4 more problems" in str(caught.value)


# --------------------------------------------------------------------------- valid variants

def _ids(parsed) -> list[str]:
    return [r["id"] for r in parsed.records]


EXPECTED_IDS = ["exploratorium-sf", "cosi-columbus", "science-world-vancouver"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_any_common_delimiter(delimiter):
    text = SMALL.replace(",", delimiter)
    parsed = parse_bytes(text.encode(), "list.csv")
    assert _ids(parsed) == EXPECTED_IDS
    assert parsed.records[1]["restrictions"] == "General admission only"


@pytest.mark.parametrize("encoding, warns", [("utf-8", False), ("utf-8-sig", False),
                                             ("cp1252", True), ("utf-16", False)])
def test_encodings(encoding, warns):
    text = SMALL.replace("Exploratorium,San", "Muséum Exploratorium,San")
    parsed = parse_bytes(text.replace("\n", "\r\n").encode(encoding), "list.csv")
    assert parsed.records[0]["name"] == "Muséum Exploratorium"
    assert any("Windows-1252" in w for w in parsed.warnings) is warns


def test_header_names_are_normalised_and_aliases_accepted():
    text = ("ID, Name ,Country,Lat,LNG,Zip Code,State,Proof-Of-Residence,Local Radius Miles\n"
            "cosi,COSI,us,39.9595,-83.007,43215,OH,Yes,60\n")
    record = parse_bytes(text.encode(), "list.csv").records[0]
    assert record["country"] == "US" and record["region"] == "OH"
    assert record["postal_code"] == "43215" and record["proof_of_residence"] == 1
    assert record["local_radius_miles"] == 60.0
    assert record["timezone"] == "America/New_York"


def test_unknown_columns_are_ignored_with_a_warning():
    parsed = parse_bytes(b"id,name,country,latitude,longitude,colour\ncosi,COSI,US,39.9,-83,red\n",
                         "l.csv")
    assert parsed.warnings == ["ignored unknown columns: colour"]


def test_rows_without_coordinates_are_located_from_the_zip_code():
    text = "id,name,country,postal_code,latitude,longitude\ncosi,COSI,US,43215,,\n"
    record = parse_bytes(text.encode(), "l.csv").records[0]
    assert record["coord_source"] == "postal-centroid"
    assert record["latitude"] == pytest.approx(39.97, abs=0.1)
    assert record["longitude"] == pytest.approx(-83.0, abs=0.1)


def test_excel_dropped_zip_leading_zero_is_restored():
    text = ("id,name,country,postal_code,latitude,longitude\n"
            "mos,Museum of Science,US,2114,42.3677,-71.0709\n")
    assert parse_bytes(text.encode(), "l.csv").records[0]["postal_code"] == "02114"


def test_european_decimal_commas_with_semicolons():
    text = "id;name;country;latitude;longitude\ncosi;COSI;US;39,9595;-83,007\n"
    record = parse_bytes(text.encode(), "l.csv").records[0]
    assert (record["latitude"], record["longitude"]) == (39.9595, -83.007)


def test_bare_domain_website_gets_https():
    text = "id,name,country,latitude,longitude,website\ncosi,COSI,US,39.9,-83.0,cosi.org\n"
    assert parse_bytes(text.encode(), "l.csv").records[0]["website"] == "https://cosi.org"


def test_formula_injection_is_stored_inert_and_exported_safely(db, tmp_path):
    text = ("id,name,city,country,latitude,longitude,restrictions\n"
            'cosi,=HYPERLINK("http://evil"),+Columbus,US,39.9595,-83.007,@SUM(A1)\n'
            "sw,-Science World,Vancouver,CA,49.27,-123.10,Closed Mondays\n")
    path = tmp_path / "inject.csv"
    path.write_text(text, encoding="utf-8")
    institutions.import_file(db, path)
    rows = {r["id"]: r for r in institutions.search(db)}
    assert rows["cosi"]["name"] == "'=HYPERLINK(\"http://evil\")"
    assert rows["cosi"]["city"] == "'+Columbus"
    assert rows["cosi"]["restrictions"] == "'@SUM(A1)"
    assert rows["sw"]["name"] == "'-Science World"
    exported = list(csv.DictReader(io.StringIO(institutions.export_csv(db))))
    for row in exported:
        for column, value in row.items():
            if column in ("latitude", "longitude"):
                float(value)  # a negative number is a number, not a formula
            else:
                assert not value.startswith(importer.FORMULA_PREFIXES), value
    assert exported[0]["name"] == "'=HYPERLINK(\"http://evil\")"
    assert importer.inert("'=x") == "'=x" and importer.inert(5) == 5


def test_xlsx_upload(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["ID", "Name", "Country", "Postal Code", "Latitude", "Longitude",
                  "Proof of residence"])
    sheet.append(["mos", "Museum of Science", "US", 2114, 42.3677, -71.0709, True])
    sheet.append([None] * 7)
    sheet.append(["cosi", "COSI", "US", 43215, 39.9595, -83.007, False])
    path = tmp_path / "list.xlsx"
    workbook.save(path)
    parsed = parse_file(path)
    assert _ids(parsed) == ["mos", "cosi"]
    assert parsed.records[0]["postal_code"] == "02114"
    assert parsed.records[0]["proof_of_residence"] == 1


@pytest.mark.parametrize("wrap", [False, True])
def test_json_upload_both_shapes(wrap):
    items = [{"id": "cosi", "name": "COSI", "country": "US", "latitude": 39.9595,
              "longitude": -83.007, "reservation_required": True, "local_discount_percent": 50}]
    document = {"institutions": items} if wrap else items
    record = parse_bytes(json.dumps(document).encode(), "list.json").records[0]
    assert record["reservation_required"] == 1 and record["local_discount_percent"] == 50.0


def test_explicit_timezone_is_kept():
    text = "id,name,country,latitude,longitude,timezone\ncosi,COSI,US,39.9,-83.0,America/Chicago\n"
    assert parse_bytes(text.encode(), "l.csv").records[0]["timezone"] == "America/Chicago"


def test_shipped_list_imports_whole(shipped_csv):
    parsed = parse_file(shipped_csv)
    assert len(parsed.records) == 368 and parsed.warnings == []
    assert all(r["timezone"] for r in parsed.records)
    by_id = {r["id"]: r for r in parsed.records}
    assert by_id["anchorage-museum-anchorage"]["timezone"] == "America/Anchorage"
    assert sum(r["proof_of_residence"] for r in parsed.records) > 0
    assert {r["country"] for r in parsed.records} == {"US", "CA", "AU", "BM", "CZ", "IL",
                                                       "MY", "PH", "SG"}


# --------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".csv", ".json", ".xlsx",
                                                              ".tsv", ".txt"]))
def test_any_bytes_give_records_or_row_errors(data, suffix):
    try:
        parsed = parse_bytes(data, "upload" + suffix)
    except ListValidationError as exc:
        assert exc.errors and all(isinstance(e.message, str) for e in exc.errors)
    else:
        assert parsed.records


# No bare CR/LF in cells: csv.writer leaves a lone CR unquoted, which every reader (and
# spreadsheet) takes as a new row, so the row count would no longer be len(rows) + 1.
CELL = st.one_of(st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12),
                 st.floats(allow_nan=True).map(str),
                 st.sampled_from(["", "US", "CA", "-122.4", "37.8", "=1+1", "yes", '"', ";"]))


@FUZZ
@given(rows=st.lists(st.lists(CELL, min_size=0, max_size=7), min_size=1, max_size=6),
       delimiter=st.sampled_from([",", ";", "\t", "|"]))
def test_fuzzed_csv_rows_never_crash_and_rows_are_numbered(rows, delimiter):
    header = "id,name,country,latitude,longitude,proof_of_residence,website"
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header.split(","))
    writer.writerows(rows)
    try:
        parsed = parse_bytes(out.getvalue().encode(), "fuzz.csv")
    except ListValidationError as exc:
        assert all(e.row is None or 1 <= e.row <= len(rows) + 1 for e in exc.errors)
    else:
        for record in parsed.records:
            assert -90 <= record["latitude"] <= 90 and -180 <= record["longitude"] <= 180
            assert not str(record["name"]).startswith(("=", "+", "-", "@"))


@pytest.mark.parametrize(("country", "lat", "lon", "swapped"), [
    ("US", "-122.3974", "37.8014", True),  # swapped, San Francisco: in the US
    ("US", "122.3974", "37.8014", False),  # swapped it is in China: not "look swapped"
    ("CA", "123.1", "49.27", False),  # the minus sign is lost too
    ("US", "95.5", "120.0", False),  # swapped, the latitude would be out of range
    ("FR", "120.5", "45.2", True),  # no box to check France against: the range decides
])
def test_swapped_hint_only_when_the_swapped_pair_is_valid(country, lat, lon, swapped):
    """Issue 10: "look swapped" only when the other reading is valid, and in the country's
    box when there is one."""
    text = (f"id,name,city,country,latitude,longitude\n"
            f"x-1,Somewhere,Town,{country},{lat},{lon}\n")
    with pytest.raises(ListValidationError) as caught:
        parse_bytes(text.encode(), "list.csv")
    [error] = caught.value.errors
    assert (error.row, error.column) == (2, "latitude")
    assert "out of range -90..90" in error.message
    assert ("look swapped" in error.message) == swapped, error.message
