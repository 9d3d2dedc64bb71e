"""``passport serve --workers N``: the kiosk in N worker processes under gunicorn.

One process (waitress, threads) is the default: Python runs one thread at a time, so a
check is CPU-bound in one process however many threads serve it; on a machine with more
than one core, several processes decide in parallel (docs/reliability.md, "Load").

Each worker builds its own app after the fork and warms it (``kiosk.warmup.warm``) before
it takes its first request, so everything held in memory is per process: the warm kernels
and the gazetteer, the active-list and trust caches, the idle store handle, the sign-in
throttle and the planner's rate limit. Nothing SQLite is opened before the fork (a
connection must never cross one); the store itself (WAL) is shared by all.
"""

from __future__ import annotations

import os

import click
from gunicorn.app.base import BaseApplication

from kiosk import create_app
from kiosk.warmup import warm

# A first warm-up on a cold Numba cache compiles the kernels (tens of seconds on a slow
# machine); gunicorn would otherwise kill a worker that has not answered in its 30 s.
WORKER_TIMEOUT_SECONDS = 120
# Settings older gunicorns (>= 22) do not know; skipped there. gunicorn 24+ opens a control
# socket in $HOME by default: one path shared by every kiosk on the machine, and not needed.
NEWER_SETTINGS = {"control_socket_disable"}


class KioskWorkers(BaseApplication):
    """gunicorn's application: the settings given, and ``load()`` run in each worker."""

    def __init__(self, settings: dict) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.settings.items():
            if name in self.cfg.settings or name not in NEWER_SETTINGS:
                self.cfg.set(name, value)

    def load(self):
        app = create_app()
        info = warm(app)
        click.echo(f"Worker {os.getpid()}: list version {info['list_version']}, "
                   f"warm in {info['seconds']:.2f} s.")
        return app


def bind_address(host: str, port: int) -> str:
    """gunicorn's ``bind`` for ``host`` and ``port`` (IPv6 addresses in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve_workers(host: str, port: int, workers: int, threads: int, announce) -> None:
    """Run gunicorn's master (in this process) with ``workers`` gthread workers of
    ``threads`` threads each, until it is stopped; ``announce(port)`` is called once the
    listening socket is bound (``port`` 0 picks a free one)."""
    KioskWorkers({
        "bind": bind_address(host, port),
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": WORKER_TIMEOUT_SECONDS,
        "graceful_timeout": 10,
        "proc_name": "passport",
        "control_socket_disable": True,
        "when_ready": lambda arbiter: announce(arbiter.LISTENERS[0].sock.getsockname()[1]),
    }).run()
