"""passport.auth: argon2 users, roles, API tokens stored as sha256."""

import hashlib

import pytest
from argon2 import PasswordHasher

from kiosk.throttle import LoginThrottle
from passport import auth


def test_create_and_authenticate(db):
    user = auth.create_user(db, "alice", "long enough pw", role="desk")
    assert (user.username, user.role, user.disabled) == ("alice", "desk", False)
    stored = db.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$") and "long enough pw" not in stored
    assert auth.authenticate(db, "alice", "long enough pw") == user
    assert auth.authenticate(db, "alice", "wrong password") is None
    assert auth.authenticate(db, "nobody", "long enough pw") is None


@pytest.mark.parametrize(
    ("username", "password", "role", "error"),
    [
        ("bad name!", "long enough pw", "desk", auth.AuthError),
        ("bob", "short", "desk", auth.AuthError),
        ("bob", "long enough pw", "root", auth.AuthError),
    ],
)
def test_create_user_rejects(db, username, password, role, error):
    with pytest.raises(error):
        auth.create_user(db, username, password, role=role)


def test_duplicate_user(db):
    auth.create_user(db, "alice", "long enough pw")
    with pytest.raises(auth.UserExists):
        auth.create_user(db, "alice", "another password")


def test_disable_and_last_admin(db):
    auth.create_user(db, "root", "long enough pw", role="admin")
    auth.create_user(db, "desk", "long enough pw", role="desk")
    with pytest.raises(auth.AuthError, match="last admin"):
        auth.set_disabled(db, "root", True)
    auth.set_disabled(db, "desk", True)
    assert auth.authenticate(db, "desk", "long enough pw") is None
    auth.set_disabled(db, "desk", False)
    assert auth.authenticate(db, "desk", "long enough pw") is not None
    assert auth.has_admin(db)
    with pytest.raises(auth.UnknownUser):
        auth.set_disabled(db, "ghost", True)


def test_set_password(db):
    before = auth.create_user(db, "alice", "long enough pw")
    after = auth.set_password(db, "alice", "a new password")
    assert auth.authenticate(db, "alice", "long enough pw") is None
    assert auth.authenticate(db, "alice", "a new password") == after
    assert before.session_stamp and after.session_stamp != before.session_stamp
    with pytest.raises(auth.AuthError, match="at least 12"):
        auth.set_password(db, "alice", "elevenchars")
    with pytest.raises(auth.UnknownUser):
        auth.set_password(db, "ghost", "a new password")


def test_change_password(db):
    auth.create_user(db, "alice", "long enough pw")
    with pytest.raises(auth.WrongPassword):
        auth.change_password(db, "alice", "not my password", "a new password")
    with pytest.raises(auth.WrongPassword):  # an unknown user looks the same
        auth.change_password(db, "ghost", "long enough pw", "a new password")
    with pytest.raises(auth.AuthError, match="differ"):
        auth.change_password(db, "alice", "long enough pw", "long enough pw")
    user = auth.change_password(db, "alice", "long enough pw", "a new password")
    assert auth.authenticate(db, "alice", "a new password") == user
    assert auth.authenticate(db, "alice", "long enough pw") is None


def test_rehash_on_login_returns_the_new_stamp(db):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    auth.create_user(db, "alice", "long enough pw")
    db.execute("UPDATE users SET password_hash = ?", [weak.hash("long enough pw")])
    user = auth.authenticate(db, "alice", "long enough pw")  # upgrades the hash
    assert user == auth.get_user(db, "alice")


def test_tokens_stored_as_sha256_and_revocable(db):
    token_id, token = auth.create_token(db, "ticketing")
    stored = db.execute("SELECT token_sha256 FROM api_tokens").fetchone()[0]
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(list(db.query("SELECT * FROM api_tokens")))
    client = auth.verify_token(db, token)
    assert client == auth.ApiClient(token_id, "ticketing")
    assert auth.verify_token(db, token + "x") is None
    assert auth.verify_token(db, "not-a-token") is None
    auth.revoke_token(db, token_id)
    assert auth.verify_token(db, token) is None
    with pytest.raises(auth.AuthError):
        auth.revoke_token(db, token_id)
    assert auth.list_tokens(db)[0]["revoked_at"] is not None


def test_login_throttle_locks_and_forgets():
    now = [0.0]
    throttle = LoginThrottle(max_failures=3, window_seconds=60, lockout_seconds=120,
                                  clock=lambda: now[0])
    keys = ["user:alice", "addr:192.0.2.1"]
    for _ in range(2):
        throttle.record_failure(keys)
    assert throttle.retry_after_seconds(keys) == 0.0
    throttle.record_failure(["user:alice"])
    assert throttle.retry_after_seconds(keys) == 120.0  # one locked key is enough
    assert throttle.retry_after_seconds(["addr:192.0.2.1"]) == 0.0
    now[0] = 120.0
    assert throttle.retry_after_seconds(keys) == 0.0
    throttle.clear("addr:192.0.2.1")
    throttle.record_failure(keys)
    assert throttle.retry_after_seconds(keys) == 0.0  # counting starts afresh
    with pytest.raises(ValueError, match="max_failures"):
        LoginThrottle(max_failures=0)


def test_login_throttle_memory_is_bounded():
    now = [0.0]
    throttle = LoginThrottle(max_failures=2, window_seconds=60, lockout_seconds=60,
                                  max_keys=100, clock=lambda: now[0])
    throttle.record_failure(["user:locked"])
    throttle.record_failure(["user:locked"])
    for i in range(1000):
        now[0] = i / 100
        throttle.record_failure([f"user:{i}"])
    assert throttle.entry_count <= 100
    assert throttle.retry_after_seconds(["user:locked"]) > 0  # locks are kept first
    assert throttle.retry_after_seconds(["user:999"]) == 0.0
