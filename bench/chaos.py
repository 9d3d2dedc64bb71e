"""``make chaos``: kill -9 at the worst moments and check that nothing is lost, doubled or
half-written (issue 15; docs/reliability.md, "Crashes and faults").

1. Check-ins: 16 clients post check-ins, each with its own Idempotency-Key, to the real
   server; it is killed (SIGKILL, the whole process group) once a set number are
   acknowledged, restarted on the same file, and every unanswered request is retried with
   its key. Every acknowledged check-in must be in the log once with the id it was given,
   none twice, ``PRAGMA integrity_check`` ok, the report totals equal to a recount.
2. A list publish: ``passport import`` of a big list, killed while it writes (when the WAL
   starts to grow, plus a random delay) or at a random time: afterwards the old list or
   the new one is active, each version has exactly the rows it says, never a mix.
3. A roster issue: ``passport cards issue-batch``, killed at a random moment around its
   recording step: a batch is recorded whole or not at all, with its audit row.

``python -m bench.chaos [--quick] [--trials N] [--json FILE]``; tests/test_chaos.py runs
the quick sizes once each. Loopback only; bounded in count and time.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.serverproc import (
    CHECKIN_BODY,
    SHIPPED_CSV,
    VISIT,
    Client,
    Server,
    passport_exe,
    prepare_store,
    store_env,
)

CHECKINS_PATH = "/api/v1/checkins"
DEADLINE_SECONDS = 300


def _read(folder: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(folder / "passport.sqlite")) as conn:
        return conn.execute(sql, params).fetchall()


def _integrity_ok(folder: Path) -> bool:
    return _read(folder, "PRAGMA integrity_check") == [("ok",)]


def _post_all(port: int, token: str, keys: list[str], clients: int, results: dict,
              stop: threading.Event | None = None) -> None:
    """Post one check-in per key from ``clients`` threads; ``results[key]`` becomes
    ``(status, id)`` for an answer, ``None`` for no answer (the connection died)."""
    pending = iter(keys)
    lock = threading.Lock()

    def worker() -> None:
        client = Client(port, token)
        while True:
            with lock:
                key = next(pending, None)
            if key is None:
                break
            if stop is not None and stop.is_set():
                results[key] = None  # never sent: the server is gone
                continue
            try:
                status, body = client.request("POST", CHECKINS_PATH, CHECKIN_BODY,
                                              {"Idempotency-Key": key})
            except OSError:
                results[key] = None
                continue
            except Exception:  # noqa: BLE001 - http.client's own errors: no answer either
                results[key] = None
                continue
            results[key] = (status, (body or {}).get("id"))
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _checkin_log_check(folder: Path, acked: dict[str, int], total: int, prefix: str) -> dict:
    rows = _read(folder, "SELECT id, idempotency_key FROM checkins WHERE idempotency_key LIKE ?",
                 (f"%:{prefix}-%",))
    by_key: dict[str, list[int]] = {}
    for row_id, scoped in rows:
        by_key.setdefault(scoped.split(":", 1)[1], []).append(row_id)
    logged = len(_read(folder, "SELECT id FROM checkins"))
    counted = _read(folder, "SELECT SUM(admitted + denied) FROM checkin_totals "
                            "WHERE dim = 'hour'")[0][0] or 0
    return {
        "logged": len(rows),
        "doubled": sum(1 for ids in by_key.values() if len(ids) > 1),
        "missing": total - len(by_key),
        "acknowledged_lost": sum(1 for key, row_id in acked.items()
                                 if by_key.get(key) != [row_id]),
        "totals_match_recount": counted == logged,
        "integrity_ok": _integrity_ok(folder),
    }


def checkin_crash(folder: Path, *, total: int = 3000, kill_after: int = 1000,
                  clients: int = 16, workers: int = 1) -> dict:
    """Kill the server under check-in load, restart, retry the unanswered with their keys."""
    token = prepare_store(folder)
    prefix = f"chaos{workers}"
    keys = [f"{prefix}-{n}" for n in range(total)]
    results: dict[str, tuple | None] = {}
    stop = threading.Event()
    server = Server(folder, workers=workers)
    server.start()
    load = threading.Thread(target=_post_all,
                            args=(server.port, token, keys, clients, results, stop))
    started = time.monotonic()
    load.start()
    deadline = started + DEADLINE_SECONDS
    while sum(1 for r in list(results.values()) if r) < kill_after and load.is_alive():
        if time.monotonic() > deadline:
            raise RuntimeError("the load did not reach the kill point in time")
        time.sleep(0.001)
    server.kill9()
    stop.set()
    load.join()
    acked = {k: r[1] for k, r in results.items() if r and r[0] in (200, 201)}
    unanswered = [k for k in keys if not results.get(k)]
    refused = {k: r for k, r in results.items() if r and r[0] not in (200, 201)}
    restart = Server(folder, workers=workers)
    restart_seconds = restart.start()
    retried: dict[str, tuple | None] = {}
    try:
        _post_all(restart.port, token, unanswered, clients, retried)
    finally:
        restart.stop()
    replayed = sum(1 for r in retried.values() if r and r[0] == 200)
    check = _checkin_log_check(folder, acked, total, prefix)
    ok = (not refused and all(r and r[0] in (200, 201) for r in retried.values())
          and check["doubled"] == check["missing"] == check["acknowledged_lost"] == 0
          and check["totals_match_recount"] and check["integrity_ok"])
    return {"check": "kill -9 under check-in load", "workers": workers, "clients": clients,
            "requests": total, "acknowledged_before_kill": len(acked),
            "unanswered": len(unanswered), "retried_replayed": replayed,
            "retried_new": len(unanswered) - replayed, "refused": len(refused),
            "restart_seconds": round(restart_seconds, 2), **check, "ok": ok}


def write_big_list(path: Path, copies: int) -> int:
    """The shipped list ``copies`` times over (new ids, names and nudged latitudes)."""
    with SHIPPED_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for copy in range(copies):
            for row in rows:
                if copy:
                    row = {**row, "id": f"{row['id']}-{copy}", "name": f"{row['name']} {copy}",
                           "latitude": f"{float(row['latitude']) + copy * 0.001:.6f}"}
                writer.writerow(row)
    return copies * len(rows)


def _kill_when(process: subprocess.Popen, wal: Path, grown_bytes: int | None,
               at_seconds: float | None, rng: random.Random,
               jitter_seconds: float = 0.05) -> float | None:
    """Kill ``process``'s group when file ``wal`` has grown by more than ``grown_bytes``
    (plus a random 0..``jitter_seconds``), or at ``at_seconds``; returns when, or None when
    it finished first."""
    started = time.monotonic()
    base = wal.stat().st_size if wal.exists() else 0
    while process.poll() is None:
        elapsed = time.monotonic() - started
        if at_seconds is not None and elapsed >= at_seconds:
            break
        if grown_bytes is not None and wal.exists() and wal.stat().st_size - base > grown_bytes:
            time.sleep(rng.uniform(0, jitter_seconds))
            break
        if elapsed > DEADLINE_SECONDS:
            break
        time.sleep(0.002)
    if process.poll() is not None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    return time.monotonic() - started


def _list_state(folder: Path) -> dict:
    active = _read(folder, "SELECT active_list_version FROM profiles WHERE name = 'astc'")[0][0]
    versions = _read(folder, "SELECT v.version, v.row_count, (SELECT COUNT(*) FROM "
                             "institutions i WHERE i.list_version = v.version) FROM "
                             "list_versions v")
    last_event = _read(folder, "SELECT list_version FROM list_events WHERE profile = 'astc' "
                               "ORDER BY id DESC LIMIT 1")
    return {"active": active, "rows": {v: n for v, _, n in versions},
            "consistent": all(claimed == held for _, claimed, held in versions)
            and bool(last_event) and last_event[0][0] == active}


def publish_crash(folder: Path, *, copies: int = 30, kill_at_seconds: float | None = None,
                  seed: int = 0) -> dict:
    """Kill ``passport import`` of a big list while it writes (or at ``kill_at_seconds``)."""
    prepare_store(folder)
    big = folder / "big.csv"
    big_rows = write_big_list(big, copies)
    before = _list_state(folder)
    process = subprocess.Popen([passport_exe(), "import", str(big), "--json"],
                               env=store_env(folder), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    killed_at = _kill_when(process, folder / "passport.sqlite-wal",
                           None if kill_at_seconds is not None else 256 * 1024,
                           kill_at_seconds, random.Random(seed))
    after = _list_state(folder)
    old = after["active"] == before["active"]
    new = after["active"] != before["active"] and after["rows"][after["active"]] == big_rows
    integrity = _integrity_ok(folder)
    again = subprocess.run([passport_exe(), "import", str(big), "--json"],
                           env=store_env(folder), capture_output=True, text=True)
    final = _list_state(folder)
    recovered = again.returncode == 0 and final["rows"][final["active"]] == big_rows
    return {"check": "kill -9 during a list publish", "rows": big_rows,
            "killed_at_seconds": None if killed_at is None else round(killed_at, 3),
            "outcome": "old" if old else "new" if new else "MIXED",
            "consistent": after["consistent"], "integrity_ok": integrity,
            "publish_again_ok": recovered,
            "ok": (old or new) and after["consistent"] and integrity and recovered}


def write_roster(path: Path, members: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["member_id", "names", "expires", "membership"])
        for n in range(members):
            writer.writerow([f"M{100000 + n}", f"Member {n}; Partner {n}" if n % 3 == 0
                             else f"Member {n}", "2098-01-31",
                             "group" if n % 3 == 0 else "individual"])


def _batch_state(folder: Path) -> dict:
    batches = _read(folder, "SELECT batch, COUNT(*) FROM card_issuances WHERE action = 'issue' "
                            "GROUP BY batch")
    audited = _read(folder, "SELECT COUNT(*) FROM audit_log WHERE action = 'cards.issued'")[0][0]
    members = _read(folder, "SELECT COUNT(DISTINCT member_id) FROM card_issuances "
                            "WHERE action = 'issue'")[0][0]
    return {"batches": [n for _, n in batches], "audited": audited, "members": members}


def roster_crash(folder: Path, *, members: int = 2000, seed: int = 0) -> dict:
    """Kill ``passport cards issue-batch`` around its recording step (at a random moment
    after its cards file appears, or before)."""
    prepare_store(folder)
    # the CLI, so the key's secret lands in this store's instance folder
    subprocess.run([passport_exe(), "keys", "create", "--institution", VISIT],
                   env=store_env(folder), check=True, capture_output=True)
    roster = folder / "roster.csv"
    write_roster(roster, members)
    out = folder / "cards-1"
    command = [passport_exe(), "cards", "issue-batch", str(roster), "--institution", VISIT,
               "--no-pdf", "--json"]
    rng = random.Random(seed)
    process = subprocess.Popen([*command, "--out", str(out)], env=store_env(folder),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    # The cards file is written just before the one recording transaction.
    killed_at = _kill_when(process, out / "cards.csv", -1, None, rng, jitter_seconds=0.02)
    after = _batch_state(folder)
    whole = all(n == members for n in after["batches"]) and len(after["batches"]) <= 1
    audited = after["audited"] == len(after["batches"])
    integrity = _integrity_ok(folder)
    again = subprocess.run([*command, "--out", str(folder / "cards-2")], env=store_env(folder),
                           capture_output=True, text=True)
    final = _batch_state(folder)
    recovered = again.returncode == 0 and final["members"] == members
    return {"check": "kill -9 during a roster issue", "members": members,
            "killed_at_seconds": None if killed_at is None else round(killed_at, 3),
            "outcome": "recorded" if after["batches"] else "nothing recorded",
            "whole_batches": whole, "audited": audited, "integrity_ok": integrity,
            "issue_again_ok": recovered,
            "ok": whole and audited and integrity and recovered}


def _print(results: list[dict]) -> None:
    for result in results:
        details = ", ".join(f"{k}={v}" for k, v in result.items() if k not in ("check", "ok"))
        print(f"{'ok  ' if result['ok'] else 'FAIL'} {result['check']}: {details}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the sizes make test uses")
    parser.add_argument("--trials", type=int, default=3, help="kills of each kind (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    sizes = ({"total": 300, "kill_after": 100, "copies": 10, "members": 300} if args.quick
             else {"total": 3000, "kill_after": 1000, "copies": 30, "members": 2000})
    results = []
    with tempfile.TemporaryDirectory(prefix="passport-chaos-") as tmp:
        root = Path(tmp)
        for workers in (1, 2):
            results.append(checkin_crash(root / f"checkins-{workers}", total=sizes["total"],
                                         kill_after=sizes["kill_after"], workers=workers))
        for trial in range(args.trials):
            # the kill lands while the rows are written, then at a random moment
            results.append(publish_crash(root / f"publish-w{trial}", copies=sizes["copies"],
                                         seed=trial))
            results.append(publish_crash(root / f"publish-t{trial}", copies=sizes["copies"],
                                         kill_at_seconds=random.Random(trial).uniform(1, 6)))
            results.append(roster_crash(root / f"roster-{trial}", members=sizes["members"],
                                        seed=trial))
    _print(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
