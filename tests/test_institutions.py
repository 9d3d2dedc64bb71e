"""List versions: publish, dry run, atomicity, rollback, diff, search, the cached active list."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from geographiclib.geodesic import Geodesic

from passport import institutions, store
from passport.institutions import ListValidationError, NoActiveList, UnknownListVersion

MILE_M = 1609.344


def read_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def v1(db, shipped_csv):
    result = institutions.import_file(db, shipped_csv, actor="tester")
    assert result.version == 1 and result.previous_version is None
    return db


def edited_list(shipped_csv: Path, tmp_path: Path) -> Path:
    """v2: one site removed, one added, one renamed, one moved 10 miles, terms changed."""
    rows = read_rows(shipped_csv)
    removed = rows.pop(0)
    rows[0]["name"] = rows[0]["name"] + " (renamed)"
    moved = rows[1]
    target = Geodesic.WGS84.Direct(float(moved["latitude"]), float(moved["longitude"]), 45.0,
                                   10 * MILE_M)
    moved["latitude"], moved["longitude"] = f"{target['lat2']:.6f}", f"{target['lon2']:.6f}"
    rows[2]["proof_of_residence"] = "0" if rows[2]["proof_of_residence"] == "1" else "1"
    new = dict(rows[3], id="new-science-center-testville", name="New Science Center",
               latitude="41.0", longitude="-100.0")
    rows.append(new)
    assert removed["id"] != new["id"]
    return write_rows(tmp_path / "v2.csv", rows)


def test_publish_makes_version_active(v1):
    versions = institutions.list_versions(v1)
    assert [(v["version"], v["active"], v["row_count"]) for v in versions] == [(1, True, 368)]
    assert versions[0]["created_by"] == "tester"
    active = institutions.load_active(v1)
    assert active.version == 1 and len(active.table) == 368
    assert active.profile.radius_miles == 90.0 and active.profile.residence_rule
    assert set(active.by_id) == set(active.table.ids)


def test_diff_publish_rollback(v1, shipped_csv, tmp_path):
    path = edited_list(shipped_csv, tmp_path)
    dry = institutions.import_file(v1, path, dry_run=True)
    assert dry.version is None and dry.dry_run
    assert institutions.list_versions(v1)[0]["version"] == 1  # nothing written
    summary = dry.diff["summary"]
    assert (summary["added"], summary["removed"], summary["renamed"], summary["moved"],
            summary["terms_changed"]) == (1, 1, 1, 1, 1)
    assert dry.diff["moved"][0]["moved_miles"] == pytest.approx(10.0, abs=1e-3)
    assert "proof_of_residence" in dry.diff["terms_changed"][0]["changes"]

    result = institutions.import_file(v1, path, actor="admin")
    assert (result.version, result.previous_version) == (2, 1)
    assert result.diff == {**dry.diff, "to": 2}
    assert institutions.load_active(v1).version == 2
    assert institutions.diff_versions(v1, 1, 2)["summary"] == summary
    back = institutions.diff_versions(v1, 2, 1)["summary"]
    assert (back["added"], back["removed"]) == (1, 1)

    assert institutions.rollback(v1, 1, actor="admin") == {"active": 1, "previous": 2}
    assert institutions.load_active(v1).version == 1
    assert [v["active"] for v in institutions.list_versions(v1)] == [False, True]
    events = store.list_event_rows(v1, "astc")
    assert [(e["action"], e["list_version"]) for e in events] == [
        ("rollback", 1), ("publish", 2), ("publish", 1)]
    with pytest.raises(UnknownListVersion):
        institutions.rollback(v1, 99)
    with pytest.raises(UnknownListVersion):
        institutions.diff_versions(v1, 1, 99)


def test_identical_upload_is_flagged(v1, shipped_csv):
    result = institutions.import_file(v1, shipped_csv, dry_run=True)
    assert any("identical to the active version 1" in w for w in result.warnings)
    assert result.diff["summary"]["unchanged"] == 368


def test_failed_publish_leaves_previous_version_active(v1, shipped_csv):
    # A real failure in the middle of the publish transaction: the store refuses one row.
    v1.execute("CREATE TRIGGER refuse BEFORE INSERT ON institutions "
               "WHEN NEW.id = 'exploratorium-san-francisco' "
               "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END")
    with pytest.raises(sqlite3.IntegrityError, match="simulated"):
        institutions.import_file(v1, shipped_csv)
    assert store.get_active_list_version(v1, "astc") == 1
    assert [v["version"] for v in institutions.list_versions(v1)] == [1]
    count = v1.execute("SELECT COUNT(*) FROM institutions").fetchone()[0]
    assert count == 368


def test_invalid_upload_changes_nothing(v1, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,country,latitude,longitude\na,A,US,95,-100\n", encoding="utf-8")
    with pytest.raises(ListValidationError):
        institutions.import_file(v1, bad)
    assert store.get_active_list_version(v1, "astc") == 1


def test_load_active_is_cached_per_version(v1, shipped_csv, tmp_path):
    first = institutions.load_active(v1)
    assert institutions.load_active(v1) is first
    institutions.import_file(v1, edited_list(shipped_csv, tmp_path))
    second = institutions.load_active(v1)
    assert second is not first and second.version == 2
    institutions.rollback(v1, 1)
    assert institutions.load_active(v1) is first


def test_pair_distances_match_the_engine(v1):
    active = institutions.load_active(v1)
    ids = active.table.ids
    for a, b in [(ids[0], ids[1]), (ids[10], ids[200]), (ids[-1], ids[5])]:
        assert active.distance_miles(a, b) == pytest.approx(
            active.table.distance_between(a, b), abs=1e-9)


def test_no_active_list(db):
    with pytest.raises(NoActiveList):
        institutions.load_active(db)
    with pytest.raises(NoActiveList):
        institutions.search(db, "x")


def test_ensure_default_list(db):
    assert institutions.ensure_default_list(db) == 1
    assert institutions.ensure_default_list(db) is None
    assert len(institutions.load_active(db).table) == 368


def test_search(v1):
    hits = institutions.search(v1, "explor", limit=50)
    names = [h["name"] for h in hits]
    assert "Exploratorium" in names
    assert names[0].lower().startswith("explor")  # names starting with the text first
    assert len(institutions.search(v1, "explor", limit=2)) == 2
    assert len(institutions.search(v1)) == 368
    assert institutions.search(v1, "%") == []  # LIKE wildcards are literal text
    assert institutions.search(v1, "99501")[0]["id"] == "anchorage-museum-anchorage"
    with pytest.raises(ValueError):
        institutions.search(v1, "x", limit=-1)
