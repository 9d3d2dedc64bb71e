"""Benchmark: visit reports over a big check-in log (issue 12's target: a report over
1,000,000 logged check-ins answers in <= 200 ms).

The log is generated in a temporary store, the real schema and its triggers (the running
totals count every row as it is inserted): 1,000,000 visits at the Exploratorium (Los
Angeles) over three years (2024-2026), in opening hours 10:00-17:30 local time, from 300 home
institutions, 85 % admitted (party sizes 1-8, a group card covering 6), denials with one or
two reasons, and 2 % of the visits undone by an undo row. Rows go in with ``executemany``
inside one transaction (``store.append_checkin_rows``: the totals summed once for the batch
rather than by the triggers row by row; seeded, so every run counts the same log).

``run()`` times ``passport.reports.visits`` for each ``by`` over the whole log and over one
local year (2025, whose first local day starts at 08:00 UTC: the report reads that part of
the month from the log itself), plus ``by=hour`` in St. John's (a zone 3:30 off UTC:
quarter-hour totals), and says how long the log took to generate.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.registry import sample_us
from passport import reports, store

ROWS = 1_000_000
UNDONE_SHARE = 0.02
TARGET_MS = 200.0
SEED = 20261201
VISIT = "exploratorium-san-francisco"
ZONE = "America/Los_Angeles"
FIRST_DAY, DAYS = date(2024, 1, 1), 3 * 365 + 1
HOMES = [f"home-institution-{n:03d}-science-center" for n in range(300)]
ADMITTED = [json.dumps(r) for r in (["ELIGIBLE"],) * 8 + (["ELIGIBLE", "PARTY_TOO_LARGE"],
                                                         ["ELIGIBLE", "LOCAL_RULE_HONOURED"])]
DENIED = [json.dumps(r) for r in (["HOME_WITHIN_RADIUS"], ["RESIDENCE_WITHIN_RADIUS"],
                                  ["CARD_EXPIRED"], ["HOME_WITHIN_RADIUS",
                                                     "RESIDENCE_WITHIN_RADIUS"],
                                  ["CARD_EXPIRED", "HOME_WITHIN_RADIUS"])]
COLUMNS = ("at", "visit", "home", "admit", "reasons", "party_size", "source", "covered")
YEAR = {"from_": "2025-01-01", "to": "2025-12-31"}


def _day_starts() -> list[datetime]:
    """Each local day's midnight in Los Angeles, as a UTC instant."""
    zone = ZoneInfo(ZONE)
    return [datetime.combine(FIRST_DAY + timedelta(days=n), datetime.min.time(), zone)
            .astimezone(UTC) for n in range(DAYS)]


def _rows(count: int, rnd: random.Random) -> list[tuple]:
    starts = _day_starts()
    minutes = sorted((rnd.randrange(DAYS), rnd.randrange(600, 1050)) for _ in range(count))
    out = []
    for day, minute in minutes:
        at = (starts[day] + timedelta(minutes=minute, seconds=rnd.random() * 60)).isoformat(
            timespec="microseconds")
        admit = rnd.random() < 0.85
        party = rnd.randint(1, 8)
        out.append((at, VISIT, rnd.choice(HOMES), int(admit),
                    rnd.choice(ADMITTED if admit else DENIED), party, "desk",
                    (6 if party > 1 else 1) if admit else None))
    return out


def generate(path: Path, count: int = ROWS, seed: int = SEED) -> float:
    """Fill a new store at ``path`` with ``count`` visits and their undos (ids 1.. in time
    order), through ``store.append_checkin_rows``; seconds taken."""
    rnd = random.Random(seed)
    began = time.perf_counter()
    db = store.open_db(path)
    try:
        rows = _rows(count, rnd)
        undone = sorted(rnd.sample(range(count), int(count * UNDONE_SHARE)))
        store.append_checkin_rows(db, COLUMNS, rows)
        undos = [(_later(rows[n][0]), *rows[n][1:], n + 1) for n in undone]
        store.append_checkin_rows(db, (*COLUMNS, "undoes"), undos)
    finally:
        db.close()
    return time.perf_counter() - began


def _later(at: str) -> str:
    """40 seconds after the UTC ISO time ``at``: when the undo is logged."""
    return (datetime.fromisoformat(at) + timedelta(seconds=40)).isoformat(
        timespec="microseconds")


def _cases(db) -> dict:
    cases = {}
    for by in reports.BYS:
        cases[f"{by}, all 3 years"] = (by, {}, ZONE)
        cases[f"{by}, local year 2025"] = (by, YEAR, ZONE)
    cases["hour, all, St. John's (3:30 off UTC)"] = ("hour", {}, "America/St_Johns")
    return {name: (lambda by=by, span=span, zone=zone:
                   reports.visits(db, by=by, tz_name=zone, **span))
            for name, (by, span, zone) in cases.items()}


def run(repeat: int = 20, rows: int = ROWS) -> dict:
    """Generate the log, then time every report; ``results`` in milliseconds per report."""
    repeat = max(3, min(repeat, 20))  # each call reads the whole log's totals
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reports.sqlite"
        generate_s = generate(path, rows)
        db = store.open_db(path)
        try:
            counted = sum(r["admitted"] + r["denied"]
                          for r in reports.visits(db, by="visit")["rows"])
            results = {"generated log": {"rows": rows, "undone": int(rows * UNDONE_SHARE),
                                         "seconds": round(generate_s, 1)}}
            for name, call in _cases(db).items():
                timing = sample_us(call, repeat)
                results[name] = {"median_ms": round(timing["median_us"] / 1000, 2),
                                 "p99_ms": round(timing["p99_us"] / 1000, 2),
                                 "n": timing["n"], "target_ms": TARGET_MS}
        finally:
            db.close()
    worst = max(r.get("median_ms", 0.0) for r in results.values())
    return {"name": "reports", "rows": rows, "visits_counted": counted,
            "generate_s": round(generate_s, 1), "target_ms": TARGET_MS,
            "worst_median_ms": worst, "results": results}


if __name__ == "__main__":  # python -m bench.reports
    print(json.dumps(run(), indent=2))
