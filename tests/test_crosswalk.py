"""The crosswalk between programs' lists: suggestions on the real ASTC and NARM lists,
confirm/reject (library, CLI, admin page), the cached lookup the decisions use, and the
crosswalk part of list diffs."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
from conftest import ROOT

from passport import audit, crosswalk, institutions, store
from passport.crosswalk import CrosswalkError, Entry

NARM_CSV = ROOT / "data" / "narm_2026.csv"
CHABOT = "chabot-space-science-center-oakland"
BISHOP = "the-bishop-museum-of-science-and-nature-bradenton"


@pytest.fixture(scope="module")
def lists_template(tmp_path_factory, shipped_csv):
    """A store with the real ASTC and NARM lists, made once and copied per test."""
    path = tmp_path_factory.mktemp("crosswalk") / "lists.sqlite"
    db = store.open_db(path)
    institutions.import_file(db, shipped_csv, actor="test")
    institutions.import_file(db, NARM_CSV, actor="test", profile="narm")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


@pytest.fixture
def lists_db(lists_template, db_path):
    shutil.copyfile(lists_template, db_path)
    database = store.open_db(db_path)
    yield database
    database.close()


def by_pair(found: list[dict]) -> dict[tuple[str, str], dict]:
    return {(p["a"]["id"], p["b"]["id"]): p for p in found}


def narm(db):
    return institutions.load_active(db, "narm")


# --------------------------------------------------------------------------- names

def test_names_compare_without_the_and_of_and_punctuation():
    norm = crosswalk.normalise_name
    assert norm("The Works: Ohio Center for History, Art & Technology") == \
        norm("The Works | Ohio Center for History, Art and Technology")
    assert norm("Museum of Science") == "museum science"
    assert crosswalk.name_score(norm("Museum of Science"), norm("The Science Museum")) == 100
    assert crosswalk.name_score(norm("Chabot Space & Science Center"),
                                norm("Adler Planetarium")) < crosswalk.MIN_SCORE


# --------------------------------------------------------------------------- suggest

def test_suggest_on_the_real_lists_finds_chabot_and_bishop(lists_db):
    found = crosswalk.suggest(lists_db, "astc", "narm", actor="test")
    pairs = by_pair(found)
    chabot, bishop = pairs[(CHABOT, CHABOT)], pairs[(BISHOP, BISHOP)]
    assert chabot["a"]["name"] == "Chabot Space & Science Center"
    assert bishop["b"]["name"] == "The Bishop Museum of Science and Nature"
    # NARM's city-level point (Oakland's centre) is beyond the 2-mile allowance of two
    # exact points: only the city-level allowance finds it
    assert chabot["b"]["city_level_point"] and not chabot["a"]["city_level_point"]
    assert crosswalk.PRECISE_ALLOWANCE_MILES < chabot["distance_miles"] < 10
    # one pair per entry, each pair stored as suggested
    assert len({p["a"]["id"] for p in found}) == len({p["b"]["id"] for p in found}) == len(found)
    stored = by_pair(crosswalk.pairs(lists_db, program="narm", status="suggested"))
    assert set(stored) == set(pairs)
    # pairs with different ids are found by name and distance alone
    assert pairs[("wenatchee-valley-museum-cultural-center-wenatchee",
                  "wenatchee-valley-museum-and-cultural-center-wenatchee")]["score"] == 100
    assert audit.entries(lists_db, audit.Filters(action="crosswalk.suggested"), limit=5)


def test_suggest_the_other_way_round_stores_the_same_pairs(lists_db):
    forward = crosswalk.suggest(lists_db, "astc", "narm")
    backward = crosswalk.suggest(lists_db, "narm", "astc")
    assert {(p["b"]["id"], p["a"]["id"]) for p in backward} == \
        {(p["a"]["id"], p["b"]["id"]) for p in forward}
    assert backward[0]["a"]["program"] == "narm"
    assert len(crosswalk.pairs(lists_db, status="suggested")) == len(forward)


def test_rejected_pair_is_never_suggested_again_nor_used(lists_db):
    astc_chabot, narm_chabot = Entry("astc", CHABOT), Entry("narm", CHABOT)
    on_narm = narm(lists_db).by_id
    # same id on both lists: the same institution until an admin says otherwise
    assert crosswalk.load(lists_db).counterpart("astc", CHABOT, "narm", on_narm) == CHABOT
    crosswalk.reject(lists_db, astc_chabot, narm_chabot, actor="admin1")
    walk = crosswalk.load(lists_db)
    assert walk.counterpart("astc", CHABOT, "narm", on_narm) is None
    assert walk.counterpart("narm", CHABOT, "astc", {CHABOT}) is None
    again = by_pair(crosswalk.suggest(lists_db, "astc", "narm"))
    assert (CHABOT, CHABOT) not in again and (BISHOP, BISHOP) in again
    [rejected] = crosswalk.pairs(lists_db, status="rejected")
    assert rejected["decided_by"] == "admin1" and rejected["distance_miles"] > 2
    # the rejection survives a new suggestion run (it is not a suggestion)
    assert crosswalk.pairs(lists_db, status="rejected") == [rejected]


def test_confirmed_link_between_different_ids_and_the_cache(lists_db, db_path):
    astc_id = "wenatchee-valley-museum-cultural-center-wenatchee"
    narm_id = "wenatchee-valley-museum-and-cultural-center-wenatchee"
    on_narm = narm(lists_db).by_id
    before = crosswalk.load(lists_db)
    assert crosswalk.load(lists_db) is before  # nothing changed: the same object
    assert before.counterpart("astc", astc_id, "narm", on_narm) is None
    # a second connection (another process, the CLI) confirms: this one sees it
    other = store.open_db(db_path)
    crosswalk.confirm(other, Entry("narm", narm_id), Entry("astc", astc_id), actor="cli:x")
    other.close()
    after = crosswalk.load(lists_db)
    assert after is not before
    assert after.counterpart("astc", astc_id, "narm", on_narm) == narm_id
    assert after.counterpart("narm", narm_id, "astc", {astc_id}) == astc_id
    # the linked entry not on the target list (as given): no counterpart
    assert after.counterpart("astc", astc_id, "narm", set()) is None
    # a second confirmed counterpart in the same program is refused, naming the first
    with pytest.raises(CrosswalkError, match=narm_id):
        crosswalk.confirm(lists_db, Entry("astc", astc_id), Entry("narm", CHABOT), "x")
    # an entry confirmed as another one's counterpart is no longer "the same id" of a third
    walk = crosswalk.Crosswalk([("astc", "a-x", "narm", "b-y", "confirmed")])
    assert walk.counterpart("astc", "b-y", "narm", {"b-y"}) is None
    crosswalk.reject(lists_db, Entry("astc", astc_id), Entry("narm", narm_id), "x")
    assert crosswalk.load(lists_db).counterpart("astc", astc_id, "narm", on_narm) is None


def test_bad_requests_name_the_problem(lists_db):
    with pytest.raises(CrosswalkError, match="no program 'zoo'"):
        crosswalk.suggest(lists_db, "astc", "zoo")
    with pytest.raises(CrosswalkError, match="no active list"):
        crosswalk.suggest(lists_db, "astc", "aza")
    with pytest.raises(CrosswalkError, match="two programs"):
        crosswalk.suggest(lists_db, "narm", "narm")
    with pytest.raises(CrosswalkError, match="not on the active narm list"):
        crosswalk.confirm(lists_db, Entry("astc", CHABOT), Entry("narm", "nowhere"), "x")
    with pytest.raises(CrosswalkError, match="PROGRAM:ID"):
        crosswalk.parse_entry("astc-" + CHABOT)
    assert crosswalk.pairs(lists_db) == []  # nothing written


# --------------------------------------------------------------------------- CLI

def test_cli_suggest_list_confirm_reject(lists_db, cli):
    out = json.loads(cli("crosswalk", "suggest", "--from", "astc", "--to", "narm",
                         "--json").output)
    assert (CHABOT, CHABOT) in by_pair(out["suggestions"])
    text = cli("crosswalk", "suggest", "--from", "astc", "--to", "narm").output
    assert "Chabot Space & Science Center" in text and "city-level point" in text
    done = json.loads(cli("crosswalk", "confirm", f"astc:{BISHOP}", f"narm:{BISHOP}",
                          "--json").output)
    assert done["status"] == "confirmed" and done["decided_by"].startswith("cli:")
    cli("crosswalk", "reject", f"narm:{CHABOT}", f"astc:{CHABOT}")
    listed = json.loads(cli("crosswalk", "list", "--program", "narm", "--status",
                            "confirmed", "--json").output)["pairs"]
    assert [(p["a"]["id"], p["status"]) for p in listed] == [(BISHOP, "confirmed")]
    rejected = json.loads(cli("crosswalk", "list", "--status", "rejected", "--json").output)
    assert [p["a"]["id"] for p in rejected["pairs"]] == [CHABOT]
    assert crosswalk.load(lists_db).counterpart("astc", CHABOT, "narm", {CHABOT}) is None


@pytest.mark.parametrize("args, error", [
    (("suggest", "--from", "astc", "--to", "nope"), "no program 'nope'"),
    (("confirm", f"astc:{CHABOT}", "narm:not-a-site"), "'not-a-site' is not on the active narm"),
    (("reject", f"astc:{CHABOT}", "sciencey"), "expected PROGRAM:ID"),
    (("confirm", f"astc:{CHABOT}", f"astc:{BISHOP}"), "two programs"),
    (("list", "--program", "nope"), "no program 'nope'"),
])
def test_cli_errors_are_one_line(lists_db, cli, args, error):
    cli("crosswalk", *args, error=error)


# --------------------------------------------------------------------------- page

def test_admin_page_suggest_confirm_reject(lists_db, kiosk_client, kiosk_login):
    assert kiosk_client.get("/admin/crosswalk").status_code == 302  # sign-in first
    token = kiosk_login(kiosk_client, "root", "admin")
    page = kiosk_client.get("/admin/crosswalk")
    assert page.status_code == 200 and b'data-pair="astc-narm"' in page.data
    # no CSRF token: refused, nothing suggested
    assert kiosk_client.post("/admin/crosswalk/suggest",
                             data={"from": "astc", "to": "narm"}).status_code == 400
    assert crosswalk.pairs(lists_db) == []
    page = kiosk_client.post("/admin/crosswalk/suggest", follow_redirects=True,
                             data={"csrf_token": token, "from": "astc", "to": "narm"})
    assert b"suggested" in page.data and b"Chabot Space &amp; Science Center" in page.data
    assert b"Oakland" in page.data and b'id="crosswalk-city-note"' in page.data
    for decision, entry in (("confirm", BISHOP), ("reject", CHABOT)):
        page = kiosk_client.post("/admin/crosswalk/decide", follow_redirects=True, data={
            "csrf_token": token, "a": f"astc:{entry}", "b": f"narm:{entry}",
            "decision": decision, "status": "suggested"})
        assert page.status_code == 200
    statuses = {p["a"]["id"]: p["status"] for p in crosswalk.pairs(lists_db)
                if p["status"] != "suggested"}
    assert statuses == {BISHOP: "confirmed", CHABOT: "rejected"}
    [entry] = audit.entries(lists_db, audit.Filters(action="crosswalk.confirmed"), limit=5)
    assert entry["actor"] == "root"
    confirmed = kiosk_client.get("/admin/crosswalk?status=confirmed")
    assert b"The Bishop Museum of Science and Nature" in confirmed.data
    bad = kiosk_client.post("/admin/crosswalk/decide", follow_redirects=True, data={
        "csrf_token": token, "a": f"astc:{BISHOP}", "b": "narm:nowhere",
        "decision": "confirm"})
    assert b"not on the active narm list" in bad.data


# --------------------------------------------------------------------------- diffs

def _narm_changed(tmp_path, *, remove: str, moves: dict[str, float]):
    """The real NARM list without ``remove`` and with ``moves`` (id -> degrees north)."""
    rows = list(csv.DictReader(io.StringIO(NARM_CSV.read_text(encoding="utf-8"))))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        if row["id"] == remove:
            continue
        if row["id"] in moves:
            row["latitude"] = f"{float(row['latitude']) + moves[row['id']]:.4f}"
        writer.writerow(row)
    path = tmp_path / "narm_changed.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_list_diff_names_confirmed_links_removed_or_moved(lists_db, tmp_path, cli):
    hopewell = "hopewell-museum-paris"
    for entry in (CHABOT, BISHOP, hopewell):
        crosswalk.confirm(lists_db, Entry("astc", entry), Entry("narm", entry), "x")
    # Bishop 0.03 degrees north (~2.1 miles), Hopewell 0.005 (~0.35 mile: not re-checked)
    changed = _narm_changed(tmp_path, remove=CHABOT, moves={BISHOP: 0.03, hopewell: 0.005})
    result = institutions.import_file(lists_db, changed, dry_run=True, profile="narm")
    recheck = {r["id"]: r for r in result.diff["crosswalk"]}
    assert set(recheck) == {CHABOT, BISHOP}
    assert recheck[CHABOT]["change"] == "removed"
    assert recheck[CHABOT]["linked"] == {"program": "astc", "id": CHABOT}
    assert recheck[BISHOP]["change"] == "moved" and 2.0 < recheck[BISHOP]["moved_miles"] < 2.2
    # the CLI's dry run says it too; the ASTC list's diff has no such part
    text = cli("import", changed, "--program", "narm", "--dry-run").output
    assert f"re-check its crosswalk link to astc:{CHABOT}" in text
    published = institutions.import_file(lists_db, changed, profile="narm")
    assert institutions.diff_versions(lists_db, 2, published.version,
                                      profile="narm")["crosswalk"] == result.diff["crosswalk"]
    assert institutions.diff_versions(lists_db, 1, 1)["crosswalk"] == []
