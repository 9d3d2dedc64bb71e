"""The hub under load (issue 14), loopback only and bounded: ``python -m bench.hub`` or the
``hub`` section of ``passport bench``.

On a database of its own (created on the local PostgreSQL server, dropped afterwards) it
starts ``passport hub serve`` (gunicorn) and measures:

- ingest: 400 enrolled sites push a busy Saturday (100,000 check-ins) in parallel batches
  over keep-alive connections; check-ins per second, and afterwards the count in PostgreSQL
  (nothing lost or doubled), then every batch sent again (all duplicates, nothing added);
- polling: 4,000 desks ask for the bundle with ``If-None-Match`` (304s); p50 / p99 latency,
  against the floor of the same loop on ``/api/v1/hub-keys`` (no bundle logic);
- a bundle of 2,000 sites and 2,000 issuer keys: build + sign, against the floor of only
  serialising the same content canonically, and its size.

The machine's load (1-minute load average before and after) is in the result: the figures
mean little on a machine busy with other work.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

SERVER_URL = os.environ.get("PASSPORT_BENCH_POSTGRES_URL",
                            "postgresql://postgres@127.0.0.1:5432/postgres")
SITES = 400
CHECKINS = 100_000
DESKS = 4_000
BATCH_ROWS = 250
CLIENT_THREADS = 16
WORKERS = 2


@contextmanager
def _database():
    import psycopg

    name = f"passport_hub_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield SERVER_URL.rpartition("/")[0] + "/" + name
    finally:
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _server(port: int, workers: int):
    command = [str(Path(sys.executable).with_name("passport")), "hub", "serve", "--port",
               str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _rows(site: str, count: int) -> list[dict]:
    return [{"uid": f"{site}:{n}", "program": "astc", "home": f"home-{n % 97}", "visit": site,
             "local_date": f"2026-06-{13 + n % 2}", "local_hour": 9 + n % 8,
             "party_size": 1 + n % 4, "people_free": 1 + n % 4, "people_paying": 0,
             "admit": n % 10 != 0, "reasons": ["ELIGIBLE"] if n % 10 else ["HOME_WITHIN_RADIUS"],
             "kind": "visit", "undoes": None} for n in range(count)]


def _enrol(pool, sites_n: int) -> list[tuple[str, str]]:
    from passport.hub import sites

    out = []
    for n in range(sites_n):
        site = f"bench-site-{n:04d}"
        token = sites.add_site(pool, site)["token"]
        out.append((site, sites.enrol(pool, site, token)["credential"]))
    return out


class _Client(threading.local):
    """One keep-alive connection per client thread."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def _send_all(port: int, bodies: list[tuple[str, bytes]]) -> tuple[float, list[dict]]:
    client = _Client(port)

    def send(item: tuple[str, bytes]) -> dict:
        credential, body = item
        client.conn.request("POST", "/api/v1/checkins", body, {
            "Content-Type": "application/json", "Authorization": f"Bearer {credential}"})
        response = client.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        return json.loads(data)

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENT_THREADS) as executor:
        answers = list(executor.map(send, bodies))
    return time.perf_counter() - started, answers


def _ingest(pool, port: int, checkins: int, sites_n: int) -> dict:
    from passport import hubstore

    enrolled = _enrol(pool, sites_n)
    per_site = checkins // sites_n
    bodies = []
    for site, credential in enrolled:
        rows = _rows(site, per_site)
        bodies += [(credential, json.dumps({"checkins": rows[i:i + BATCH_ROWS]}).encode())
                   for i in range(0, per_site, BATCH_ROWS)]
    bodies = bodies[::2] + bodies[1::2]  # interleave the sites' batches
    seconds, answers = _send_all(port, bodies)
    stored = hubstore.count_checkins(pool)
    again_s, again = _send_all(port, bodies)
    return {"sites": sites_n, "checkins_sent": per_site * sites_n, "batches": len(bodies),
            "batch_rows": BATCH_ROWS, "client_threads": CLIENT_THREADS, "seconds": seconds,
            "checkins_per_s": per_site * sites_n / seconds,
            "accepted": sum(a["accepted"] for a in answers), "stored_in_postgres": stored,
            "resent_duplicates": sum(a["duplicates"] for a in again),
            "resent_accepted": sum(a["accepted"] for a in again),
            "stored_after_resend": hubstore.count_checkins(pool),
            "resend_checkins_per_s": per_site * sites_n / again_s}


POLL_RATE_PER_S = 400  # 4,000 desks once a minute is 67/s: paced at 6x that
REAL_RATE_PER_S = 4000 / 60  # and at that rate itself (the load: a minute's run)


def _poll(port: int, desks: int) -> dict:
    """Each desk asks once with the current ETag. Paced (open loop, ``POLL_RATE_PER_S``
    spread over the client threads), so a latency is the server's, not a queue the client
    built; then the same requests as fast as the threads go, for the throughput."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/api/v1/bundle")
    response = conn.getresponse()
    response.read()
    etag = response.getheader("ETag")
    client = _Client(port)

    def ask(path: str, headers: dict, at: float | None) -> tuple[int, float]:
        if at is not None:
            time.sleep(max(0.0, at - time.perf_counter()))
        started = time.perf_counter()
        client.conn.request("GET", path, headers=headers)
        answer = client.conn.getresponse()
        answer.read()
        return answer.status, (time.perf_counter() - started) * 1000

    def run(path: str, headers: dict, paced: bool, rate: float = POLL_RATE_PER_S) -> dict:
        started = time.perf_counter()
        times = [started + n / rate if paced else None for n in range(desks)]
        with ThreadPoolExecutor(CLIENT_THREADS) as executor:
            found = list(executor.map(lambda at: ask(path, headers, at), times))
        elapsed = time.perf_counter() - started
        ms = sorted(t for _, t in found)
        return {"requests": desks, "statuses": sorted({s for s, _ in found}),
                "p50_ms": statistics.median(ms), "p99_ms": ms[int(len(ms) * 0.99) - 1],
                "max_ms": ms[-1], "requests_per_s": desks / elapsed}

    real = run("/api/v1/bundle", {"If-None-Match": etag}, True, REAL_RATE_PER_S)
    paced = run("/api/v1/bundle", {"If-None-Match": etag}, True)
    floor = run("/api/v1/hub-keys", {}, True)
    return {"real_rate_per_s": REAL_RATE_PER_S, "bundle_304_at_real_rate": real,
            "paced_rate_per_s": POLL_RATE_PER_S, "bundle_304": paced, "floor_hub_keys": floor,
            "p99_ratio_to_floor": paced["p99_ms"] / floor["p99_ms"],
            "bundle_304_saturated": run("/api/v1/bundle", {"If-None-Match": etag}, False)}


def _big_bundle(pool) -> dict:
    """2,000 sites and 2,000 issuer keys: build + sign against canonical JSON alone."""
    from passport import bundle, hubstore
    from passport.hub import bundles, lists
    from passport.importer import ParsedList
    from passport.keys import b64u_encode, key_id_for

    records = [{"id": f"big-{n:04d}", "name": f"Science Center {n}", "country": "US",
                "city": f"Town {n}", "region": "CA", "latitude": 30 + n % 1500 / 100,
                "longitude": -120 + n // 1500, "timezone": "America/Los_Angeles",
                "proof_of_residence": 0, "reservation_required": 0, "store_discount_only": 0}
               for n in range(2000)]
    lists.publish_parsed(pool, ParsedList(records, "bench.csv", "0" * 64), program="astc",
                         dry_run=False, actor="bench")
    keys = []
    for n in range(2000):
        raw = secrets.token_bytes(32)  # the hub stores keys as given; any 32 bytes serve here
        keys.append({"key_id": key_id_for(raw), "institution_id": f"big-{n:04d}",
                     "public_key": b64u_encode(raw), "created_at": "2026-06-01T00:00:00+00:00",
                     "retired_at": None, "revoked_at": None})
    hubstore.merge_trust(pool, "bench", keys, [])
    now = datetime.now(UTC)
    started = time.perf_counter()
    built = bundles.build(pool, now)
    build_s = time.perf_counter() - started
    source = hubstore.bundle_source(pool, now)
    started = time.perf_counter()
    bundle.canonical_bytes({"profiles": source["profiles"], "lists": source["lists"],
                            "keys": source["keys"]})
    floor_s = time.perf_counter() - started
    return {"sites": 2000, "issuer_keys": 2000, "bytes": built["bytes"],
            "build_and_sign_s": build_s, "floor_canonical_json_s": floor_s,
            "ratio_to_floor": build_s / floor_s}


def run(repeat: int = 0) -> dict:
    """Every figure as a dict. ``repeat`` (``passport bench --quick`` passes one) runs a
    tenth of the load."""
    try:
        import psycopg

        psycopg.connect(SERVER_URL, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no figures here
        return {"skipped": f"PostgreSQL not reachable at {SERVER_URL}: {exc}"}
    scale = 10 if repeat else 1
    from passport import hubstore
    from passport.hub import lists, setup

    load_before = os.getloadavg()
    with _database() as url:
        env = {"PASSPORT_HUB_DATABASE_URL": url,
               "PASSPORT_SECRET_KEY": os.environ.get("PASSPORT_SECRET_KEY")
               or secrets.token_hex(16)}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        pool = hubstore.open_pool(url)
        try:
            setup.init(pool)
            lists.import_file(pool, Path(__file__).resolve().parents[1] / "data" /
                              "institutions.csv")
            port = _free_port()
            with _server(port, WORKERS):
                ingest = _ingest(pool, port, CHECKINS // scale, SITES // scale)
                poll = _poll(port, DESKS // scale)
            big = _big_bundle(pool)
        finally:
            pool.close()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return {"name": "hub", "workers": WORKERS, "cpus": os.cpu_count(),
            "load_1min_before": load_before[0], "load_1min_after": os.getloadavg()[0],
            "ingest": ingest, "poll": poll, "big_bundle": big,
            "targets": {"checkins_per_s": 5000, "poll_p99_ms": 10}}


if __name__ == "__main__":
    print(json.dumps(run(repeat=1 if "--quick" in sys.argv else 0), indent=2))
