"""Figures for docs/reliability.md, "Backups": ``.venv/bin/python -m bench.backup``.

On a temporary store with CHECKINS check-ins: how long ``passport backup`` takes, how many
check-ins per second one writer logs through passport/checkins.py alone and while backups
run back to back beside it (the ratio is the cost of a backup to the desks), whether every
check-in acknowledged before each backup started is in it, and how long a restore takes.
One JSON object on stdout.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path

from passport import backup, checkins, store

CHECKINS = 100_000
WINDOW_S = 2.0
DECISION = {"visit": "site-a", "home": "site-b", "admit": True, "reasons": ["ELIGIBLE"],
            "list_version": 1}


def _fill(db_path: Path, count: int) -> None:
    db = store.open_db(db_path)
    try:
        row = {"at": store.utc_now_iso(), "visit": "site-a", "home": "site-b",
               "names": "[]", "admit": 1, "reasons": '["ELIGIBLE"]', "party_size": 1,
               "source": "api"}
        store.append_checkin_rows(db, list(row), [list(row.values())] * count)
    finally:
        db.close()


class _Writer(threading.Thread):
    def __init__(self, db_path: Path) -> None:
        super().__init__(daemon=True)
        self.db_path, self.acknowledged, self.stop = db_path, [], threading.Event()

    def run(self) -> None:
        db = store.connect_migrated(self.db_path, "NORMAL")
        try:
            while not self.stop.is_set():
                self.acknowledged.append(checkins.log_checkin(
                    db, DECISION, party_size=1, staff_user=None, source="api")["id"])
        finally:
            db.close()


def _rate(writer: _Writer, seconds: float, during=None) -> tuple[float, list]:
    start_count, started, results = len(writer.acknowledged), time.perf_counter(), []
    while time.perf_counter() - started < seconds:
        if during is None:
            time.sleep(0.01)
        else:
            results.append(during())
    return (len(writer.acknowledged) - start_count) / (time.perf_counter() - started), results


def measure(folder: Path) -> dict:
    db_path = folder / "passport.sqlite"
    _fill(db_path, CHECKINS)
    writer = _Writer(db_path)
    writer.start()
    counter = iter(range(1_000_000))

    def one_backup() -> tuple[float, bool]:
        before = set(writer.acknowledged)
        target = folder / f"b{next(counter)}.sqlite"
        result = backup.backup(db_path, target)
        copy = store.open_db(target)
        saved = {row["id"] for row in store.checkin_outbox_rows(copy, CHECKINS, 10**9)}
        copy.close()
        target.unlink()
        return result["elapsed_ms"], before <= saved

    try:
        alone, _ = _rate(writer, WINDOW_S)
        beside, runs = _rate(writer, WINDOW_S, one_backup)
    finally:
        writer.stop.set()
        writer.join()
    source = folder / "restore-me.sqlite"
    backup.backup(db_path, source)
    started = time.perf_counter()
    backup.restore(source, db_path)
    restore_ms = (time.perf_counter() - started) * 1000
    times = sorted(ms for ms, _ in runs)
    return {
        "checkins_in_store": CHECKINS, "store_bytes": db_path.stat().st_size,
        "backups": len(runs), "backup_ms_median": times[len(times) // 2],
        "every_acknowledged_checkin_in_its_backup": all(ok for _, ok in runs),
        "writer_checkins_per_s_alone": round(alone),
        "writer_checkins_per_s_beside_backups": round(beside),
        "writer_ratio_beside_backups": round(beside / alone, 2),
        "restore_ms": round(restore_ms, 1),
    }


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="passport-bench-backup-") as folder:
        print(json.dumps(measure(Path(folder))))
