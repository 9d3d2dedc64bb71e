"""Benchmark: the kiosk's JSON API over loopback HTTP, as a ticketing system or the desk
page calls it (targets: ``POST /api/v1/check`` median <= 2 ms; a logged check-in,
committed to SQLite before the answer, <= 5 ms).

``run()`` starts the real app under waitress (what ``passport serve`` runs) on a free
127.0.0.1 port with a throw-away store holding the shipped list, warms it the way
``serve`` does, then times requests on one keep-alive connection with a Bearer token:

- ``check_card``: ``POST /api/v1/check`` with a signed card payload (verify + decide);
- ``check_home``: ``POST /api/v1/check`` for a printed card (home id, no signature);
- ``checkin_card``: ``POST /api/v1/checkins`` with a fresh Idempotency-Key each time
  (check + append + commit);
- ``institutions_search``: ``GET /api/v1/institutions?q=science&limit=8`` (the typeahead).

Figures are wall-clock microseconds per request seen by the client (median and 99th
percentile), including HTTP parsing on both sides.
"""

from __future__ import annotations

import http.client
import json
import logging
import tempfile
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path

# The same median/p99 timer as the cards section, so the two tables compare.
from bench.registry import environment, sample_us

VISIT = "exploratorium-san-francisco"
HOME = "oregon-museum-of-science-and-industry-portland"
TARGET_CHECK_MEDIAN_US = 2000.0
TARGET_CHECKIN_MEDIAN_US = 5000.0


class _Client:
    """One keep-alive HTTP/1.1 connection with a Bearer token."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def request(self, method: str, path: str, body: dict | None = None,
                headers: dict | None = None) -> dict:
        data = json.dumps(body) if body is not None else None
        self.conn.request(method, path, body=data, headers={**self.headers, **(headers or {})})
        response = self.conn.getresponse()
        payload = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path} answered {response.status}: {payload[:200]!r}")
        return json.loads(payload)


class _Server:
    """The app under waitress on a free loopback port, warmed like ``passport serve``."""

    def __init__(self, app, token: str):
        import waitress

        from kiosk.warmup import warm

        warm(app)
        self.server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4,
                                             ident="passport")
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.client = _Client(self.server.effective_port, token)

    def stop(self) -> None:
        self.client.conn.close()
        self.server.task_dispatcher.shutdown()
        self.server.close()
        self.thread.join(timeout=5)


def run(repeat: int = 1000) -> dict:
    """Time the API over loopback; returns ``{"name", "results", "targets_met"}``."""
    from kiosk import create_app
    from passport import auth, cards, institutions, keys, store

    with tempfile.TemporaryDirectory() as folder, environment(
        PASSPORT_DB=str(Path(folder) / "bench.sqlite"),
        PASSPORT_INSTANCE=str(Path(folder) / "instance"),
    ):
        db = store.open_db()
        institutions.ensure_default_list(db)
        keys.create_key(db, HOME)
        payload = cards.issue(db, HOME, "M-1042", ["Ada Lovelace"], date(2099, 6, 30),
                              party_size=6)
        _, token = auth.create_token(db, "bench")
        db.close()
        # waitress warns "Task queue depth is N" whenever a request waits for a worker
        # thread; with one client that is noise, not overload.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        servers = [_Server(create_app({"SECRET_KEY": "bench-only-secret",
                                       "SQLITE_SYNCHRONOUS": level}), token)
                   for level in ("NORMAL", "FULL")]
        client, client_full = (server.client for server in servers)
        keys_used = iter(range(10**9))
        card_body = {"visit": VISIT, "card": payload}
        home_body = {"visit": VISIT, "home": HOME}

        def checkin(on: _Client) -> Callable[[], object]:
            return lambda: on.request("POST", "/api/v1/checkins", {**card_body, "party_size": 2},
                                      {"Idempotency-Key": f"bench-{next(keys_used)}"})

        try:
            assert client.request("POST", "/api/v1/check", card_body)["admit"] is True
            results = {
                "check_card": sample_us(
                    lambda: client.request("POST", "/api/v1/check", card_body), repeat),
                "check_home": sample_us(
                    lambda: client.request("POST", "/api/v1/check", home_body), repeat),
                "checkin_card": sample_us(checkin(client), repeat),
                "checkin_card_fsync": sample_us(checkin(client_full), max(50, repeat // 5)),
                "institutions_search": sample_us(
                    lambda: client.request("GET", "/api/v1/institutions?q=science&limit=8"),
                    repeat),
            }
        finally:
            for server in servers:
                server.stop()
    return {
        "name": "api",
        "server": "waitress, 4 threads, loopback, one keep-alive client",
        "note": "checkin_card: SQLITE_SYNCHRONOUS=NORMAL (default); checkin_card_fsync: FULL",
        "results": results,
        "targets_met": {
            "check_median_le_2ms": results["check_card"]["median_us"] <= TARGET_CHECK_MEDIAN_US,
            "checkin_median_le_5ms":
                results["checkin_card"]["median_us"] <= TARGET_CHECKIN_MEDIAN_US,
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))  # noqa: T201 - a script's own output
