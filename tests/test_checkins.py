"""passport.checkins: append-only log, idempotency, undo as a new row, counts."""

import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from passport import checkins, store

# Every entry is logged at a chosen instant (noon in Los Angeles), never the real time.
T0 = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)
LOS_ANGELES = "America/Los_Angeles"


def decision(admit=True, visit="site-a", home="site-b", reasons=None, **extra):
    return {
        "admit": admit,
        "reasons": reasons or (["ELIGIBLE"] if admit else ["HOME_WITHIN_RADIUS"]),
        "home_distance_miles": 120.5 if admit else 12.0,
        "residence_distance_miles": None,
        "list_version": 1,
        "visit": visit,
        "home": home,
        **extra,
    }


def log(db, d=None, **kwargs):
    kwargs.setdefault("party_size", 1)
    kwargs.setdefault("staff_user", "desk1")
    kwargs.setdefault("source", "desk")
    kwargs.setdefault("now", T0)
    return checkins.log_checkin(db, d or decision(), **kwargs)


def undo(db, visit="site-a", now=T0, **kwargs):
    return checkins.undo_last(db, visit=visit, staff_user="desk1", now=now, **kwargs)


def test_log_checkin_commits_and_returns_row(db, db_path):
    row = log(db, decision(card={"member_id": "M1", "names": ["Ada"], "key_id": "k1"}),
              party_size=3)
    assert row["id"] == 1 and row["admit"] is True and row["reasons"] == ["ELIGIBLE"]
    assert row["names"] == ["Ada"] and row["member_id"] == "M1" and row["card_key_id"] == "k1"
    assert row["replayed"] is False
    # Committed: a second connection sees it at once.
    other = store.open_db(db_path)
    assert other.execute("SELECT party_size FROM checkins").fetchone()[0] == 3
    other.close()


def test_idempotency_key_returns_original(db):
    first = log(db, idempotency_key="abc")
    # the same request (visit, home, member, party size) decided again later: the original
    again = log(db, decision(admit=False), idempotency_key="abc")
    assert again["id"] == first["id"] and again["admit"] is True and again["replayed"] is True
    assert db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 1


@pytest.mark.parametrize(("d", "party_size"), [
    (decision(), 4), (decision(visit="site-c"), 1), (decision(home="site-c"), 1),
    (decision(card={"member_id": "M2"}), 1),
])
def test_idempotency_key_reused_for_another_request(db, d, party_size):
    log(db, idempotency_key="abc")
    with pytest.raises(checkins.IdempotencyKeyReused, match="already used"):
        log(db, d, party_size=party_size, idempotency_key="abc")
    assert db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 1


def test_idempotency_keys_scoped_per_client(db):
    first = log(db, idempotency_key="abc", key_scope="t1")
    other_client = log(db, party_size=2, idempotency_key="abc", key_scope="s:alice")
    assert other_client["id"] != first["id"] and other_client["replayed"] is False
    assert first["idempotency_key"] == other_client["idempotency_key"] == "abc"
    stored = [r[0] for r in db.execute("SELECT idempotency_key FROM checkins ORDER BY id")]
    assert stored == ["t1:abc", "s:alice:abc"]
    assert checkins.find_by_key(db, "abc", "t1")["id"] == first["id"]
    assert checkins.find_by_key(db, "abc") is None
    assert [r["idempotency_key"] for r in checkins.list_checkins(db)] == ["abc", "abc"]
    with pytest.raises(checkins.CheckinError, match="scope"):
        log(db, idempotency_key="x", key_scope="anyone:")


@pytest.mark.parametrize("party_size", [0, 51, "2", True, 1.5])
def test_bad_party_size(db, party_size):
    with pytest.raises(checkins.CheckinError):
        log(db, party_size=party_size)


def test_log_is_append_only(db):
    log(db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM checkins")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE checkins SET admit = 0")


def test_undo_last_logs_a_new_row(db):
    first = log(db)
    second = log(db, decision(admit=False))
    undone = undo(db, now=T0 + timedelta(seconds=5))
    assert undone["undoes"] == second["id"] and undone["id"] == 3
    assert undone["at"] == "2026-01-15T20:00:05.000000+00:00"  # logged at the undo's instant
    undo2 = undo(db, now=T0 + timedelta(seconds=6))
    assert undo2["undoes"] == first["id"]
    with pytest.raises(checkins.NothingToUndo):
        undo(db, now=T0 + timedelta(seconds=7))
    assert db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 4
    rows = checkins.list_checkins(db)
    assert [r["id"] for r in rows] == [4, 3, 2, 1]
    assert {r["id"]: r["undone_by"] for r in rows}[2] == 3


@pytest.mark.parametrize(("after", "undoable"), [
    (timedelta(seconds=119, microseconds=999_999), True),  # just inside
    (timedelta(seconds=120), True),  # exactly the window: still undoable
    (timedelta(seconds=120, microseconds=1), False),  # just outside
])
def test_undo_window_edges(db, after, undoable):
    logged = log(db)
    assert checkins.UNDO_WINDOW_SECONDS == 120
    if undoable:
        assert undo(db, now=T0 + after)["undoes"] == logged["id"]
    else:
        with pytest.raises(checkins.NothingToUndo, match="120 seconds"):
            undo(db, now=T0 + after)


def test_undo_window(db):
    log(db)
    with pytest.raises(checkins.NothingToUndo):
        undo(db, now=T0 + timedelta(microseconds=1), window_seconds=0)
    with pytest.raises(checkins.NothingToUndo):
        undo(db, visit="other-site")
    assert undo(db, now=T0 + timedelta(seconds=30), window_seconds=30)["undoes"] == 1


def test_counts_leave_out_undone(db):
    log(db, party_size=3)
    log(db, party_size=2)
    log(db, decision(admit=False))
    log(db, decision(visit="site-z"))
    undo(db)  # undoes the denial
    counts = checkins.today_counts(db, "site-a", "America/New_York", now=T0)
    # (these decisions carry no `covered`, as entries logged before it was: all covered)
    assert counts == {"admitted": 2, "admitted_people": 5, "denied": 0, "denied_people": 0,
                      "undone": 1, "admitted_free": 5, "admitted_paying": 0}
    assert len(checkins.today_checkins(db, "site-a", now=T0)) == 4  # the server's own zone
    both = checkins.today_log(db, "site-a", "America/New_York", now=T0)
    assert both["counts"] == counts
    assert both["checkins"] == checkins.today_checkins(db, "site-a", "America/New_York", now=T0)
    assert all("replayed" not in row for row in both["checkins"])


def test_list_checkins_bounds(db):
    log(db)
    today = T0.date()
    assert len(checkins.list_checkins(db, today, today)) == 1
    assert len(checkins.list_checkins(db, today.replace(year=today.year - 1), "2000-01-02")) == 0
    assert len(checkins.list_checkins(db, to=f"{today.isoformat()}T00:00:00+00:00")) == 0
    with pytest.raises(checkins.CheckinError):
        checkins.list_checkins(db, "yesterday")
    with pytest.raises(checkins.CheckinError):
        checkins.list_checkins(db, limit=0)


def test_local_day_bounds():
    noon = datetime(2026, 3, 8, 17, 0, tzinfo=UTC)
    start, end = checkins.local_day_bounds("America/Chicago", now=noon)
    assert start == "2026-03-08T06:00:00.000000+00:00"
    assert end == "2026-03-09T05:00:00.000000+00:00"  # DST began that day


def test_local_day_bounds_without_a_zone_are_utc_days(monkeypatch):
    # never the server's own fixed offset (an hour off on a DST day); the reports agree
    import time as clock

    monkeypatch.setenv("TZ", "America/Chicago")
    clock.tzset()
    try:
        noon = datetime(2026, 3, 8, 17, 0, tzinfo=UTC)
        for unknown in (None, "Not/AZone"):
            assert checkins.local_day_bounds(unknown, now=noon) == (
                "2026-03-08T00:00:00.000000+00:00", "2026-03-09T00:00:00.000000+00:00")
    finally:
        monkeypatch.undo()
        clock.tzset()


# 23:59 on 15 January and 00:01 on 16 January in Los Angeles (PST, UTC-8): one UTC day,
# two days at the site.
BEFORE_MIDNIGHT = datetime(2026, 1, 15, 23, 59, tzinfo=ZoneInfo(LOS_ANGELES))
AFTER_MIDNIGHT = datetime(2026, 1, 16, 0, 1, tzinfo=ZoneInfo(LOS_ANGELES))


@pytest.mark.parametrize(("now", "day"), [
    (BEFORE_MIDNIGHT, "late"),
    (datetime(2026, 1, 15, 23, 59, 59, 999_999, tzinfo=ZoneInfo(LOS_ANGELES)), "late"),
    (datetime(2026, 1, 16, 0, 0, tzinfo=ZoneInfo(LOS_ANGELES)), "early"),
    (AFTER_MIDNIGHT, "early"),
])
def test_today_turns_at_the_sites_local_midnight(db, now, day):
    logged = {"late": log(db, party_size=2, now=BEFORE_MIDNIGHT),
              "early": log(db, party_size=3, now=AFTER_MIDNIGHT)}
    assert logged["late"]["at"] == "2026-01-16T07:59:00.000000+00:00"
    assert logged["early"]["at"] == "2026-01-16T08:01:00.000000+00:00"
    today = checkins.today_log(db, "site-a", LOS_ANGELES, now=now)
    assert [row["id"] for row in today["checkins"]] == [logged[day]["id"]]
    assert today["counts"]["admitted"] == 1
    assert today["counts"]["admitted_people"] == logged[day]["party_size"]
    assert checkins.today_counts(db, "site-a", LOS_ANGELES, now=now) == today["counts"]
    assert checkins.today_checkins(db, "site-a", LOS_ANGELES, now=now) == today["checkins"]


def test_plain_dates_are_utc_days(db):
    """``list_checkins``' plain dates are UTC days unless a zone is given (``tz_name``)."""
    late = log(db, now=datetime(2026, 1, 15, 23, 59, 59, 999_999, tzinfo=UTC))
    early = log(db, now=datetime(2026, 1, 16, 0, 0, tzinfo=UTC))
    assert [r["id"] for r in checkins.list_checkins(db, "2026-01-15", "2026-01-15")] == [
        late["id"]]
    assert [r["id"] for r in checkins.list_checkins(db, "2026-01-16", "2026-01-16")] == [
        early["id"]]


def test_now_must_be_aware(db):
    with pytest.raises(ValueError, match="timezone-aware"):
        log(db, now=datetime(2026, 1, 15, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        checkins.local_day_bounds(LOS_ANGELES, now=datetime(2026, 1, 15, 12, 0))


# -- issue 10: a misread is not a visit; entries say what they are; who paid ---------------

def test_a_misread_is_never_logged(db):
    misread = decision(admit=False, home=None, reasons=["CARD_MALFORMED"],
                       card={"valid": False, "reasons": ["CARD_MALFORMED"]})
    assert checkins.is_misread(misread) and not checkins.is_misread(decision(admit=False))
    with pytest.raises(checkins.CardUnreadable, match="scan again"):
        log(db, misread, idempotency_key="k")
    assert db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 0
    bad_signature = decision(admit=False, reasons=["CARD_SIGNATURE_INVALID"])
    assert log(db, bad_signature)["admit"] is False  # a decoded card: a logged denial


def test_undo_checkin_by_id_under_the_desks_rules(db):
    first = log(db, party_size=4)
    second = log(db, party_size=2)
    undone = checkins.undo_checkin(db, first["id"], staff_user="token:t", now=T0)
    assert (undone["kind"], undone["undoes"], undone["source"]) == ("undo", first["id"], "api")
    assert undone["party_size"] == 4 and undone["undone"] is False
    with pytest.raises(checkins.AlreadyUndone, match=f"undone by #{undone['id']}"):
        checkins.undo_checkin(db, first["id"], staff_user="x", now=T0)
    with pytest.raises(checkins.UndoOfUndo):
        checkins.undo_checkin(db, undone["id"], staff_user="x", now=T0)
    for missing in (99, 0, -1, 2**63, "1", True):
        with pytest.raises(checkins.UnknownCheckin):
            checkins.undo_checkin(db, missing, staff_user="x", now=T0)
    with pytest.raises(checkins.UndoWindowPassed, match="120 seconds"):
        checkins.undo_checkin(db, second["id"], staff_user="x",
                              now=T0 + timedelta(seconds=120, microseconds=1))
    assert checkins.undo_checkin(db, second["id"], staff_user="x",
                                 now=T0 + timedelta(seconds=120))["undoes"] == second["id"]
    assert db.execute("SELECT COUNT(*) FROM checkins").fetchone()[0] == 4


def test_entries_say_what_they_are(db):
    visit = log(db, party_size=3)
    kept = log(db, party_size=2)
    undone = undo(db, now=T0)  # the newest entry: `kept`
    assert undone["undoes"] == kept["id"]
    rows = {r["id"]: r for r in checkins.list_checkins(db)}
    assert (rows[visit["id"]]["kind"], rows[visit["id"]]["undone"]) == ("visit", False)
    assert (rows[kept["id"]]["kind"], rows[kept["id"]]["undone"]) == ("visit", True)
    assert (rows[undone["id"]]["kind"], rows[undone["id"]]["undone"]) == ("undo", False)
    # a replayed entry says whether it was undone since
    log(db, idempotency_key="k", now=T0)
    undo(db, now=T0)
    assert log(db, idempotency_key="k", now=T0)["undone"] is True


def test_counts_say_who_paid(db):
    log(db, decision(reasons=["ELIGIBLE", "PARTY_TOO_LARGE"], covered=6), party_size=7)
    log(db, decision(covered=2), party_size=2)
    log(db, decision(admit=False, covered=0), party_size=3)
    counts = checkins.today_counts(db, "site-a", LOS_ANGELES, now=T0)
    assert (counts["admitted"], counts["admitted_people"]) == (2, 9)
    assert (counts["admitted_free"], counts["admitted_paying"]) == (8, 1)
    assert (counts["denied"], counts["denied_people"]) == (1, 3)
    undo(db, now=T0)  # the denial
    undo(db, now=T0)  # the party of 2
    counts = checkins.today_counts(db, "site-a", LOS_ANGELES, now=T0)
    assert (counts["admitted_free"], counts["admitted_paying"], counts["denied"]) == (6, 1, 0)


def ids(rows: list[dict]) -> list[int]:
    return [row["id"] for row in rows]


def test_list_by_home_in_a_zone_and_by_page(db):
    late = log(db, now=BEFORE_MIDNIGHT)
    early = log(db, decision(home="site-c"), now=AFTER_MIDNIGHT)
    assert ids(checkins.list_checkins(db, home="site-c")) == [early["id"]]
    assert ids(checkins.list_checkins(db, "2026-01-15", "2026-01-15", tz_name=LOS_ANGELES)) == [
        late["id"]]
    assert ids(checkins.list_checkins(db, "2026-01-16", "2026-01-16", tz_name=LOS_ANGELES)) == [
        early["id"]]
    first = checkins.page_checkins(db, limit=1)
    assert ids(first["checkins"]) == [early["id"]] and first["next_cursor"] == str(early["id"])
    last = checkins.page_checkins(db, limit=1, cursor=first["next_cursor"])
    assert ids(last["checkins"]) == [late["id"]] and last["next_cursor"] is None
    for bad in ("x", "0", "01", " 1", 5):
        with pytest.raises(checkins.CheckinError, match="cursor"):
            checkins.page_checkins(db, cursor=bad)
