"""kill -9 at the worst moments, the quick sizes of ``make chaos`` (bench/chaos.py; issue
15): the real server killed under 16-way check-in load and restarted, ``passport import`` of
a big list killed while it writes, ``passport cards issue-batch`` killed around its
recording step. Nothing acknowledged is lost or doubled; old state or new, never a mix."""

from __future__ import annotations

from bench import chaos


def test_kill_under_checkin_load_loses_and_doubles_nothing(tmp_path):
    result = chaos.checkin_crash(tmp_path, total=300, kill_after=100, clients=16)
    assert result["acknowledged_before_kill"] >= 100 and result["unanswered"] > 0
    assert result["refused"] == 0
    assert result["logged"] == 300  # each key once: the acknowledged and the retried
    assert result["doubled"] == result["missing"] == result["acknowledged_lost"] == 0
    assert result["totals_match_recount"] and result["integrity_ok"]
    assert result["ok"], result


def test_kill_during_a_list_publish_leaves_old_or_new(tmp_path):
    result = chaos.publish_crash(tmp_path, copies=10, seed=1)
    assert result["outcome"] in ("old", "new") and result["consistent"], result
    assert result["integrity_ok"] and result["publish_again_ok"] and result["ok"], result


def test_kill_during_a_roster_issue_records_whole_batches(tmp_path):
    result = chaos.roster_crash(tmp_path, members=300, seed=2)
    assert result["whole_batches"] and result["audited"], result
    assert result["integrity_ok"] and result["issue_again_ok"] and result["ok"], result


def test_the_checks_see_a_mix(tmp_path):
    """The list check is not blind: a version whose rows do not match its count is caught."""
    from bench.serverproc import prepare_store
    from passport import store

    prepare_store(tmp_path)
    assert chaos._list_state(tmp_path)["consistent"]
    db = store.open_db(tmp_path / "passport.sqlite")
    db.execute("UPDATE list_versions SET row_count = row_count + 1")
    db.conn.commit()
    db.close()
    assert not chaos._list_state(tmp_path)["consistent"]
