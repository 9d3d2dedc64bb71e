"""Shared fixtures: a real SQLite store in tmp_path and the shipped participant list."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings

from passport import store
from passport.rules import Profile

# Property tests draw the same examples on every run (no flaky CI, no example database):
# each test's own @settings inherit this profile.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.load_profile("repeatable")

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CSV = ROOT / "data" / "institutions.csv"

# The ASTC profile as a new store seeds it, for pure rule tests without a store
# (test_rules holds it equal to the store's seeded row).
ASTC_LIMITS = {"group": (2, 4), "individual": (1, 0)}
ASTC = Profile("astc", "ASTC Travel Passport Program", 90.0, residence_rule=True,
               membership_limits=ASTC_LIMITS)


@pytest.fixture
def db_path(tmp_path, monkeypatch) -> Path:
    """A fresh store file; $PASSPORT_DB points at it so the CLI uses it too."""
    path = tmp_path / "passport.sqlite"
    monkeypatch.setenv("PASSPORT_DB", str(path))
    monkeypatch.setenv("PASSPORT_INSTANCE", str(tmp_path / "instance"))
    return path


@pytest.fixture
def db(db_path):
    database = store.open_db(db_path)
    yield database
    database.close()


@pytest.fixture(scope="session")
def shipped_csv() -> Path:
    return SHIPPED_CSV


# --------------------------------------------------------------------------- kiosk (KIOSK)

KIOSK_TEST_PASSWORD = "correct horse battery"
# The kiosk tests' instant: noon in California, the same calendar day in every US zone.
KIOSK_TEST_NOW = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
KIOSK_TEST_IDLE_MINUTES = 366 * 24 * 60


class SettableClock:
    """The app's ``CLOCK`` in tests: answers ``now`` (an aware datetime) until a test sets
    another instant, so nothing depends on the real time of day."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def kiosk_clock() -> SettableClock:
    return SettableClock(KIOSK_TEST_NOW)


@pytest.fixture
def kiosk_app(db_path, kiosk_clock):
    """The Flask app on the test store (a fixed secret key: tests only), on ``kiosk_clock``.
    Sessions stay signed in for a year of that clock: tests move it by days between requests
    (tests/test_web_security.py holds the idle sign-out at its default)."""
    from kiosk import create_app

    return create_app({"TESTING": True, "DB": str(db_path), "SECRET_KEY": "test-only-secret",
                       "CLOCK": kiosk_clock, "IDLE_MINUTES": KIOSK_TEST_IDLE_MINUTES})


@pytest.fixture
def kiosk_client(kiosk_app):
    return kiosk_app.test_client()


@pytest.fixture
def kiosk_login(db):
    """``kiosk_login(client, username="desk1", role="desk") -> csrf token``: creates the user
    if needed and signs the client in through the real /login form."""
    from passport import auth

    def login(client, username: str = "desk1", role: str = "desk") -> str:
        if auth.get_user(db, username) is None:
            auth.create_user(db, username, KIOSK_TEST_PASSWORD, role=role)
        client.get("/login")
        with client.session_transaction() as session:
            token = session["csrf_token"]
        response = client.post(
            "/login",
            data={"username": username, "password": KIOSK_TEST_PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 302, response.data
        with client.session_transaction() as session:
            return session["csrf_token"]

    return login


@pytest.fixture
def cli(db_path):
    """Run ``passport ARGS`` in-process on the db_path store.

    ``cli(*args)`` asserts exit 0; ``cli(*args, error="text")`` asserts the failure is one
    ``Error: ...`` line on stderr containing the text; ``ok=False`` checks nothing.
    """
    from click.testing import CliRunner

    from passport.cli import main

    runner = CliRunner()

    def invoke(*args, ok=True, error=None):
        result = runner.invoke(main, [str(a) for a in args])
        if error is not None:
            lines = result.stderr.strip().splitlines()
            assert result.exit_code == 1, result.output
            assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
            assert error in lines[0], lines[0]
        elif ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke


# --------------------------------------------------------------------------- hub (PostgreSQL)

HUB_TEST_SECRET = "hub-tests-only-secret-0123456789"


@pytest.fixture(scope="session")
def hub_url():
    """A PostgreSQL database of its own for this session (tests/hubdb.py), dropped at the
    end; skipped with one line without a server, failed under CI=true."""
    from hubdb import fresh_database

    with fresh_database() as url:
        yield url


@pytest.fixture
def hub_pool(hub_url, monkeypatch, tmp_path):
    """An initialised, empty hub (``passport hub init``) on the session's database, its
    URL in $PASSPORT_HUB_DATABASE_URL and a test-only key secret."""
    from hubdb import empty_tables

    from passport import hubstore
    from passport.hub import setup

    monkeypatch.setenv(hubstore.URL_ENV_VAR, hub_url)
    monkeypatch.setenv("PASSPORT_SECRET_KEY", HUB_TEST_SECRET)
    monkeypatch.setenv("PASSPORT_INSTANCE", str(tmp_path / "hub-instance"))
    empty_tables(hub_url)
    pool = hubstore.open_pool(hub_url, max_size=4)
    setup.init(pool)
    yield pool
    pool.close()


# --------------------------------------------------------------------------- page tests

@pytest.fixture(scope="session")
def browser():
    """One headless Debian chromium for every page test (tests/browser.py): skipped on a
    developer machine without it, failed in CI."""
    from browser import launched_chromium

    with launched_chromium() as chromium:
        yield chromium
