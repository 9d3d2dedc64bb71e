"""Other programs' lists through the importer: the real NARM and AZA lists, NARM's symbols as
terms, AZA's benefit tiers, rows placed at their town by the gazetteer, and the row-and-column
errors that publish nothing (issue 13)."""

from collections import Counter
from pathlib import Path

import pytest
from geographiclib.geodesic import Geodesic

from passport import institutions, listterms, programs
from passport.importer import ListValidationError, parse_bytes, parse_file

DATA = Path(__file__).resolve().parents[1] / "data"
NARM_CSV, AZA_CSV = DATA / "narm_2026.csv", DATA / "aza_reciprocity.csv"
MILES_PER_M = 1 / 1609.344
NARM_HEADER = "id,name,city,region,country,phone,symbols,latitude,longitude,coord_source\n"
CITY = "city centroid: mean of GeoNames US postal-code points for city+state"


@pytest.fixture(scope="module")
def narm():
    return parse_file(NARM_CSV, place_by_town=True)


def test_the_three_real_lists_load_on_a_fresh_store(db):
    assert institutions.ensure_default_lists(db) == {"astc": 1, "narm": 2, "aza": 3}
    counts = {p["id"]: p["institution_count"] for p in programs.catalogue(db)}
    assert counts == {"astc": 368, "narm": 1543, "aza": 131, "roam": None, "ahs": None,
                      "acm": None}
    assert institutions.ensure_default_lists(db) == {}  # programs with a list keep it


def test_the_five_aza_rows_without_coordinates_are_placed_at_their_town():
    parsed = parse_file(AZA_CSV, place_by_town=True)
    placed = {r["id"]: r for r in parsed.records
              if r["coord_source"] == listterms.GAZETTEER_SOURCE}
    assert sorted(placed) == [
        "alaska-sealife-center-seward", "idaho-falls-zoo-at-tautphaus-park-idaho-falls",
        "john-g-shedd-aquarium-chicago", "pittsburgh-zoo-aquarium-pittsburgh",
        "santa-barbara-zoo-santa-barbara"]
    assert all(r["coord_precision"] == "city" for r in placed.values())
    # a town's centre: the aquarium stands 2-3 miles from Chicago's GeoNames point
    shedd = placed["john-g-shedd-aquarium-chicago"]
    miles = Geodesic.WGS84.Inverse(shedd["latitude"], shedd["longitude"], 41.8676,
                                   -87.6140)["s12"] * MILES_PER_M
    assert miles < 5
    report = [w for w in parsed.warnings if "offline gazetteer" in w]
    assert len(report) == 1 and report[0].startswith("5 row(s)") and "row 51 John G. Shedd" \
        in report[0]
    assert Counter(r["benefit_tier"] for r in parsed.records) == {
        "50%": 100, "100%": 26, "free-to-public": 5}


def test_narm_symbols_become_terms_as_sources_md_counts(narm):
    records = narm.records
    assert len(records) == 1543
    # SOURCES.md: 102 *, 40 **, 32 ***, 1 #, 1 ##, 9 ^, 3 *^, plus the 6 markers that were
    # in names (New Museum Los Gatos, Cahoon and Utah MFA *, Newfields and Columbus **,
    # Blanton ***), which clean_narm.py moved into `symbols`
    assert Counter(r["symbols"] for r in records if r["symbols"]) == {
        "*": 102 + 3, "**": 40 + 2, "***": 32 + 1, "#": 1, "##": 1, "^": 9, "*^": 3}
    by_name = {r["name"]: r for r in records}
    for name, symbols in (("New Museum Los Gatos (NUMU)", "*"), ("Newfields", "**"),
                          ("Cahoon Museum of American Art", "*"), ("Columbus Museum of Art", "**"),
                          ("Utah Museum of Fine Arts/University of Utah", "*")):
        assert by_name[name]["symbols"] == symbols
    assert Counter(r["site_home_within_miles"] for r in records) == {None: 1467, 15.0: 75,
                                                                    50.0: 1}
    assert sum(r["events_excluded"] for r in records) == 105 + 33 + 3
    assert sum(r["reciprocal_restriction"] for r in records) == 9 + 3
    assert [r["name"] for r in records if r["site_home_within_miles"] == 50] == ["The Dalí Museum"]
    venue = [r for r in records if r["excluded_venue"]]
    assert [r["name"] for r in venue] == ["UC Berkeley Art Museum"]
    assert venue[0]["excluded_venue"] == listterms.UNNAMED_VENUE
    assert {r["coord_precision"] for r in records} == {"city"}
    assert all(r["phone"] for r in records[:5])


def test_puerto_rico_is_country_us_region_pr(narm):
    musan = next(r for r in narm.records if r["name"].startswith("MUSAN"))
    assert (musan["country"], musan["region"]) == ("US", "PR")


def test_a_marker_left_in_a_name_is_read_as_the_symbols():
    data = (NARM_HEADER + "newfields-indianapolis,Newfields  **,Indianapolis,IN,US,"
            f"317-923-1331,,39.77,-86.15,{CITY}\n"
            f"numu-los-gatos,New Museum Los Gatos*^,Los Gatos,CA,US,,,37.23,-121.97,{CITY}\n")
    parsed = parse_bytes(data.encode(), "narm.csv")
    first, second = parsed.records
    assert (first["name"], first["symbols"], first["site_home_within_miles"]) == (
        "Newfields", "**", 15.0)
    assert (second["name"], second["events_excluded"], second["reciprocal_restriction"]) == (
        "New Museum Los Gatos", 1, 1)
    assert [w[:6] for w in parsed.warnings] == ["row 2:", "row 3:"]


def test_a_named_excluded_venue_is_kept():
    data = (NARM_HEADER.replace("\n", ",excluded_venue\n") + "bampfa-berkeley,UC Berkeley Art "
            f"Museum,Berkeley,CA,US,,##,37.87,-122.27,{CITY},Pacific Film Archive\n")
    record = parse_bytes(data.encode(), "narm.csv").records[0]
    assert record["excluded_venue"] == "Pacific Film Archive"


@pytest.mark.parametrize(("cell", "terms"), [
    ("", {}), ("*", {"events_excluded": 1}), ("*^", {"events_excluded": 1,
                                                    "reciprocal_restriction": 1}),
    ("^ *", {"events_excluded": 1, "reciprocal_restriction": 1}),
    ("#**", {"site_home_within_miles": 50.0}),
    ("***", {"events_excluded": 1, "site_home_within_miles": 15.0}),
])
def test_symbol_combinations(cell, terms):
    assert listterms.parse_symbols(cell) == terms


@pytest.mark.parametrize("cell", ["%", "*%", "+", "**^^", "####", "****", "###"])
def test_unknown_symbols_are_refused(cell):
    with pytest.raises(ValueError, match="unknown restriction symbol"):
        listterms.parse_symbols(cell)


def test_unknown_symbol_is_a_row_and_column_error_and_nothing_is_published(db, tmp_path, cli):
    path = tmp_path / "narm.csv"
    path.write_text(NARM_HEADER + f"a-museum-x,A Museum,Boise,ID,US,,*,43.6,-116.2,{CITY}\n"
                    f"b-museum-x,B Museum,Boise,ID,US,,*%,43.6,-116.2,{CITY}\n")
    result = cli("import", path, "--program", "narm", "--json", ok=False)
    assert result.exit_code == 1
    assert '"row": 3, "column": "symbols"' in result.stdout and "'%'" in result.stdout
    assert institutions.list_versions(db, "narm") == []


def test_bad_benefit_is_a_row_and_column_error_and_nothing_is_published(db, tmp_path):
    header = "id,name,city,region,country,benefit,latitude,longitude\n"
    path = tmp_path / "aza.csv"
    path.write_text(header + "zoo-a,Zoo A,Toledo,OH,US,100%,41.6,-83.6\n"
                    "zoo-b,Zoo B,Akron,OH,US,75%,41.1,-81.5\n"
                    "zoo-c,Zoo C,Erie,PA,US,,42.1,-80.1\n")
    with pytest.raises(ListValidationError) as caught:
        institutions.import_file(db, path, profile="aza")
    assert [(e.row, e.column) for e in caught.value.errors] == [(3, "benefit"), (4, "benefit")]
    assert "'75%' is not one of 100%, 50%, free-to-public" in str(caught.value)
    assert institutions.list_versions(db, "aza") == []


def test_towns_place_rows_only_for_programs_without_a_radius(db, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("id,name,city,region,country,latitude,longitude\n"
                    "zoo-a,Zoo A,Toledo,OH,US,,\nzoo-b,Zoo B,Nowhereville Xq,OH,US,,\n")
    with pytest.raises(ListValidationError) as caught:
        institutions.import_file(db, path, profile="aza")
    assert [(e.row, e.column) for e in caught.value.errors] == [(3, "city")]
    with pytest.raises(ListValidationError) as caught:  # ASTC: a 90-mile boundary
        institutions.import_file(db, path)
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "latitude"), (3, "latitude")]
    assert institutions.list_versions(db, "aza") == institutions.list_versions(db) == []
