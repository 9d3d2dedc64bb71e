"""A list that leaves out the kiosk's own site (issue 10): the dry run names it, publishing
or rolling back to such a list needs an explicit confirmation, in the domain and at the
command line (the kiosk's pages: tests/test_kiosk_admin.py, tests/test_browser_site.py)."""

from __future__ import annotations

import json

import pytest

from passport import institutions, ownsite

EXPLORATORIUM = "exploratorium-san-francisco"


@pytest.fixture
def without_site(shipped_csv, tmp_path):
    """The shipped list without the Exploratorium."""
    lines = shipped_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "without-site.csv"
    path.write_text("".join(line for line in lines if not line.startswith(EXPLORATORIUM)),
                    encoding="utf-8")
    return path


@pytest.fixture
def no_env_site(monkeypatch):
    monkeypatch.delenv(ownsite.ENV_VAR, raising=False)


# ----------------------------------------------------------------------------- domain

def test_own_site_is_the_setting_else_the_configured_id(db, monkeypatch):
    monkeypatch.setenv(ownsite.ENV_VAR, "from-env")
    assert ownsite.own_site(db) is None
    assert ownsite.own_site(db, "from-config") == "from-config"
    assert ownsite.own_site_from_environment(db) == "from-env"
    ownsite.set_own_site(db, EXPLORATORIUM)
    assert ownsite.own_site(db, "from-config") == EXPLORATORIUM
    assert ownsite.own_site_from_environment(db) == EXPLORATORIUM


def test_kiosk_and_cli_read_the_same_setting(db, kiosk_app):
    from kiosk.site import kiosk_site, set_kiosk_site

    with kiosk_app.app_context():
        set_kiosk_site(EXPLORATORIUM)
    assert ownsite.own_site(db) == EXPLORATORIUM
    ownsite.set_own_site(db, "another-site")
    with kiosk_app.app_context():
        assert kiosk_site() == "another-site"


def test_publishing_without_the_own_site_needs_confirmation(db, shipped_csv, without_site):
    institutions.import_file(db, shipped_csv, own_site=EXPLORATORIUM)
    dry = institutions.import_file(db, without_site, dry_run=True, own_site=EXPLORATORIUM)
    assert dry.own_site_removed == EXPLORATORIUM
    assert dry.to_json()["own_site_removed"] == EXPLORATORIUM
    assert any(f"Exploratorium ({EXPLORATORIUM})" in w and "every check" in w
               for w in dry.warnings)
    with pytest.raises(ownsite.OwnSiteRemoved, match="Exploratorium"):
        institutions.import_file(db, without_site, own_site=EXPLORATORIUM)
    assert institutions.active_version(db) == 1
    assert len(institutions.list_versions(db)) == 1  # nothing written
    confirmed = institutions.import_file(db, without_site, own_site=EXPLORATORIUM,
                                         allow_site_removal=True)
    assert confirmed.version == 2 and confirmed.own_site_removed == EXPLORATORIUM
    # without an own site, or with one on the list, there is nothing to confirm
    assert institutions.import_file(db, without_site, dry_run=True).own_site_removed is None
    assert institutions.import_file(db, shipped_csv, own_site=EXPLORATORIUM).warnings == []


def test_rollback_to_a_version_without_the_own_site(db, shipped_csv, without_site):
    institutions.import_file(db, without_site)  # version 1: no Exploratorium
    institutions.import_file(db, shipped_csv)  # version 2
    review = institutions.review_rollback(db, 1, own_site=EXPLORATORIUM)
    assert (review["active"], review["version"]) == (2, 1)
    assert review["diff"]["removed"] == [{"id": EXPLORATORIUM, "name": "Exploratorium"}]
    assert review["own_site_removed"] == EXPLORATORIUM and "Exploratorium" in review["warnings"][0]
    with pytest.raises(ownsite.OwnSiteRemoved, match="list version 1"):
        institutions.rollback(db, 1, own_site=EXPLORATORIUM)
    assert institutions.active_version(db) == 2
    institutions.rollback(db, 1, own_site=EXPLORATORIUM, allow_site_removal=True)
    assert institutions.active_version(db) == 1
    back = institutions.review_rollback(db, 2, own_site=EXPLORATORIUM)
    assert back["own_site_removed"] is None and back["warnings"] == []
    assert back["diff"]["added"] == [{"id": EXPLORATORIUM, "name": "Exploratorium"}]


# ----------------------------------------------------------------------------- CLI

def test_cli_import_refuses_to_drop_the_site_from_passport_site(cli, shipped_csv, without_site,
                                                                monkeypatch):
    monkeypatch.setenv(ownsite.ENV_VAR, EXPLORATORIUM)
    cli("import", shipped_csv)
    dry = cli("import", without_site, "--dry-run")
    assert "Warning: this kiosk's own site Exploratorium" in dry.stdout
    dry_json = json.loads(cli("import", without_site, "--dry-run", "--json").stdout)
    assert dry_json["own_site_removed"] == EXPLORATORIUM
    cli("import", without_site,
        error=f"leaves out this kiosk's own site Exploratorium ({EXPLORATORIUM})")
    versions = json.loads(cli("versions", "--json").stdout)["versions"]
    assert [v["version"] for v in versions] == [1]  # nothing published
    published = cli("import", without_site, "--allow-site-removal")
    assert "Published list version 2" in published.stdout
    assert "Warning: this kiosk's own site" in published.stdout


def test_cli_reads_the_kiosk_setting(cli, db, shipped_csv, without_site, no_env_site):
    cli("import", shipped_csv)
    cli("import", without_site, "--dry-run")  # no own site at all: nothing to confirm
    ownsite.set_own_site(db, EXPLORATORIUM)
    cli("import", without_site, error="--allow-site-removal")


def test_cli_rollback_needs_the_same_confirmation(cli, shipped_csv, without_site, monkeypatch):
    cli("import", without_site)
    cli("import", shipped_csv)
    monkeypatch.setenv(ownsite.ENV_VAR, EXPLORATORIUM)
    cli("rollback", "1", error="list version 1 leaves out this kiosk's own site")
    assert json.loads(cli("versions", "--json").stdout)["versions"][0]["active"] is True
    assert json.loads(cli("rollback", "1", "--allow-site-removal", "--json").stdout) == {
        "active": 1, "previous": 2}
