"""Visit reports (passport/reports.py): a report equals the check-ins made (undos, a party
partly paying, denials with several reasons, entries either side of the site's local
midnight), every --by and --format, the running totals against a plain recount of the log
(any zone, any range, entries logged before the totals existed), and `passport report`."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passport import checkins, institutions, ownsite, reports, store

EXPLORATORIUM = "exploratorium-san-francisco"
OMSI = "oregon-museum-of-science-and-industry-portland"
CHABOT = "chabot-space-science-center-oakland"
SCIENCE_NORTH = "science-north-sudbury"
LA = "America/Los_Angeles"
PST = ZoneInfo(LA)
UNDO_ANY_TIME = 10**9  # seconds: these tests undo long after logging


def local(*args) -> datetime:
    """An instant given as Exploratorium's local wall time."""
    return datetime(*args, tzinfo=PST)


def log(db, at: datetime, home: str, admit: bool, reasons: list[str], party_size: int = 1,
        covered: int | None = None, visit: str = EXPLORATORIUM) -> dict:
    decision = {"visit": visit, "home": home, "admit": admit, "reasons": reasons,
                "covered": covered}
    return checkins.log_checkin(db, decision, party_size=party_size, staff_user="desk1",
                                source="cli", now=at)


def undo(db, entry: dict, at: datetime) -> dict:
    return checkins.undo_checkin(db, entry["id"], staff_user="desk1", source="cli",
                                 window_seconds=UNDO_ANY_TIME, now=at)


def row(key, admitted=0, people_free=0, people_paying=0, denied=0) -> dict:
    return {"key": key, "admitted": admitted, "people_free": people_free,
            "people_paying": people_paying, "denied": denied}


def busy(report: dict) -> list[dict]:
    """The rows with any count (weekday, hour and month reports list empty keys too)."""
    return [r for r in report["rows"] if r["admitted"] or r["denied"]]


@pytest.fixture
def logged(db):
    """A week at the Exploratorium (Los Angeles, PST in November), made by hand."""
    log(db, local(2026, 11, 23, 23, 50), OMSI, True, ["ELIGIBLE"], 3, covered=6)  # Monday
    log(db, local(2026, 11, 24, 0, 10), OMSI, True, ["ELIGIBLE", "PARTY_TOO_LARGE"], 7,
        covered=6)                                                       # 6 free, 1 paying
    log(db, local(2026, 11, 24, 0, 20), CHABOT, False,
        ["HOME_WITHIN_RADIUS", "RESIDENCE_WITHIN_RADIUS"], 2)
    log(db, local(2026, 11, 24, 9, 15), CHABOT, False, ["CARD_EXPIRED", "HOME_WITHIN_RADIUS"])
    mistaken = log(db, local(2026, 11, 24, 10, 0), OMSI, True, ["ELIGIBLE"], 2, covered=6)
    undo(db, mistaken, local(2026, 11, 24, 10, 1))
    late = log(db, local(2026, 11, 23, 23, 59), CHABOT, False, ["HOME_WITHIN_RADIUS"])
    undo(db, late, local(2026, 12, 2, 8, 0))       # undone a week later, in another month
    log(db, local(2026, 12, 1, 11, 0), SCIENCE_NORTH, True, ["ELIGIBLE"], 2)  # covered unknown
    return db


def test_report_equals_the_checkins_made(logged):
    by_month = reports.visits(logged, by="month", tz_name=LA)
    assert by_month == {"by": "month", "from": None, "to": None, "time_zone": LA, "rows": [
        row("2026-11", admitted=2, people_free=9, people_paying=1, denied=2),
        row("2026-12", admitted=1, people_free=2)]}
    assert reports.visits(logged, by="home", tz_name=LA)["rows"] == [  # busiest first
        row(CHABOT, denied=2), row(OMSI, admitted=2, people_free=9, people_paying=1),
        row(SCIENCE_NORTH, admitted=1, people_free=2)]
    assert reports.visits(logged, by="visit", tz_name=LA)["rows"] == [
        row(EXPLORATORIUM, admitted=3, people_free=11, people_paying=1, denied=2)]
    assert reports.visits(logged, by="reason", tz_name=LA)["rows"] == [
        row("ELIGIBLE", admitted=3, people_free=11, people_paying=1),
        row("HOME_WITHIN_RADIUS", denied=2),
        row("CARD_EXPIRED", denied=1),
        row("PARTY_TOO_LARGE", admitted=1, people_free=6, people_paying=1),
        row("RESIDENCE_WITHIN_RADIUS", denied=1)]


def test_weekdays_and_hours_are_local(logged):
    weekdays = reports.visits(logged, by="weekday", tz_name=LA)["rows"]
    assert [r["key"] for r in weekdays] == list(reports.WEEKDAYS)
    assert busy({"rows": weekdays}) == [
        row("Monday", admitted=1, people_free=3),
        row("Tuesday", admitted=2, people_free=8, people_paying=1, denied=2)]
    hours = reports.visits(logged, by="hour", tz_name=LA)["rows"]
    assert [r["key"] for r in hours] == [f"{h:02d}" for h in range(24)]
    assert busy({"rows": hours}) == [
        row("00", admitted=1, people_free=6, people_paying=1, denied=1),
        row("09", denied=1), row("11", admitted=1, people_free=2),
        row("23", admitted=1, people_free=3)]


def test_days_turn_at_the_sites_local_midnight(logged):
    monday = reports.visits(logged, from_="2026-11-23", to="2026-11-23", by="home", tz_name=LA)
    assert monday["rows"] == [row(OMSI, admitted=1, people_free=3)]
    tuesday = reports.visits(logged, from_=date(2026, 11, 24), to=date(2026, 11, 24),
                             by="visit", tz_name=LA)
    assert tuesday["rows"] == [row(EXPLORATORIUM, admitted=1, people_free=6, people_paying=1,
                                   denied=2)]
    # Without a site zone the days are UTC days: Monday 23:50 in LA is Tuesday in UTC.
    utc = reports.visits(logged, from_="2026-11-23", to="2026-11-23", by="home")
    assert utc["time_zone"] == "UTC" and utc["rows"] == []
    assert busy(reports.visits(logged, from_="2026-11-24", to="2026-11-24", by="hour")) == [
        row("07", admitted=1, people_free=3), row("08", admitted=1, people_free=6,
                                                  people_paying=1, denied=1),
        row("17", denied=1)]


def test_months_fill_the_range(logged):
    rows = reports.visits(logged, from_="2026-10-15", to="2027-01-02", by="month",
                          tz_name=LA)["rows"]
    assert [r["key"] for r in rows] == ["2026-10", "2026-11", "2026-12", "2027-01"]
    assert rows[0] == row("2026-10") and rows[3] == row("2027-01")
    assert reports.visits(logged, from_="2030-01-01", by="home", tz_name=LA)["rows"] == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"by": "year"}, "'by' must be one of month, home, visit, reason, weekday, hour, not 'year'"),
    ({"from_": "2026-02-30"}, "'from' must be a date YYYY-MM-DD, not '2026-02-30'"),
    ({"to": "20261231"}, "'to' must be a date YYYY-MM-DD"),
    ({"from_": "2026-12-01", "to": "2026-11-01"}, "'from' 2026-12-01 is after 'to' 2026-11-01"),
])
def test_bad_parameters_are_named(db, kwargs, message):
    with pytest.raises(reports.ReportError, match="^" + message.replace("(", r"\(")):
        reports.visits(db, **kwargs)


# --------------------------------------------------------------------------- formats

@pytest.fixture
def risky(db):
    """Entries whose keys a spreadsheet would run as formulas."""
    for home in ("=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tTAB", "\rCR"):
        log(db, datetime(2026, 5, 4, 18, tzinfo=UTC), home, True, ["ELIGIBLE"])
    return db


def test_csv_neutralises_formulas(risky):
    report = reports.visits(risky, by="home")
    rows = list(csv.reader(io.StringIO(reports.to_csv(report), newline="")))
    assert rows[0] == ["home", "admitted", "people_free", "people_paying", "denied"]
    keys = sorted(r[0] for r in rows[1:])
    assert keys == sorted("'" + r["key"] for r in report["rows"])
    assert all(r[1:] == ["1", "1", "0", "0"] for r in rows[1:])


def test_xlsx_opens_with_openpyxl_and_neutralises_formulas(risky, tmp_path):
    report = reports.visits(risky, by="home", from_="2026-05-01", to="2026-05-31")
    path = tmp_path / "visits.xlsx"
    path.write_bytes(reports.to_xlsx(report))
    book = openpyxl.load_workbook(path)
    sheet = book["Visits"]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == ("home", "admitted", "people_free", "people_paying", "denied")
    # (XML keeps a CR in a cell as LF)
    assert sorted(v[0] for v in values[1:]) == sorted("'" + r["key"].replace("\r", "\n")
                                                      for r in report["rows"])
    assert all(v[1:] == (1, 1, 0, 0) for v in values[1:])
    assert all(cell.data_type != "f" for line in sheet.iter_rows() for cell in line)
    about = dict(book["About"].iter_rows(values_only=True))
    assert about["from"] == "2026-05-01" and about["time_zone"] == "UTC"


def test_table_and_json(logged):
    report = reports.visits(logged, by="month", tz_name=LA)
    table = reports.to_table(report)
    assert "local days in America/Los_Angeles" in table and "undone visits left out" in table
    assert table.splitlines()[-1].split() == ["Total", "3", "11", "1", "2"]
    assert json.loads(reports.render(report, "json")) == report
    assert reports.filename({**report, "from": "2026-01-01"}, "xlsx") == \
        "visits-by-month_2026-01-01.xlsx"
    with pytest.raises(reports.ReportError, match="'format' must be one of"):
        reports.render(report, "pdf")


# --------------------------------------------------------------------------- against a recount

ZONES = ["America/Los_Angeles", "America/St_Johns", "Asia/Kolkata", "Australia/Lord_Howe",
         "UTC", None]
START = datetime(2026, 2, 25, tzinfo=UTC)  # across a month end and the US/Canada DST start
SPAN_MINUTES = 12 * 24 * 60


def recount(entries: list[dict], by: str, zone_name: str | None, first: date | None,
            last: date | None) -> dict[str, list[int]]:
    """The report computed the plain way: every visit that was not undone, one by one."""
    zone = ZoneInfo(zone_name) if zone_name else UTC
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for e in entries:
        if e["kind"] != "visit" or e["undone"]:
            continue
        moment = datetime.fromisoformat(e["at"]).astimezone(zone)
        if (first and moment.date() < first) or (last and moment.date() > last):
            continue
        keys = {"month": [moment.strftime("%Y-%m")], "home": [e["home"]],
                "visit": [e["visit"]], "reason": e["reasons"],
                "weekday": [reports.WEEKDAYS[moment.weekday()]],
                "hour": [f"{moment.hour:02d}"]}[by]
        free = min(e["party_size"], e["covered"] or e["party_size"]) if e["admit"] else 0
        paying = e["party_size"] - free if e["admit"] else 0
        for key in keys:
            for i, value in enumerate((int(e["admit"]), free, paying, int(not e["admit"]))):
                totals[key][i] += value
    return {k: v for k, v in totals.items() if any(v)}


def as_totals(report: dict) -> dict[str, list[int]]:
    return {r["key"]: [r["admitted"], r["people_free"], r["people_paying"], r["denied"]]
            for r in busy(report)}


entry_strategy = st.tuples(
    st.integers(0, SPAN_MINUTES), st.sampled_from([OMSI, CHABOT, SCIENCE_NORTH]),
    st.booleans(), st.integers(1, 8), st.sampled_from([None, 1, 6]),
    st.lists(st.sampled_from(["HOME_WITHIN_RADIUS", "CARD_EXPIRED", "PARTY_TOO_LARGE"]),
             max_size=2, unique=True), st.booleans())
day_strategy = st.one_of(st.none(), st.integers(-1, 14).map(
    lambda n: (START + timedelta(days=n)).date()))


def fill(db, drawn) -> None:
    for minute, home, admit, party, covered, extra, undone in drawn:
        at = START + timedelta(minutes=minute, seconds=17)
        reasons = (["ELIGIBLE"] if admit else []) + extra or ["HOME_WITHIN_RADIUS"]
        entry = log(db, at, home, admit, reasons, party, covered)
        if undone:
            undo(db, entry, at + timedelta(minutes=minute % 50))


def all_entries(db) -> list[dict]:
    return checkins.list_checkins(db, limit=checkins.MAX_LIMIT)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=st.lists(entry_strategy, max_size=40), zone=st.sampled_from(ZONES),
       first=day_strategy, last=day_strategy)
def test_reports_equal_a_recount_of_the_log(drawn, zone, first, last):
    if first and last and first > last:
        first, last = last, first
    with tempfile.TemporaryDirectory() as folder:
        db = store.open_db(Path(folder) / "passport.sqlite")
        fill(db, drawn)
        entries = all_entries(db)
        for by in reports.BYS:
            report = reports.visits(db, from_=first, to=last, by=by, tz_name=zone)
            assert as_totals(report) == recount(entries, by, zone, first, last), by
        db.close()


def test_totals_of_entries_logged_before_the_migration(db_path, monkeypatch):
    """Migration 6 sums the log it finds; from then on the triggers keep the totals."""
    drawn = [(m * 97 % SPAN_MINUTES, [OMSI, CHABOT][m % 2], m % 3 > 0, m % 7 + 1,
              [None, 6][m % 2], ["CARD_EXPIRED"] if m % 5 == 0 else [], m % 4 == 0)
             for m in range(200)]
    before_totals = store.MIGRATIONS[:store.MIGRATIONS.index(store._m006_checkin_totals)]
    with monkeypatch.context() as patch:
        patch.setattr(store, "MIGRATIONS", before_totals)
        # the log as that older version wrote it: without the columns added since
        patch.setattr(store, "CHECKIN_COLUMNS",
                      tuple(c for c in store.CHECKIN_COLUMNS if c != "program"))
        old = store.open_db(db_path)
        assert "checkin_totals" not in old.table_names()
        fill(old, drawn)
        old.close()
    db = store.open_db(db_path)  # migration 6 runs now
    fill(db, drawn[:50])         # and the triggers count the rest
    entries = all_entries(db)
    for by in reports.BYS:
        for zone in ("America/Los_Angeles", "Asia/Kolkata"):
            report = reports.visits(db, by=by, tz_name=zone)
            assert as_totals(report) == recount(entries, by, zone, None, None), (by, zone)
    db.close()


def test_a_bulk_append_sums_the_same_totals(db):
    """store.append_checkin_rows (a bulk load) sums what the triggers would, undos of
    entries logged before the batch and inside it included; the triggers work after it."""
    drawn = [(m * 131 % SPAN_MINUTES, [OMSI, CHABOT, SCIENCE_NORTH][m % 3], m % 4 > 0,
              m % 8 + 1, [None, 6][m % 2], ["CARD_EXPIRED"] if m % 7 == 0 else [], m % 5 == 0)
             for m in range(60)]
    fill(db, drawn)
    before = all_entries(db)  # newest first
    columns = [c for c in store.CHECKIN_COLUMNS if c != "idempotency_key"]

    def copy(entry_id: int, undoes: int | None = None) -> list:
        stored = store.get_checkin_row(db, entry_id)
        return [undoes if c == "undoes" else stored[c] for c in columns]

    visits = [e["id"] for e in before if e["kind"] == "visit"]
    first_new = before[0]["id"] + 1
    old_visit = next(e["id"] for e in before if e["kind"] == "visit" and not e["undone"])
    batch = [copy(n) for n in visits[:30]]          # new visits: ids first_new, ...
    batch.append(copy(old_visit, undoes=old_visit))  # undoes an entry from before the batch
    batch += [copy(visits[1], undoes=first_new + 1)] * 2  # a visit of the batch, undone twice
    assert store.append_checkin_rows(db, columns, batch) == len(batch)
    log(db, START + timedelta(days=3), OMSI, True, ["ELIGIBLE"], 4, 6)  # the triggers again
    entries = all_entries(db)
    for by in reports.BYS:
        report = reports.visits(db, by=by, tz_name="America/St_Johns")
        assert as_totals(report) == recount(entries, by, "America/St_Johns", None, None), by
    with pytest.raises(ValueError, match="not check-in columns"):
        store.append_checkin_rows(db, ["at", "password"], [])


def test_a_second_undo_of_one_entry_subtracts_nothing(db):
    """The domain refuses it; the totals would not count it twice even if it were logged."""
    entry = log(db, datetime(2026, 5, 4, 18, tzinfo=UTC), OMSI, True, ["ELIGIBLE"], 2)
    undo(db, entry, datetime(2026, 5, 4, 18, 1, tzinfo=UTC))
    row_ = {name: store.get_checkin_row(db, entry["id"])[name] for name in store.CHECKIN_COLUMNS}
    store.insert_checkin(db, {**row_, "undoes": entry["id"], "idempotency_key": None})
    assert reports.visits(db, by="home")["rows"] == []
    log(db, datetime(2026, 5, 4, 19, tzinfo=UTC), OMSI, True, ["ELIGIBLE"], 2)
    assert reports.visits(db, by="home")["rows"] == [row(OMSI, admitted=1, people_free=2)]


# --------------------------------------------------------------------------- the command line

@pytest.fixture
def site_store(logged, shipped_csv, monkeypatch):
    institutions.import_file(logged, shipped_csv)
    ownsite.set_own_site(logged, EXPLORATORIUM)
    return logged


def test_cli_report_json(cli, site_store):
    result = cli("report", "visits", "--by", "home", "--from", "2026-11-23", "--to",
                 "2026-11-23", "--json")
    assert json.loads(result.stdout) == {
        "by": "home", "from": "2026-11-23", "to": "2026-11-23", "time_zone": LA,
        "rows": [row(OMSI, admitted=1, people_free=3)]}


@pytest.mark.parametrize("by", reports.BYS)
def test_cli_every_by(cli, site_store, by):
    as_json = json.loads(cli("report", "visits", "--by", by, "--format", "json").stdout)
    assert as_json == reports.visits(site_store, by=by, tz_name=LA)
    table = cli("report", "visits", "--by", by).stdout
    assert reports.HEADINGS[by] in table and "local days in America/Los_Angeles" in table


def test_cli_files(cli, site_store, tmp_path):
    out = tmp_path / "visits.xlsx"
    result = cli("report", "visits", "--by", "reason", "--format", "xlsx", "--out", out)
    assert "Wrote 5 rows" in result.stdout
    sheet = openpyxl.load_workbook(out)["Visits"]
    assert [c.value for c in sheet[1]] == ["reason", *reports.COLUMNS]
    out = tmp_path / "visits.csv"
    cli("report", "visits", "--format", "csv", "--out", out)
    assert out.read_text().splitlines() == ["month,admitted,people_free,people_paying,denied",
                                            "2026-11,2,9,1,2", "2026-12,1,2,0,0"]
    cli("report", "visits", "--format", "xlsx", error="--format xlsx writes a workbook")


def test_cli_errors_are_one_line(cli, site_store):
    cli("report", "visits", "--from", "2026-11-31", error="--from must be a date YYYY-MM-DD")
    cli("report", "visits", "--from", "2026-12-01", "--to", "2026-11-01",
        error="--from 2026-12-01 is after --to 2026-11-01")
    usage = cli("report", "visits", "--by", "year", ok=False)  # a usage error: exit 2
    assert usage.exit_code == 2 and usage.stderr.count("\n") == 1
    assert "Invalid value for '--by': 'year' is not one of 'month'" in usage.stderr


def test_cli_without_a_site_counts_utc_days(cli, db):
    log(db, datetime(2026, 11, 24, 7, 50, tzinfo=UTC), OMSI, True, ["ELIGIBLE"])
    result = json.loads(cli("report", "visits", "--by", "hour", "--json").stdout)
    assert result["time_zone"] == "UTC" and busy(result) == [row("07", admitted=1,
                                                                 people_free=1)]
    assert "UTC days (no site time zone)" in cli("report", "visits").stdout


def test_the_bench_section_counts_its_generated_log():
    """bench/reports.py on a small log: every report timed, the undone 2 % left out."""
    from bench import reports as bench_reports

    result = bench_reports.run(repeat=3, rows=5000)
    assert result["visits_counted"] == 4900 and result["target_ms"] == 200.0
    timed = {name: r for name, r in result["results"].items() if name != "generated log"}
    assert len(timed) == 2 * len(reports.BYS) + 1
    assert all(r["median_ms"] >= 0 and r["n"] == 3 for r in timed.values())
    assert result["results"]["generated log"]["undone"] == 100
