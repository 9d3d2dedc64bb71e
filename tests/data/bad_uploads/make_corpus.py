"""Regenerate the malformed-upload corpus beside this file and its manifest.json.

Run from the repository root: ``.venv/bin/python tests/data/bad_uploads/make_corpus.py``.
Each file is a realistic mistake; manifest.json lists, per file, the problems the importer
must report as [row, column, message fragment] (row null = the whole file). The files are
committed so the tests read exactly these bytes; this script documents how they were made.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = "id,name,city,region,country,postal_code,latitude,longitude,website,restrictions"
GOOD_1 = ("exploratorium-sf,Exploratorium,San Francisco,CA,US,94111,37.801400,-122.397400,"
          "https://www.exploratorium.edu,")
GOOD_2 = "cosi-columbus,COSI,Columbus,OH,US,43215,39.959500,-83.007000,https://cosi.org,"
GOOD_3 = ("science-world-vancouver,Science World,Vancouver,BC,CA,V6A 3Z7,49.273251,-123.103767,"
          "https://www.scienceworld.ca,")

MANIFEST: dict[str, list[list]] = {}


def csv_file(name: str, lines: list[str], errors: list[list], encoding: str = "utf-8",
             newline: str = "\n") -> None:
    (HERE / name).write_bytes((newline.join(lines) + newline).encode(encoding))
    MANIFEST[name] = errors


def raw_file(name: str, data: bytes, errors: list[list]) -> None:
    (HERE / name).write_bytes(data)
    MANIFEST[name] = errors


def row(**overrides: str) -> str:
    values = dict(zip(HEADER.split(","), GOOD_2.split(","), strict=True))
    values.update(overrides)
    return ",".join(values[c] for c in HEADER.split(","))


def xlsx_file(name: str, rows: list[list], errors: list[list]) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for r in rows:
        sheet.append(r)
    workbook.save(HERE / name)
    MANIFEST[name] = errors


def main() -> None:
    # whole-file problems
    raw_file("empty.csv", b"", [[None, None, "the file is empty"]])
    raw_file("whitespace_only.csv", b"  \n\n \r\n", [[None, None, "the file is empty"]])
    csv_file("header_only.csv", [HEADER], [[None, None, "no data rows"]])
    raw_file("report.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", [[None, None, "PDF"]])
    raw_file("list.docx", b"PK\x03\x04 not really a document",
             [[None, None, "unsupported file type .docx"]])
    raw_file("legacy.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
             [[None, None, "old Excel .xls"]])
    raw_file("fake.xlsx", (HEADER + "\n" + GOOD_1 + "\n").encode(),
             [[None, None, "not an Excel workbook"]])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("institutions.csv", HEADER + "\n" + GOOD_1 + "\n")
    raw_file("zipped.csv", buffer.getvalue(), [[None, None, "ZIP/XLSX archive"]])
    raw_file("corrupt.xlsx", buffer.getvalue(), [[None, None, "not a readable Excel"]])
    raw_file("binary_nul.csv", (HEADER + "\n").encode() + b"\x00\x01\x02\x00" * 20,
             [[None, None, "binary data"]])
    raw_file("not_text.csv", (HEADER + "\n").encode() + b"\x81\x8d\x8f\x90\x9d" * 10,
             [[None, None, "not UTF-8 or Windows-1252"]])
    raw_file("no_extension", (HEADER + "\n" + GOOD_1 + "\n").encode(),
             [[None, None, "unsupported file type (no extension)"]])

    # header problems (row 1)
    csv_file("missing_id_column.csv", ["name,country,latitude,longitude",
                                       "COSI,US,39.9595,-83.007"],
             [[1, "id", "missing column 'id'"]])
    csv_file("missing_name_column.csv", ["id,country,latitude,longitude",
                                         "cosi,US,39.9595,-83.007"],
             [[1, "name", "missing column 'name'"]])
    csv_file("missing_country_column.csv", ["id,name,latitude,longitude",
                                            "cosi,COSI,39.9595,-83.007"],
             [[1, "country", "missing column 'country'"]])
    csv_file("missing_coordinate_columns.csv", ["id,name,country", "cosi,COSI,US"],
             [[1, "latitude", "missing columns 'latitude' and 'longitude'"]])
    csv_file("missing_longitude_column.csv", ["id,name,country,latitude",
                                              "cosi,COSI,US,39.9595"],
             [[1, "longitude", "missing column 'longitude'"]])
    csv_file("duplicate_header.csv", ["id,name,country,latitude,longitude,Name",
                                      "cosi,COSI,US,39.9595,-83.007,COSI"],
             [[1, "name", "appears twice"]])
    csv_file("single_column_wrong_delimiter.csv",
             ["id:name:country:latitude:longitude", "cosi:COSI:US:39.9595:-83.007"],
             [[1, "id", "missing column 'id'"], [1, "name", "missing column 'name'"]])

    # coordinates
    csv_file("latitude_not_a_number.csv", [HEADER, GOOD_1, row(latitude="north")],
             [[3, "latitude", "latitude 'north' is not a number"]])
    csv_file("longitude_not_a_number.csv", [HEADER, GOOD_1, row(longitude="-83.0.07")],
             [[3, "longitude", "is not a number"]])
    csv_file("latitude_out_of_range.csv", [HEADER, row(latitude="139.9595")],
             [[2, "latitude", "out of range -90..90"]])
    csv_file("longitude_out_of_range.csv", [HEADER, row(longitude="-283.007")],
             [[2, "longitude", "out of range -180..180"]])
    csv_file("swapped_out_of_range.csv", [HEADER, row(latitude="-122.3974", longitude="37.8014")],
             [[2, "latitude", "look swapped"]])
    csv_file("swapped_inside_range.csv", [HEADER, GOOD_1,
                                          row(latitude="-83.007", longitude="39.9595")],
             [[3, "latitude", "look swapped"]])
    csv_file("us_positive_longitude.csv", [HEADER, row(longitude="83.007")],
             [[2, "longitude", "minus sign missing"]])
    csv_file("puerto_rico_positive_longitude.csv",
             [HEADER, "ecoexploratorio,EcoExploratorio,San Juan,PR,US,00918,18.423766,"
                      "66.074924,,"],
             [[2, "longitude", "minus sign missing"]])
    csv_file("hawaii_wrong_latitude_sign.csv",
             [HEADER, "maui-ocean,Maui Ocean Center,Wailuku,HI,US,96793,-20.793,-156.512,,"],
             [[2, "latitude", "wrong sign"]])
    csv_file("us_row_in_paris.csv", [HEADER, row(latitude="48.8566", longitude="2.3522")],
             [[2, "latitude", "outside US"]])
    csv_file("canada_row_in_mexico.csv",
             [HEADER, "ontario-sc,Ontario Science Centre,Toronto,ON,CA,,19.4326,-99.1332,,"],
             [[2, "latitude", "outside CA"]])
    csv_file("alaska_row_in_russia.csv",
             [HEADER, "anchorage,Anchorage Museum,Anchorage,AK,US,99501,61.2163,149.8872,,"],
             [[2, "longitude", "minus sign missing"]])
    csv_file("null_island.csv", [HEADER, row(latitude="0", longitude="0")],
             [[2, "latitude", "0,0 are a missing value"]])
    csv_file("latitude_without_longitude.csv", [HEADER, row(longitude="")],
             [[2, "longitude", "latitude is given but longitude is empty"]])
    csv_file("no_coordinates_no_postal.csv", [HEADER, row(latitude="", longitude="",
                                                          postal_code="")],
             [[2, "latitude", "no coordinates and no postal_code"]])
    csv_file("canadian_postal_cannot_geocode.csv",
             [HEADER, GOOD_1, "ingenium,Ingenium,Ottawa,ON,CA,K1G 5A3,,,,"],
             [[3, "postal_code", "cannot geocode postal code K1G 5A3 for country CA"]])
    csv_file("unknown_us_zip.csv", [HEADER, row(latitude="", longitude="", postal_code="00000")],
             [[2, "postal_code", "cannot geocode postal code 00000 for country US"]])
    csv_file("malformed_us_zip.csv", [HEADER, row(postal_code="OH-43215")],
             [[2, "postal_code", "is not a US ZIP code"]])

    # ids and names
    csv_file("duplicate_id.csv", [HEADER, GOOD_1, GOOD_2, GOOD_3, row(name="COSI Annex",
                                                                       latitude="39.96")],
             [[5, "id", "duplicate id 'cosi-columbus' (first on row 3)"]])
    csv_file("duplicate_id_other_case.csv", [HEADER, GOOD_2, row(id="COSI-Columbus",
                                                                 latitude="40.0")],
             [[3, "id", "duplicate id 'COSI-Columbus' (first on row 2)"]])
    csv_file("duplicate_name_same_coordinates.csv", [HEADER, GOOD_2, row(id="cosi-2")],
             [[3, "name", "same name at the same coordinates as row 2"]])
    csv_file("empty_id.csv", [HEADER, GOOD_1, row(id="")], [[3, "id", "id is empty"]])
    csv_file("id_with_spaces.csv", [HEADER, row(id="cosi columbus")],
             [[2, "id", "may contain only letters"]])
    csv_file("formula_as_id.csv", [HEADER, row(id="=HYPERLINK(\"http://x\")")],
             [[2, "id", "may contain only letters"]])
    csv_file("empty_name.csv", [HEADER, row(name="  ")], [[2, "name", "name is empty"]])
    csv_file("name_too_long.csv", [HEADER, row(name="N" * 250)],
             [[2, "name", "the limit is 200"]])
    csv_file("control_characters.csv", [HEADER, row(name="COSI\x07")],
             [[2, "name", "control characters"]])

    # other columns
    csv_file("country_not_iso.csv", [HEADER, row(country="Narnia")],
             [[2, "country", "not a two-letter ISO code"]])
    csv_file("country_empty.csv", [HEADER, row(country="")], [[2, "country", "country is empty"]])
    csv_file("country_uk.csv", [HEADER, row(country="UK")],
             [[2, "country", "did you mean 'GB'"]])
    csv_file("country_unassigned.csv", [HEADER, row(country="QQ")],
             [[2, "country", "'QQ' is not an ISO 3166 country code"]])
    csv_file("website_javascript.csv", [HEADER, row(website="javascript:alert(1)")],
             [[2, "website", "must be an http:// or https:// address"]])
    csv_file("bad_yes_no.csv", ["id,name,country,latitude,longitude,proof_of_residence",
                                "cosi,COSI,US,39.9595,-83.007,maybe"],
             [[2, "proof_of_residence", "is not yes/no"]])
    csv_file("local_radius_not_number.csv",
             ["id,name,country,latitude,longitude,local_radius_miles",
              "cosi,COSI,US,39.9595,-83.007,sixty"],
             [[2, "local_radius_miles", "'sixty' is not a number"]])
    csv_file("discount_out_of_range.csv",
             ["id,name,country,latitude,longitude,local_discount_percent",
              "cosi,COSI,US,39.9595,-83.007,150"],
             [[2, "local_discount_percent", "out of range 0..100"]])
    csv_file("bad_timezone.csv", ["id,name,country,latitude,longitude,timezone",
                                  "cosi,COSI,US,39.9595,-83.007,Mars/Olympus_Mons"],
             [[2, "timezone", "not an IANA time zone"]])
    csv_file("unquoted_comma.csv", [HEADER, GOOD_1,
                                    row(restrictions="Members only, weekends excluded")],
             [[3, None, "the header has 10 columns"]])

    # layout, encodings, row numbering
    csv_file("blank_lines_count_as_rows.csv", [HEADER, GOOD_1, "", "", row(latitude="abc")],
             [[5, "latitude", "is not a number"]])
    csv_file("semicolon_european.csv",
             ["id;name;country;latitude;longitude",
              "cosi;COSI;US;39,9595;-83,007", "science-world;Science World;CA;49,27;123,10"],
             [[3, "longitude", "minus sign missing"]])
    csv_file("tab_separated_errors.tsv",
             ["id\tname\tcountry\tlatitude\tlongitude", "cosi\t\tUS\t39.9595\t-83.007"],
             [[2, "name", "name is empty"]])
    csv_file("windows_1252_with_error.csv",
             [HEADER, "musee,Musée des Sciences,Montréal,QC,CA,,45.5046,73.5513,,"],
             [[2, "longitude", "minus sign missing"]], encoding="cp1252", newline="\r\n")
    csv_file("utf16_excel_unicode_text.txt",
             ["id\tname\tcountry\tlatitude\tlongitude", "cosi\tCOSI\tUS\t39.9595\t"],
             [[2, "longitude", "latitude is given but longitude is empty"]], encoding="utf-16")
    csv_file("many_errors_all_reported.csv",
             [HEADER, row(id="a b"), GOOD_1, row(id="x1", latitude="999"),
              row(id="x2", country="USA!"), row(id="x3", website="ftp://x.org"),
              row(id="x4", name="")],
             [[2, "id", "may contain only"], [4, "latitude", "out of range"],
              [5, "country", "not a two-letter"], [6, "website", "http"],
              [7, "name", "name is empty"]])

    # JSON
    raw_file("json_syntax_error.json", b'[{"id": "cosi", "name": "COSI",}]',
             [[None, None, "not valid JSON"]])
    raw_file("json_wrong_shape.json", b'{"rows": []}', [[None, None, "list of objects"]])
    raw_file("json_item_not_object.json",
             json.dumps([["cosi", "COSI"], {"id": "x", "name": "X", "country": "US",
                                            "latitude": 39.9, "longitude": -83.0}]).encode(),
             [[1, None, "item is not an object"]])
    raw_file("json_nested_value.json",
             json.dumps({"institutions": [{"id": "cosi", "name": "COSI", "country": "US",
                                           "latitude": {"deg": 39.9}, "longitude": -83.0}]}
                        ).encode(),
             [[1, "latitude", "must be text or a number"]])
    raw_file("json_missing_country.json",
             json.dumps([{"id": "cosi", "name": "COSI", "latitude": 39.9,
                          "longitude": -83.0}]).encode(),
             [[None, "country", "missing column 'country'"]])
    raw_file("json_bad_values.json",
             json.dumps([{"id": "cosi", "name": "COSI", "country": "US", "latitude": 39.9,
                          "longitude": -83.0},
                         {"id": "cosi", "name": "Other", "country": "US", "latitude": "x",
                          "longitude": -83.0}]).encode(),
             [[2, "latitude", "is not a number"]])

    # XLSX
    xlsx_file("xlsx_bad_latitude.xlsx",
              [["ID", "Name", "Country", "Lat", "Lng"], ["cosi", "COSI", "US", 39.9595, -83.007],
               ["sw", "Science World", "CA", "forty-nine", -123.1]],
              [[3, "latitude", "'forty-nine' is not a number"]])
    xlsx_file("xlsx_missing_column.xlsx",
              [["ID", "Name", "Latitude", "Longitude"], ["cosi", "COSI", 39.9595, -83.007]],
              [[1, "country", "missing column 'country'"]])
    xlsx_file("xlsx_header_only.xlsx", [["id", "name", "country", "latitude", "longitude"]],
              [[None, None, "no data rows"]])

    (HERE / "manifest.json").write_text(json.dumps(MANIFEST, indent=1, ensure_ascii=False)
                                        + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
