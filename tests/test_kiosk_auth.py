"""Through the Flask test client: sign-in throttling (per username and client address, with
a higher per-address ceiling; addresses behind a reverse proxy), changing your own password on
/account, an admin resetting another user's password or lifting a lock on /admin."""

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


def test_fifth_failure_locks_the_name_at_that_address(kiosk_client, alice, clock):
    fail(kiosk_client, "alice", 5)
    # refused even with the right password, with a 429 that says when to retry
    response = sign_in(kiosk_client, "alice", PASSWORD)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "900"
    assert b"Too many failed sign-in attempts. Try again in 15 minutes." in response.data
    assert b"Wrong username or password" not in response.data
    clock.now += 14 * MINUTE
    response = sign_in(kiosk_client, "alice", PASSWORD)
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert b"Try again in 1 minute." in response.data
    clock.now += MINUTE
    assert sign_in(kiosk_client, "alice", PASSWORD).status_code == 302


def test_the_lock_is_per_name_and_address(kiosk_client, alice, clock):
    """Someone else's failures under alice's name from another desk do not lock her out."""
    fail(kiosk_client, "alice", 5, address="198.51.100.7")
    assert sign_in(kiosk_client, "alice", PASSWORD, address="198.51.100.7").status_code == 429
    assert sign_in(kiosk_client, "alice", PASSWORD).status_code == 302


def test_typos_under_a_made_up_name_never_lock_another_account(kiosk_client, db, clock):
    """Issue 10: five failed sign-ins under a made-up name from one address locked `admin`
    with the right password for 15 minutes, for every desk behind that address."""
    auth.create_user(db, "admin", PASSWORD, role="admin")
    fail(kiosk_client, "admni", 5)
    for _ in range(10):  # the neighbour keeps trying: refused, and not counted again
        assert sign_in(kiosk_client, "admni", "wrong password").status_code == 429
    assert sign_in(kiosk_client, "admin", PASSWORD).status_code == 302
    other_desk = kiosk_client.application.test_client()
    assert sign_in(other_desk, "admin", PASSWORD).status_code == 302


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


def test_success_clears_the_failures(kiosk_client, alice, clock):
    fail(kiosk_client, "alice", 4)
    assert sign_in(kiosk_client, "alice", PASSWORD).status_code == 302
    # without the reset the fifth failure would lock the name at this address
    fail(kiosk_client, "alice", 4)
    assert sign_in(kiosk_client, "alice", PASSWORD).status_code == 302


def test_unknown_user_is_throttled_the_same_way(kiosk_client, alice, clock):
    """A real and a made-up username get the same answers, before and after the lock."""
    locked_pages = {}
    for name in ("alice", "nobody"):
        codes = [sign_in(kiosk_client, name, "wrong password").status_code for _ in range(6)]
        assert codes == [401] * 5 + [429]
        page = sign_in(kiosk_client, name, PASSWORD)
        assert page.status_code == 429
        locked_pages[name] = page.data.replace(name.encode(), b"NAME")
    assert locked_pages["alice"] == locked_pages["nobody"]


def test_username_key_ignores_case(kiosk_client, alice, clock):
    fail(kiosk_client, "ALICE", 3)
    fail(kiosk_client, "Alice", 2)
    assert sign_in(kiosk_client, "alice", PASSWORD).status_code == 429


@pytest.fixture
def ceiling_app(db_path):
    """An app whose per-address ceiling is 8 failures (fewer argon2 checks to reach it)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test-only-secret",
                      "LOGIN_MAX_FAILURES_PER_ADDRESS": 8})
    app.extensions[THROTTLE_KEY].clock = FakeClock()
    return app


def test_one_address_trying_name_after_name_hits_the_ceiling(ceiling_app, alice):
    client = ceiling_app.test_client()
    for i in range(7):
        assert sign_in(client, f"user{i}", "wrong password").status_code == 401
    assert sign_in(client, "alice", PASSWORD).status_code == 302  # under the ceiling
    assert sign_in(client, "user7", "wrong password").status_code == 401  # the eighth
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 429 and response.headers["Retry-After"] == "900"
    # another address is not affected
    assert sign_in(client, "alice", PASSWORD, address="192.0.2.2").status_code == 302


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
    throttle = create_app({"SECRET_KEY": "test-only-secret"}).extensions[THROTTLE_KEY]
    assert (throttle.pairs.max_failures, throttle.addresses.max_failures) == (5, 50)
    monkeypatch.setenv("PASSPORT_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("PASSPORT_LOGIN_MAX_FAILURES_PER_ADDRESS", "30")
    throttle = create_app({"SECRET_KEY": "test-only-secret"}).extensions[THROTTLE_KEY]
    assert (throttle.pairs.max_failures, throttle.addresses.max_failures) == (3, 30)
    assert throttle.pairs.window_seconds == 900.0
    with pytest.raises(ValueError, match="ceiling"):
        create_app({"SECRET_KEY": "test-only-secret", "LOGIN_MAX_FAILURES": 5,
                    "LOGIN_MAX_FAILURES_PER_ADDRESS": 4})


# --------------------------------------------------------------------------- proxies

def sign_in_via_proxy(client, username: str, password: str, client_address: str):
    """A request through one reverse proxy at 10.0.0.1 that names the client."""
    headers = {"X-Forwarded-For": client_address}
    client.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.1"}, headers=headers)
    with client.session_transaction() as session:
        token = session["csrf_token"]
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token},
                       environ_base={"REMOTE_ADDR": "10.0.0.1"}, headers=headers)


@pytest.mark.parametrize("hops", [0, 1])
def test_proxy_hops_make_client_addresses_the_clients_own(db_path, db, hops):
    auth.create_user(db, "alice", PASSWORD)
    app = create_app({"TESTING": True, "SECRET_KEY": "test-only-secret", "PROXY_HOPS": hops,
                      "LOGIN_MAX_FAILURES_PER_ADDRESS": 5})
    client = app.test_client()
    for i in range(5):
        assert sign_in_via_proxy(client, f"user{i}", "wrong", "203.0.113.5").status_code == 401
    other_client = sign_in_via_proxy(client, "alice", PASSWORD, "198.51.100.20")
    # without PROXY_HOPS every client has the proxy's address and shares its lock
    assert other_client.status_code == (429 if hops == 0 else 302)
    locked = app.extensions[THROTTLE_KEY].locked_addresses()
    assert list(locked) == ["10.0.0.1" if hops == 0 else "203.0.113.5"]


def test_proxy_hops_from_the_environment(db_path, monkeypatch):
    from werkzeug.middleware.proxy_fix import ProxyFix

    assert not isinstance(create_app({"SECRET_KEY": "x" * 32}).wsgi_app, ProxyFix)
    monkeypatch.setenv("PASSPORT_PROXY_HOPS", "2")
    app = create_app({"SECRET_KEY": "x" * 32})
    assert app.config["PROXY_HOPS"] == 2
    assert isinstance(app.wsgi_app, ProxyFix) and app.wsgi_app.x_for == 2
    with pytest.raises(ValueError, match="PROXY_HOPS"):
        create_app({"SECRET_KEY": "x" * 32, "PROXY_HOPS": -1})


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
    # the same lock as five failed sign-ins: that name from that address
    assert sign_in(kiosk_app.test_client(), "desk1", KIOSK_TEST_PASSWORD,
                   address="127.0.0.1").status_code == 429
    assert sign_in(kiosk_app.test_client(), "desk1", KIOSK_TEST_PASSWORD,
                   address="192.0.2.99").status_code == 302


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
    # the lock on the name is lifted
    assert sign_in(forgetful, "desk1", NEW_PASSWORD).status_code == 302


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


def lock_buttons(page: bytes) -> list[str]:
    return [part.split('"')[0] for part in page.decode().split('action="/admin/users/')[1:]
            if part.split('"')[0].endswith("/unlock")]


def test_admin_lifts_a_sign_in_lock(kiosk_app, signed_in, admin_token, db, clock):
    client, token = admin_token
    assert lock_buttons(client.get("/admin").data) == []  # nobody locked: no button
    desk = kiosk_app.test_client()
    fail(desk, "desk1", 5)
    fail(desk, "nobody-at-all", 5)  # made-up names are not listed
    page = client.get("/admin").data
    assert lock_buttons(page) == ["desk1/unlock"]
    assert b"sign-in locked</strong> for 15 more min" in page
    assert sign_in(desk, "desk1", KIOSK_TEST_PASSWORD).status_code == 429
    refused = client.post("/admin/users/desk1/unlock")  # CSRF is required
    assert refused.status_code == 400 and b"CSRF" in refused.data
    response = client.post("/admin/users/desk1/unlock", data={"csrf_token": token},
                           follow_redirects=True)
    assert b"Sign-in lock on desk1 lifted." in response.data
    assert lock_buttons(response.data) == []
    assert sign_in(desk, "desk1", KIOSK_TEST_PASSWORD).status_code == 302
    again = client.post("/admin/users/desk1/unlock", data={"csrf_token": token},
                        follow_redirects=True)
    assert b"desk1 is not locked." in again.data


def test_admin_lifts_an_address_lock(db_path, db, kiosk_login):
    app = create_app({"TESTING": True, "SECRET_KEY": "test-only-secret",
                      "LOGIN_MAX_FAILURES_PER_ADDRESS": 5})
    admin = app.test_client()
    token = kiosk_login(admin, "root", "admin")
    assert b'id="locked-addresses"' not in admin.get("/admin").data
    desk = app.test_client()
    for i in range(5):
        assert sign_in(desk, f"user{i}", "wrong password", "203.0.113.5").status_code == 401
    page = admin.get("/admin").data
    assert b'id="locked-addresses"' in page and b"203.0.113.5" in page
    response = admin.post("/admin/addresses/unlock",
                          data={"csrf_token": token, "address": "203.0.113.5"},
                          follow_redirects=True)
    assert b"Sign-in lock on address 203.0.113.5 lifted." in response.data
    assert b'id="locked-addresses"' not in response.data
    assert sign_in(desk, "root", KIOSK_TEST_PASSWORD, "203.0.113.5").status_code == 302
