"""Sign-in throttling (per username and per client address) through the Flask test client."""

from __future__ import annotations

import pytest

from kiosk import create_app
from kiosk.auth import THROTTLE_KEY
from passport import auth

PASSWORD = "long enough password"
MINUTE = 60.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(kiosk_app) -> FakeClock:
    fake = FakeClock()
    kiosk_app.extensions[THROTTLE_KEY].clock = fake
    return fake


@pytest.fixture
def alice(db):
    return auth.create_user(db, "alice", PASSWORD)


def sign_in(client, username: str, password: str, address: str = "192.0.2.1"):
    client.get("/login", environ_base={"REMOTE_ADDR": address})
    with client.session_transaction() as session:
        token = session["csrf_token"]
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def fail(client, username: str, times: int, address: str = "192.0.2.1") -> None:
    for _ in range(times):
        assert sign_in(client, username, "wrong password", address).status_code == 401


def test_fifth_failure_locks_the_username(kiosk_client, alice, clock):
    fail(kiosk_client, "alice", 5)
    # refused even with the right password, with a 429 that says when to retry
    response = sign_in(kiosk_client, "alice", PASSWORD, address="198.51.100.7")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "900"
    assert b"Too many failed sign-in attempts. Try again in 15 minutes." in response.data
    assert b"Wrong username or password" not in response.data
    clock.now += 14 * MINUTE
    response = sign_in(kiosk_client, "alice", PASSWORD, address="198.51.100.7")
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert b"Try again in 1 minute." in response.data
    clock.now += MINUTE
    assert sign_in(kiosk_client, "alice", PASSWORD, address="198.51.100.7").status_code == 302


def test_attempts_while_locked_do_not_extend_the_lock(kiosk_client, alice, clock):
    fail(kiosk_client, "alice", 5)
    for _ in range(10):
        clock.now += MINUTE
        assert sign_in(kiosk_client, "alice", "wrong password").status_code == 429
    clock.now += 5 * MINUTE
    assert sign_in(kiosk_client, "alice", PASSWORD).status_code == 302


def test_failures_outside_the_window_do_not_count(kiosk_client, alice, clock):
    fail(kiosk_client, "alice", 4)
    clock.now += 15 * MINUTE
    fail(kiosk_client, "alice", 4)
    assert sign_in(kiosk_client, "alice", PASSWORD).status_code == 302


def test_success_clears_the_username_failures(kiosk_client, alice, clock):
    fail(kiosk_client, "alice", 4)
    assert sign_in(kiosk_client, "alice", PASSWORD).status_code == 302
    # without the reset the username's fifth failure (from another address) would lock it
    fail(kiosk_client, "alice", 4, address="203.0.113.9")
    assert sign_in(kiosk_client, "alice", PASSWORD, address="203.0.113.9").status_code == 302


def test_unknown_user_is_throttled_the_same_way(kiosk_client, alice, clock):
    """A real and a made-up username get the same answers, before and after the lock."""
    locked_pages = {}
    for name in ("alice", "nobody"):
        codes = [sign_in(kiosk_client, name, "wrong password", address=f"10.0.{i}.1").status_code
                 for i in range(6)]
        assert codes == [401] * 5 + [429]
        page = sign_in(kiosk_client, name, PASSWORD, address="10.1.0.1")
        assert page.status_code == 429
        locked_pages[name] = page.data.replace(name.encode(), b"NAME")
    assert locked_pages["alice"] == locked_pages["nobody"]


def test_username_key_ignores_case(kiosk_client, alice, clock):
    fail(kiosk_client, "ALICE", 3)
    fail(kiosk_client, "Alice", 2)
    assert sign_in(kiosk_client, "alice", PASSWORD).status_code == 429


def test_one_address_trying_many_usernames_is_locked(kiosk_client, alice, clock):
    for i in range(5):
        assert sign_in(kiosk_client, f"user{i}", "wrong password").status_code == 401
    assert sign_in(kiosk_client, "alice", PASSWORD).status_code == 429
    # another address is not affected, and alice herself was never the one failing
    assert sign_in(kiosk_client, "alice", PASSWORD, address="192.0.2.2").status_code == 302


def test_limits_are_config(db_path, db):
    auth.create_user(db, "alice", PASSWORD)
    app = create_app({"TESTING": True, "SECRET_KEY": "test-only-secret",
                      "LOGIN_MAX_FAILURES": 2, "LOGIN_LOCKOUT_SECONDS": 30})
    client = app.test_client()
    fail(client, "alice", 2)
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 429 and response.headers["Retry-After"] == "30"
    assert b"Try again in 1 minute." in response.data


def test_limits_from_the_environment(db_path, monkeypatch):
    monkeypatch.setenv("PASSPORT_LOGIN_MAX_FAILURES", "3")
    throttle = create_app({"SECRET_KEY": "test-only-secret"}).extensions[THROTTLE_KEY]
    assert (throttle.max_failures, throttle.window_seconds) == (3, 900.0)
