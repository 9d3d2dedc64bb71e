"""Kill the hub (`passport hub serve`: gunicorn, 2 workers) with SIGKILL while a site is
pushing check-in batches, restart it, retry: every acknowledged batch is there exactly
once, and the retried ones are not doubled (a real server process, a real database)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from hubdata import SITE, checkin

from passport import hubstore
from passport.hub import sites

PASSPORT = Path(sys.executable).with_name("passport")
BATCH_ROWS = 200


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(port: int) -> subprocess.Popen:
    # its own session, so SIGKILL reaches the master and its workers at once
    return subprocess.Popen([str(PASSPORT), "hub", "serve", "--port", str(port),
                             "--workers", "2"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            env=os.environ.copy())


def _wait_ready(port: int, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/hub-keys", timeout=2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"the hub did not answer on port {port} within {deadline_s} s")


def _post(port: int, credential: str, batch: list[dict]) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/checkins", data=json.dumps({"checkins": batch}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {credential}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _push(port: int, credential: str, batches: list[list[dict]], acked: dict,
          stop: threading.Event) -> None:
    """Send batches one after another until the server dies; record the acknowledged."""
    for n, batch in enumerate(batches):
        if stop.is_set():
            return
        try:
            acked[n] = _post(port, credential, batch)
        except (OSError, urllib.error.URLError):
            return  # the hub is gone: the outbox keeps this batch for the retry


def test_kill_9_mid_ingest_then_retry_leaves_every_batch_once(hub_pool):
    credential = sites.enrol(hub_pool, SITE, sites.add_site(hub_pool, SITE)["token"])[
        "credential"]
    batches = [[checkin(b * BATCH_ROWS + k) for k in range(BATCH_ROWS)] for b in range(60)]
    port = _free_port()
    server = _start(port)
    acked: dict[int, dict] = {}
    stop = threading.Event()
    try:
        _wait_ready(port)
        pusher = threading.Thread(target=_push, args=(port, credential, batches, acked, stop))
        pusher.start()
        deadline = time.monotonic() + 30
        while len(acked) < 5 and pusher.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        os.killpg(server.pid, signal.SIGKILL)  # mid-ingest: the pusher is still sending
        server.wait(timeout=10)
        stop.set()
        pusher.join(timeout=30)
        assert 5 <= len(acked) < len(batches), "the kill should land while batches remain"
        stored = hubstore.count_checkins(hub_pool)
        assert stored >= len(acked) * BATCH_ROWS  # every acknowledged batch survived
        server = _start(port)
        _wait_ready(port)
        answers = [_post(port, credential, batch) for batch in batches]  # the outbox retries
    finally:
        stop.set()
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    for n in acked:
        assert answers[n] == {"accepted": 0, "duplicates": BATCH_ROWS}
    assert sum(a["accepted"] for a in answers) == len(batches) * BATCH_ROWS - stored
    assert hubstore.count_checkins(hub_pool) == len(batches) * BATCH_ROWS
    uids = [row["uid"] for batch in batches for row in batch]
    assert set(hubstore.checkin_uids(hub_pool, uids).values()) == {1}
