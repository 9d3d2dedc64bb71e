"""The real kiosk server as a child process, for ``make load`` and ``make chaos``: a store
with the shipped list and an API token, ``passport serve`` on a free loopback port (its own
process group, so a kill -9 takes its workers too), and keep-alive HTTP clients.

Loopback only: the server listens on 127.0.0.1 and the clients talk to nothing else."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from passport import auth, institutions, store

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CSV = ROOT / "data" / "institutions.csv"
VISIT = "exploratorium-san-francisco"
HOME = "oregon-museum-of-science-and-industry-portland"  # ~530 miles: ADMIT
CHECK_BODY = {"visit": VISIT, "home": HOME}
CHECKIN_BODY = {"visit": VISIT, "home": HOME, "party_size": 1}
START_SECONDS = 180  # a cold Numba cache compiles the kernels first


def passport_exe() -> str:
    return str(Path(sys.executable).with_name("passport"))


def store_env(folder: Path) -> dict[str, str]:
    """The environment that points ``passport`` at the store in ``folder``."""
    return {**os.environ, store.DB_ENV_VAR: str(folder / "passport.sqlite"),
            "PASSPORT_INSTANCE": str(folder / "instance")}


def prepare_store(folder: Path) -> str:
    """A store in ``folder`` with the shipped list active; returns a new API token."""
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(store.open_db(folder / "passport.sqlite")) as db:
        institutions.import_file(db, SHIPPED_CSV)
        return auth.create_token(db, "bench")[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``passport serve`` on the store in ``folder``: ``start()`` returns once /healthz
    answers 200; ``kill9()`` kills the whole process group at once; ``stop()`` asks it to
    stop (SIGTERM) and waits."""

    def __init__(self, folder: Path, workers: int = 1, threads: int = 8):
        self.folder, self.workers, self.threads = folder, workers, threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> float:
        """Start and wait until healthy; returns the seconds it took."""
        started = time.monotonic()
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            [passport_exe(), "serve", "--port", str(self.port), "--workers",
             str(self.workers), "--threads", str(self.threads)],
            env=store_env(self.folder), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        deadline = started + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}); see "
                                   f"{self.folder / 'server.log'}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            time.sleep(0.05)
        self.kill9()
        raise RuntimeError(f"no 200 from {self.url}/healthz in {START_SECONDS} s")

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Client:
    """One keep-alive HTTP/1.1 connection to the server, reopened after an error."""

    def __init__(self, port: int, token: str, timeout_seconds: float = 30.0):
        self.port, self.timeout_seconds = port, timeout_seconds
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict | None = None,
                headers: dict | None = None) -> tuple[int, dict | None]:
        """(status, JSON body or None); raises OSError/HTTPException when no answer came."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                   timeout=self.timeout_seconds)
        try:
            self.conn.request(method, path, body=None if body is None else json.dumps(body),
                              headers={**self.headers, **(headers or {})})
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        is_json = response.getheader("Content-Type", "").startswith("application/json")
        return response.status, json.loads(data) if is_json and data else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
