"""Through the Flask test client: sign-in throttling (per username and per client address),
changing your own password on /account, an admin resetting another user's on /admin."""

from __future__ import annotations

import pytest

from kiosk import create_app
from kiosk.auth import THROTTLE_KEY
from passport import auth

PASSWORD = "long enough password"
KIOSK_TEST_PASSWORD = "correct horse battery"  # conftest's kiosk_login password
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


# --------------------------------------------------------------------------- /account

NEW_PASSWORD = "a brand new passphrase"


def change(client, token, current, new, repeat=None, **extra):
    data = {"current_password": current, "new_password": new,
            "new_password_repeat": new if repeat is None else repeat, **extra}
    if token is not None:
        data["csrf_token"] = token
    return client.post("/account", data=data)


def password_works(db, username, password) -> bool:
    return auth.authenticate(db, username, password) is not None


@pytest.fixture
def signed_in(kiosk_client, kiosk_login, db):
    """desk1 signed in; returns the CSRF token."""
    return kiosk_login(kiosk_client, "desk1")


def test_account_page(kiosk_client, signed_in):
    page = kiosk_client.get("/account")
    assert page.status_code == 200
    for marker in (b'name="current_password"', b'name="new_password"',
                   b'name="new_password_repeat"', b'name="csrf_token"', b'minlength="12"'):
        assert marker in page.data
    assert b'href="/account"' in kiosk_client.get("/desk").data  # linked from the top bar


def test_change_own_password(kiosk_client, kiosk_app, signed_in, db):
    other = kiosk_app.test_client()  # the same user signed in elsewhere
    sign_in(other, "desk1", KIOSK_TEST_PASSWORD)
    assert other.get("/desk").status_code == 200
    response = change(kiosk_client, signed_in, KIOSK_TEST_PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert b"Password changed" in kiosk_client.get("/account").data
    assert password_works(db, "desk1", NEW_PASSWORD)
    assert not password_works(db, "desk1", KIOSK_TEST_PASSWORD)
    assert kiosk_client.get("/desk").status_code == 200  # this session stays signed in
    assert other.get("/desk").status_code == 302  # the other one is signed out
    # and through the real sign-in form
    fresh = kiosk_app.test_client()
    assert sign_in(fresh, "desk1", KIOSK_TEST_PASSWORD).status_code == 401
    assert sign_in(fresh, "desk1", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(("current", "new", "repeat", "message"), [
    ("wrong password!", NEW_PASSWORD, None, b"The current password is wrong."),
    (KIOSK_TEST_PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", b"The two new passwords do not match."),
    (KIOSK_TEST_PASSWORD, "too short", None, b"at least 12 characters"),
    (KIOSK_TEST_PASSWORD, KIOSK_TEST_PASSWORD, None, b"must differ from the current one"),
])
def test_change_refused(kiosk_client, signed_in, db, current, new, repeat, message):
    response = change(kiosk_client, signed_in, current, new, repeat)
    assert response.status_code == 400 and message in response.data
    assert password_works(db, "desk1", KIOSK_TEST_PASSWORD)
    assert kiosk_client.get("/desk").status_code == 200  # still signed in


@pytest.mark.parametrize("token", [None, "forged"])
def test_change_needs_csrf(kiosk_client, signed_in, db, token):
    response = change(kiosk_client, token, KIOSK_TEST_PASSWORD, NEW_PASSWORD)
    assert response.status_code == 400 and b"CSRF" in response.data
    assert password_works(db, "desk1", KIOSK_TEST_PASSWORD)
    assert not password_works(db, "desk1", NEW_PASSWORD)


def test_wrong_current_passwords_count_towards_the_throttle(kiosk_client, kiosk_app, signed_in,
                                                             clock):
    for _ in range(5):
        assert change(kiosk_client, signed_in, "guess guess guess", NEW_PASSWORD).status_code == 400
    response = change(kiosk_client, signed_in, KIOSK_TEST_PASSWORD, NEW_PASSWORD)
    assert response.status_code == 429
    assert b"Too many failed password attempts. Try again in 15 minutes." in response.data
    assert sign_in(kiosk_app.test_client(), "desk1", KIOSK_TEST_PASSWORD,
                   address="192.0.2.99").status_code == 429


def test_sessions_from_before_the_stamp_are_signed_out(kiosk_client, signed_in):
    with kiosk_client.session_transaction() as session:
        del session["stamp"]
    assert kiosk_client.get("/desk").status_code == 302


# --------------------------------------------------------------------------- /admin reset


@pytest.fixture
def admin_token(kiosk_app, kiosk_login):
    """root (admin) signed in on its own client; returns (client, CSRF token)."""
    client = kiosk_app.test_client()
    return client, kiosk_login(client, "root", "admin")


def reset(admin, username, new, repeat=None):
    client, token = admin
    return client.post("/admin/users/password", data={
        "username": username, "new_password": new,
        "new_password_repeat": new if repeat is None else repeat, "csrf_token": token,
    }, follow_redirects=True)


def test_admin_resets_a_password(kiosk_client, kiosk_app, signed_in, admin_token, db, clock):
    page = admin_token[0].get("/admin")
    assert b'action="/admin/users/password"' in page.data
    assert b'<option value="desk1">' in page.data and b'<option value="root">' not in page.data
    forgetful = kiosk_app.test_client()
    fail(forgetful, "desk1", 5)  # desk1 forgot the password and locked the name
    response = reset(admin_token, "desk1", NEW_PASSWORD)
    assert b"Password of desk1 reset" in response.data
    assert password_works(db, "desk1", NEW_PASSWORD)
    assert not password_works(db, "desk1", KIOSK_TEST_PASSWORD)
    assert kiosk_client.get("/desk").status_code == 302  # desk1's session is over
    # the lock on the name is lifted (the address that failed stays locked)
    assert sign_in(forgetful, "desk1", NEW_PASSWORD, address="192.0.2.50").status_code == 302


@pytest.mark.parametrize(("username", "new", "repeat", "message"), [
    ("desk1", NEW_PASSWORD, "something else entirely", b"The two new passwords do not match."),
    ("desk1", "short", None, b"at least 12 characters"),
    ("ghost", NEW_PASSWORD, None, b"no user"),
    ("root", NEW_PASSWORD, None, b"Change your own password on the Account page."),
])
def test_admin_reset_refused(signed_in, admin_token, db, username, new, repeat, message):
    response = reset(admin_token, username, new, repeat)
    assert message in response.data
    assert password_works(db, "desk1", KIOSK_TEST_PASSWORD)
    assert password_works(db, "root", KIOSK_TEST_PASSWORD)
