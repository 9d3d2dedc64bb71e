"""Several processes at once on one store (issue 15): processes opening a new file at the same
moment migrate it once between them, and ``passport serve --workers N`` serves check-ins
from N worker processes into the one log."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

from passport import auth, institutions, store

PROCESSES = 6
ROUNDS = 3
# Each process imports the store, says it is ready, waits for the go file, then opens the
# store: they all reach open_db within a few milliseconds of each other.
OPENER = """
import os, sys, time
from passport import store
path, go = sys.argv[1], sys.argv[2]
print("ready", flush=True)
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("no go signal")
store.open_db(path).close()
print("opened", flush=True)
"""


def start_together(path: Path, go: Path) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(path), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(PROCESSES)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append((proc.returncode, out, err))
    return results


def test_processes_starting_together_migrate_a_new_file_once(tmp_path):
    """Before BEGIN IMMEDIATE, two of five such rounds failed ("table profiles already
    exists", "duplicate column name")."""
    for round_number in range(ROUNDS):
        path = tmp_path / f"new-{round_number}.sqlite"
        results = start_together(path, tmp_path / f"go-{round_number}")
        assert [code for code, _, _ in results] == [0] * PROCESSES, [e for _, _, e in results]
        with closing(sqlite3.connect(path)) as conn:
            versions = [row[0] for row in conn.execute(
                "SELECT version FROM schema_migrations ORDER BY version")]
            assert versions == list(range(1, len(store.MIGRATIONS) + 1))
            assert conn.execute("SELECT COUNT(*) FROM profiles WHERE name = 'astc'"
                                ).fetchone() == (1,)
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_script_statements_split_like_executescript():
    """Migrations 1 and 2 run their scripts statement by statement inside migrate's
    transaction: the same schema as executescript gives."""
    by_script, by_statement = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    by_script.executescript(store._M001_SQL)
    for statement in store._script_statements(store._M001_SQL):
        by_statement.execute(statement)
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
    assert by_script.execute(schema).fetchall() == by_statement.execute(schema).fetchall()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("no 200 from /healthz")


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def test_serve_with_two_workers(db, db_path, shipped_csv):
    institutions.import_file(db, shipped_csv)
    _, token = auth.create_token(db, "load")
    passport = Path(sys.executable).with_name("passport")
    env = dict(os.environ)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(passport), "serve", "--port", str(port), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True)
    try:
        wait_healthy(url, process)
        assert len(children(process.pid)) == 2

        def checkin(number: int) -> int:
            request = urllib.request.Request(
                f"{url}/api/v1/checkins", method="POST",
                data=json.dumps({"visit": "exploratorium-san-francisco",
                                 "home": "oregon-museum-of-science-and-industry-portland",
                                 "party_size": 1}).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type":
                         "application/json", "Idempotency-Key": f"w-{number}"})
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(checkin, range(40))) == [201] * 40
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert "2 worker processes" in output and output.count("warm in") == 2
    with closing(sqlite3.connect(db_path)) as conn:
        assert conn.execute("SELECT COUNT(DISTINCT idempotency_key) FROM checkins "
                            "WHERE idempotency_key LIKE '%w-%'").fetchone() == (40,)
