"""`passport import|versions|diff|rollback|institutions` end to end on a real SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from passport.cli import main

BAD = Path(__file__).resolve().parent / "data" / "bad_uploads"


def test_import_versions_diff_rollback(cli, db_path, shipped_csv, tmp_path):
    dry = json.loads(cli("import", shipped_csv, "--dry-run", "--json").stdout)
    assert dry["dry_run"] and dry["version"] is None and dry["row_count"] == 368
    assert json.loads(cli("versions", "--json").stdout) == {"versions": []}

    first = json.loads(cli("import", shipped_csv, "--json", "--actor", "ann").stdout)
    assert first["version"] == 1 and first["diff"]["summary"]["added"] == 368
    lines = shipped_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    smaller = tmp_path / "smaller.csv"
    smaller.write_text("".join(lines[:-1]), encoding="utf-8")
    text = cli("import", smaller).stdout
    assert "Published list version 2 (367 institutions)" in text and "1 removed" in text

    versions = json.loads(cli("versions", "--json").stdout)["versions"]
    assert [(v["version"], v["active"]) for v in versions] == [(2, True), (1, False)]
    assert "*    2" in cli("versions").stdout

    diff = json.loads(cli("diff", "1", "2", "--json").stdout)
    assert diff["summary"]["removed"] == 1 and diff["from"] == 1 and diff["to"] == 2
    assert "1 removed" in cli("diff", "1", "2").stdout

    assert json.loads(cli("rollback", "1", "--json").stdout) == {"active": 1, "previous": 2}
    assert "List version 1 is active (was 1)." in cli("rollback", "1").stdout
    cli("rollback", "7", error="list version 7 does not exist")
    cli("diff", "1", "9", error="does not exist")


def test_bad_upload_lists_rows_and_writes_nothing(cli, db_path):
    result = cli("import", BAD / "many_errors_all_reported.csv",
                 error="5 problem(s) in many_errors_all_reported.csv")
    assert "row 4, column latitude: latitude 999 is out of range" in result.stdout
    assert not db_path.exists()  # the store is not even created
    as_json = cli("import", BAD / "duplicate_id.csv", "--json", ok=False)
    errors = json.loads(as_json.stdout)["errors"]
    assert errors == [{"row": 5, "column": "id",
                       "message": "duplicate id 'cosi-columbus' (first on row 3)"}]
    cli("import", BAD / "nope.csv", error="no such file")


def test_bad_upload_keeps_the_active_version(cli, shipped_csv):
    cli("import", shipped_csv)
    cli("import", BAD / "us_positive_longitude.csv", ok=False)
    versions = json.loads(cli("versions", "--json").stdout)["versions"]
    assert [(v["version"], v["active"]) for v in versions] == [(1, True)]


def test_institutions_search_and_limit(cli, shipped_csv):
    cli("institutions", error="no participant list")
    cli("import", shipped_csv)
    everything = json.loads(cli("institutions", "--json").stdout)
    assert everything["list_version"] == 1 and len(everything["institutions"]) == 368
    assert {"id", "name", "city", "latitude", "longitude", "timezone"} <= set(
        everything["institutions"][0])
    found = json.loads(cli("institutions", "--search", "Exploratorium", "--json").stdout)
    assert found["institutions"][0]["id"] == "exploratorium-san-francisco"
    assert len(json.loads(cli("institutions", "--limit", "4", "--json").stdout)
               ["institutions"]) == 4
    assert "Exploratorium" in cli("institutions", "--search", "explorat").stdout
    assert cli("institutions", "--search", "zzzz").stdout.strip() == "No match."
    assert cli("institutions", "--limit", "-1", ok=False).exit_code == 2


def test_installed_entry_point_runs_as_a_subprocess(db_path, shipped_csv):
    exe = Path(sys.executable).with_name("passport")
    done = subprocess.run([str(exe), "import", str(shipped_csv), "--json"],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == 1


def test_read_commands_never_create_a_store(tmp_path, monkeypatch):
    """A mistyped $PASSPORT_DB must not look like an empty store."""
    runner = CliRunner()
    missing = tmp_path / "typo" / "passport.sqlite"
    monkeypatch.setenv("PASSPORT_DB", str(missing))
    for args in (["versions"], ["institutions"], ["diff", "1", "2"], ["admin", "list"],
                 ["check", "--visit", "a", "--home", "b"], ["import", "x.csv", "--dry-run"]):
        result = runner.invoke(main, args)
        assert result.exit_code != 0, args
        assert result.output.strip().count("\n") == 0, result.output
    assert not missing.parent.exists()
    missing = tmp_path / "passport-typo.sqlite"
    monkeypatch.setenv("PASSPORT_DB", str(missing))
    result = runner.invoke(main, ["versions"])
    assert result.exit_code == 1 and "no passport store at" in result.output
    assert not missing.exists()
