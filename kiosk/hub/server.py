"""gunicorn running the hub app (``passport hub serve``): the master forks ``workers``
processes; each builds its own app and connection pool (nothing is shared but PostgreSQL)."""

from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication


class HubServer(BaseApplication):
    """gunicorn with ``options`` (its own setting names) and the hub app."""

    def __init__(self, options: dict) -> None:
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            if name == "env":
                os.environ.update(value)  # read by each worker's create_hub_app
            elif name in self.cfg.settings:
                self.cfg.set(name, value)

    def load(self):
        from kiosk.hub import create_hub_app

        return create_hub_app()
