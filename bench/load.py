"""``make load``: the kiosk under concurrent clients on loopback (issue 15; docs/reliability.md,
"Load").

``POST /api/v1/check`` and ``POST /api/v1/checkins`` at 1, 8, 32 and 64 concurrent clients,
each a thread with its own keep-alive HTTP/1.1 connection, beside ``GET /healthz`` (the
framework's floor on this machine) in the same run, for one process (waitress) and for
``--workers`` processes (gunicorn). Each cell runs for ``--seconds`` or ``--max-requests``,
whichever ends first, after a short warm-up; throughput and p50/p99 latency per cell, and
each endpoint's throughput as a ratio to /healthz at the same concurrency and worker count.
The clients share the machine with the server: on 2 cores they take part of the CPU.

``python -m bench.load [--workers 1,2] [--clients 1,8,32,64] [--seconds 4] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.serverproc import CHECK_BODY, CHECKIN_BODY, Client, Server, prepare_store

ENDPOINTS = (
    ("healthz", "GET", "/healthz", None),
    ("check", "POST", "/api/v1/check", CHECK_BODY),
    ("checkins", "POST", "/api/v1/checkins", CHECKIN_BODY),
)
OK_STATUSES = {"healthz": 200, "check": 200, "checkins": 201}
WARM_UP_REQUESTS = 20


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index]


def run_cell(port: int, token: str, endpoint: tuple, clients: int, seconds: float,
             max_requests: int, tag: str) -> dict:
    """``clients`` threads hitting one endpoint for ``seconds`` (or ``max_requests`` in
    all); returns requests, errors, requests per second, p50 and p99 in milliseconds."""
    name, method, path, body = endpoint
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    counter = iter(range(max_requests))
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker(index: int) -> None:
        client = Client(port, token)
        for n in range(WARM_UP_REQUESTS // clients + 1):  # connect and warm the path
            _send(client, method, path, body, name, f"{tag}-warm-{index}-{n}")
        start_gate.wait()
        while time.perf_counter() < stop_at[0]:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            began = time.perf_counter()
            ok = _send(client, method, path, body, name, f"{tag}-{n}")
            latencies[index].append(time.perf_counter() - began)
            errors[index] += not ok
        client.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + 3600  # set properly once all are connected
    start_gate.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    done = sorted(t for per in latencies for t in per)
    return {"endpoint": name, "clients": clients, "requests": len(done),
            "errors": sum(errors), "seconds": round(elapsed, 3),
            "rps": round(len(done) / elapsed, 1),
            "p50_ms": round(_percentile(done, 0.50) * 1000, 2),
            "p99_ms": round(_percentile(done, 0.99) * 1000, 2),
            "mean_ms": round(statistics.fmean(done) * 1000, 2) if done else None}


def _send(client: Client, method: str, path: str, body, name: str, key: str) -> bool:
    headers = {"Idempotency-Key": key} if name == "checkins" else None
    try:
        status, _ = client.request(method, path, body, headers)
    except OSError:
        return False
    return status == OK_STATUSES[name]


def measure(workers_list: list[int], clients_list: list[int], seconds: float,
            max_requests: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="passport-load-") as tmp:
        for workers in workers_list:
            folder = Path(tmp) / f"w{workers}"
            token = prepare_store(folder)
            with Server(folder, workers=workers, threads=8) as server:
                for clients in clients_list:
                    cells = [run_cell(server.port, token, endpoint, clients, seconds,
                                      max_requests, f"w{workers}c{clients}")
                             for endpoint in ENDPOINTS]
                    floor = cells[0]["rps"]
                    for cell in cells:
                        cell.update(workers=workers,
                                    ratio_to_healthz=round(cell["rps"] / floor, 3)
                                    if floor else None)
                        rows.append(cell)
                        _print_row(cell)
    return rows


def _print_row(cell: dict) -> None:
    print(f"{cell['workers']:>7} {cell['clients']:>7} {cell['endpoint']:>9} "
          f"{cell['rps']:>9.1f} {cell['ratio_to_healthz']:>7.2f} {cell['p50_ms']:>8.2f} "
          f"{cell['p99_ms']:>8.2f} {cell['requests']:>8} {cell['errors']:>6}", flush=True)


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=_numbers, default=[1, os.cpu_count() or 2],
                        help="worker process counts to serve with (default 1,<cores>)")
    parser.add_argument("--clients", type=_numbers, default=[1, 8, 32, 64],
                        help="concurrent clients (default 1,8,32,64)")
    parser.add_argument("--seconds", type=float, default=4.0, help="per cell (default 4)")
    parser.add_argument("--max-requests", type=int, default=20_000,
                        help="per cell at most (default 20000)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    print(f"{'workers':>7} {'clients':>7} {'endpoint':>9} {'req/s':>9} {'×healthz':>7} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'requests':>8} {'errors':>6}")
    rows = measure(sorted(set(args.workers)), args.clients, args.seconds, args.max_requests)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=2)
                             + "\n", encoding="utf-8")
    return 0 if all(row["errors"] == 0 for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
