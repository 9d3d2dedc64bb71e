"""`passport hub ...` on a real PostgreSQL database: every command with --json, one-line
errors (also without $PASSPORT_HUB_DATABASE_URL)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hubdata import SITE, checkin

from passport.cli import main
from passport.hub import ingest, sites


def run(*args, stdin: str | None = None, error: str | None = None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=stdin)
    if error is None:
        assert result.exit_code == 0, result.output
        return result
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), \
        result.output
    assert error in lines[0], lines[0]
    return result


def test_without_the_database_url_every_command_says_what_to_set(monkeypatch):
    monkeypatch.delenv("PASSPORT_HUB_DATABASE_URL", raising=False)
    for args in (["init"], ["key"], ["site", "add", SITE], ["report", "visits"]):
        run("hub", *args, "--json", error="PASSPORT_HUB_DATABASE_URL is not set")


def test_an_unreachable_hub_database_is_one_line_naming_the_cause(hub_url, monkeypatch):
    # the test server (hub_url: skipped without one, failed under CI), another database
    monkeypatch.setenv("PASSPORT_HUB_DATABASE_URL",
                       hub_url.rsplit("/", 1)[0] + "/passport_no_such_database")
    run("hub", "key", "--json",
        error='database "passport_no_such_database" does not exist')


def test_init_twice_key_rotate_import_site_report_admin(hub_pool, shipped_csv):
    again = json.loads(run("hub", "init", "--json").stdout)
    assert again["migrations_applied"] == [] and again["hub_key_created"] is False
    keys = json.loads(run("hub", "key", "--json").stdout)["hub_keys"]
    assert keys[0]["key_id"] == again["hub_key"]["key_id"]
    rotated = json.loads(run("hub", "key", "--rotate", "--json").stdout)["hub_keys"]
    assert len(rotated) == 2 and rotated[0] == keys[0]
    imported = json.loads(run("hub", "import", shipped_csv, "--json").stdout)
    assert imported["version"] == 1 and imported["row_count"] == 368
    run("hub", "import", shipped_csv, "--program", "nope", error="no program named 'nope'")
    run("hub", "import", "missing.csv", error="missing.csv")
    token = run("hub", "site", "add", SITE).stdout.strip()
    assert sites.enrol(hub_pool, SITE, token)["site"] == SITE
    run("hub", "site", "add", "not a site id", error="not a valid institution id")
    ingest.ingest(hub_pool, SITE, {"checkins": [checkin(1), checkin(2)]})
    report = json.loads(run("hub", "report", "visits", "--by", "visit", "--json").stdout)
    assert report["rows"] == [{"key": SITE, "admitted": 2, "people_free": 6,
                               "people_paying": 0, "denied": 0}]
    csv_ = run("hub", "report", "visits", "--by", "month", "--format", "csv").stdout
    assert csv_.splitlines()[1] == "2026-06,2,6,0,0"
    run("hub", "report", "visits", "--by", "weekday", error="'by' must be one of")
    created = run("hub", "admin", "create", "alice", "--password-stdin", "--json",
                  stdin="correct horse battery\n")
    assert json.loads(created.stdout) == {"username": "alice", "role": "admin"}
    run("hub", "admin", "create", "alice", "--password-stdin", stdin="correct horse battery\n",
        error="already exists")
    run("hub", "rollback", "7", error="does not exist")


def test_the_shipped_narm_and_aza_lists_publish_at_the_hub(hub_pool, shipped_csv):
    """The hub validates as a site does: AZA's five rows without a point are placed at their
    town (a program without a radius), as `passport import --program aza` places them."""
    data = shipped_csv.parent
    narm = json.loads(run("hub", "import", data / "narm_2026.csv", "--program", "narm",
                          "--json").stdout)
    aza = json.loads(run("hub", "import", data / "aza_reciprocity.csv", "--program", "aza",
                         "--json").stdout)
    assert (narm["row_count"], aza["row_count"]) == (1543, 131)
    assert any("gazetteer" in w or "town" in w for w in aza["warnings"]), aza["warnings"]


def test_import_without_an_enrolled_site_needs_allow_site_removal(hub_pool, shipped_csv,
                                                                  tmp_path):
    run("hub", "import", shipped_csv)
    sites.enrol(hub_pool, SITE, run("hub", "site", "add", SITE).stdout.strip())
    rows = shipped_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    without = tmp_path / "without.csv"
    without.write_text("".join(r for r in rows if not r.startswith(f"{SITE},")))
    run("hub", "import", without, error=f"leaves out enrolled site(s) {SITE}")
    done = json.loads(run("hub", "import", without, "--allow-site-removal", "--json").stdout)
    assert done["version"] == 2 and any(SITE in w for w in done["warnings"])


def test_serve_refuses_to_start_without_the_secret_that_opens_its_key(hub_pool, monkeypatch,
                                                                     tmp_path):
    monkeypatch.setenv("PASSPORT_SECRET_KEY", "another-secret-not-the-hubs-0123456789")
    run("hub", "serve", "--port", "0", error="cannot decrypt the private key")
    monkeypatch.delenv("PASSPORT_SECRET_KEY")
    monkeypatch.setenv("PASSPORT_INSTANCE", str(tmp_path / "elsewhere"))
    run("hub", "serve", "--port", "0", error="the hub's secret")


@pytest.mark.parametrize("command", ["init", "key", "import", "versions", "rollback", "site",
                                     "serve", "report", "admin"])
def test_every_hub_command_has_help(command):
    assert "Usage:" in run("hub", command, "--help").stdout
