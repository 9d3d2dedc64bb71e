"""The app's clock: ``CLOCK`` in the config (set in ``kiosk.create_app``), read by the views
that log, undo or count check-ins, so tests choose the instant instead of the time of day."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app


def utc_now() -> datetime:
    """The real clock, ``CLOCK``'s default: the current instant, aware, in UTC."""
    return datetime.now(UTC)


def now() -> datetime:
    """The current instant by the app's ``CLOCK`` (a zero-argument callable returning an
    aware datetime)."""
    return current_app.config["CLOCK"]()
