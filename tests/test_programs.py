"""The program catalogue and its CLI: `passport programs [--json]`, `passport programs add`,
and the list commands per program (`import|versions|diff|rollback|institutions --program`)."""

import json

import pytest

from passport import audit, institutions, programs

SMALL_LIST = ("id,name,city,region,country,latitude,longitude\n"
              "garden-a,Garden A,Denver,CO,US,39.7392,-104.9903\n"
              "garden-b,Garden B,Boulder,CO,US,40.0150,-105.2705\n")
PROGRAM_KEYS = ["id", "name", "radius_miles", "residence_rule", "distance_rule", "benefit",
                "discount_percent", "card_mark", "min_membership", "membership_limits",
                "valid_from", "valid_until", "list_version", "institution_count"]


def test_programs_json_shape_and_order(cli, shipped_csv):
    cli("import", shipped_csv)
    payload = json.loads(cli("programs", "--json").stdout)
    assert list(payload) == ["programs"]
    listed = payload["programs"]
    assert [p["id"] for p in listed] == ["astc", "narm", "aza", "roam", "ahs", "acm"]
    assert all(list(p) == PROGRAM_KEYS for p in listed)
    astc, acm = listed[0], listed[-1]
    assert (astc["radius_miles"], astc["residence_rule"], astc["distance_rule"]) == (
        90.0, True, "home_and_residence")
    assert astc["membership_limits"] == {"group": [2, 4], "individual": [1, 0]}
    assert (astc["list_version"], astc["institution_count"]) == (1, 368)
    assert (acm["benefit"], acm["discount_percent"], acm["list_version"]) == ("discount", 50.0,
                                                                             None)
    assert "astc" in cli("programs").stdout  # the text form


def test_add_a_program_then_import_and_list_its_institutions(cli, db, tmp_path):
    added = json.loads(cli("programs", "add", "garden60", "--name", "Garden Network",
                           "--radius-miles", "60", "--card-mark", "Garden sticker",
                           "--json").stdout)
    assert (added["id"], added["distance_rule"], added["radius_miles"], added["card_mark"],
            added["list_version"]) == ("garden60", "home", 60.0, "Garden sticker", None)
    path = tmp_path / "gardens.csv"
    path.write_text(SMALL_LIST)
    dry = json.loads(cli("import", path, "--program", "garden60", "--dry-run", "--json").stdout)
    assert dry["dry_run"] and dry["row_count"] == 2
    published = json.loads(cli("import", path, "--program", "garden60", "--json").stdout)
    listed = json.loads(cli("institutions", "--program", "garden60", "--json").stdout)
    assert listed["list_version"] == published["version"]
    assert [r["id"] for r in listed["institutions"]] == ["garden-a", "garden-b"]
    catalogue = {p["id"]: p for p in programs.catalogue(db)}
    assert catalogue["garden60"]["institution_count"] == 2
    assert institutions.active_version(db) is None  # the default program's list is apart
    entry = audit.entries(db, audit.Filters(action="program.added"))[0]
    assert entry["subject"] == "garden60" and entry["details"]["radius_miles"] == 60.0


def test_versions_diff_rollback_take_the_program(cli, db, tmp_path):
    path = tmp_path / "gardens.csv"
    path.write_text(SMALL_LIST)
    first = json.loads(cli("import", path, "--program", "aza", "--json").stdout)["version"]
    path.write_text(SMALL_LIST.splitlines(keepends=True)[0] + SMALL_LIST.splitlines()[1] + "\n")
    second = json.loads(cli("import", path, "--program", "aza", "--json").stdout)["version"]
    versions = json.loads(cli("versions", "--program", "aza", "--json").stdout)["versions"]
    assert [(v["version"], v["active"]) for v in versions] == [(second, True), (first, False)]
    assert json.loads(cli("versions", "--json").stdout)["versions"] == []  # astc has none
    diff = json.loads(cli("diff", first, second, "--program", "aza", "--json").stdout)
    assert [r["id"] for r in diff["removed"]] == ["garden-b"]
    cli("diff", first, second,  # not astc's: the message names the program
        error=f"list version {first} is a version of 'aza', not of 'astc': add --program aza")
    cli("rollback", first, "--program", "aza", "--json")
    assert institutions.active_version(db, "aza") == first


@pytest.mark.parametrize("command", [("import", "FILE"), ("institutions",), ("versions",),
                                     ("diff", "1", "2"), ("rollback", "1")])
def test_an_unknown_program_is_a_one_line_error(cli, db, tmp_path, command):
    path = tmp_path / "gardens.csv"
    path.write_text(SMALL_LIST)
    args = [str(path) if a == "FILE" else a for a in command]
    cli(*args, "--program", "nope", error="no program profile named 'nope'")


@pytest.mark.parametrize(("args", "message"), [
    (["Garden", "--radius-miles", "60"], "program id 'Garden' must be 1-20 lowercase"),
    (["astc", "--radius-miles", "60"], "program 'astc' exists already"),
    (["g1", "--radius-miles", "-5"], "radius -5.0 must be 0-1000 miles"),
    (["g1", "--radius-miles", "0", "--residence-rule"], "the residence rule needs a radius"),
    (["g1", "--radius-miles", "30", "--per-site"], "per-site distances are for a program"),
    (["g1", "--radius-miles", "0", "--benefit", "discount"], "needs its percent"),
    (["g1", "--radius-miles", "0", "--discount-percent", "20"], "goes with the benefit"),
    (["g1", "--radius-miles", "0", "--benefit", "discount", "--discount-percent", "120"],
     "must be above 0 and at most 100"),
])
def test_programs_add_refuses_bad_input_and_adds_nothing(cli, db, args, message):
    cli("programs", "add", args[0], "--name", "Gardens", *args[1:], error=message)
    assert [p.name for p in programs.programs(db)] == ["astc", "narm", "aza", "roam", "ahs",
                                                       "acm"]


def test_distance_rule_follows_from_the_options(db):
    for program_id, radius, residence, per_site, rule in (
            ("h", 60, False, False, "home"), ("hr", 60, True, False, "home_and_residence"),
            ("n", 0, False, False, "none"), ("p", 0, False, True, "per_site")):
        added = programs.add_program(db, program_id, program_id.upper(), radius_miles=radius,
                                     residence_rule=residence, per_site=per_site)
        assert added.distance_rule == rule and added.sort_order > 6
    assert [p.name for p in programs.programs(db)][-4:] == ["h", "hr", "n", "p"]
