"""Every state-changing route refuses a missing or wrong CSRF token, one case per route taken
from the app's URL map, so a new form cannot be forgotten. Each case signs in as an admin
(who may use every page), sends a body that would change something, and checks the store
and the instance folder are exactly as before.

The session-authenticated JSON API (the desk's own fetch calls) is covered too; an API client
with ``Authorization: Bearer`` sends no cookie, needs no CSRF token, and is tested in
tests/test_token_scopes.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import KIOSK_TEST_NOW
from werkzeug.routing import AnyConverter, IntegerConverter

from kiosk import create_app
from kiosk.security import CSRF_FIELD, CSRF_MESSAGE, SEEN_FIELD, STAMP_FIELD, UNSAFE_METHODS
from passport import auth, store

# A body for every form at once: names the admin, desk and card forms read.
FORM = {
    "username": "csrf-victim", "password": "long enough password", "role": "admin",
    "name": "csrf-token", "scope": "check", "site": "exploratorium-san-francisco",
    "new_password": "another long password", "new_password_repeat": "another long password",
    "current_password": "correct horse battery", "address": "10.0.0.1", "confirm": "yes",
    "token": "0" * 32, "payload": "PP1:X", "allow_site_removal": "yes",
}
JSON_BODY = {"visit": "exploratorium-san-francisco", "home": "chabot-space-science-center-oakland"}


def _unsafe_routes() -> list[tuple[str, str, str]]:
    """(endpoint, method, path) for every rule taking POST/PUT/PATCH/DELETE."""
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DB": "unused.sqlite"})
    adapter = app.url_map.bind("localhost")
    routes = []
    for rule in app.url_map.iter_rules():
        values = {}
        for name in rule.arguments:
            converter = rule._converters[name]
            if isinstance(converter, IntegerConverter):
                values[name] = 1
            elif isinstance(converter, AnyConverter):
                values[name] = sorted(converter.items)[0]
            else:
                values[name] = "x"
        for method in sorted((rule.methods or set()) & UNSAFE_METHODS):
            routes.append((rule.endpoint, method,
                           adapter.build(rule.endpoint, values, method=method)))
    return sorted(routes)


UNSAFE_ROUTES = _unsafe_routes()


def fingerprint(db, instance: Path) -> str:
    """Every row of the store and every file of the instance folder (uploads, card runs)."""
    digest = hashlib.sha256()
    for line in db.conn.iterdump():
        digest.update(line.encode())
    for path in sorted(instance.rglob("*")):
        if path.is_file():
            digest.update(f"{path.relative_to(instance)}:{path.stat().st_size}".encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One store, app and admin for the module (a password hash is slow on purpose); each
    case checks the store is unchanged, so they cannot affect one another."""
    folder = tmp_path_factory.mktemp("csrf")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PASSPORT_DB", str(folder / "passport.sqlite"))
        env.setenv("PASSPORT_INSTANCE", str(folder / "instance"))
        db = store.open_db()
        admin = auth.create_user(db, "root", "correct horse battery", role="admin")
        app = create_app({"TESTING": True, "SECRET_KEY": "test-only-secret",
                          "CLOCK": lambda: KIOSK_TEST_NOW})
        yield {"app": app, "db": db, "admin": admin, "instance": folder / "instance"}
        db.close()


def signed_in_admin(site):
    """A client with an admin's session (the sign-in form itself: tests/test_kiosk_auth.py)."""
    client = site["app"].test_client()
    with client.session_transaction() as session:
        session.update({"user": "root", STAMP_FIELD: site["admin"].session_stamp,
                        SEEN_FIELD: KIOSK_TEST_NOW.timestamp(),
                        CSRF_FIELD: "the-session-token"})
    return client


def test_the_map_has_the_forms_we_know_of():
    """A floor, so a broken URL-map walk cannot pass by finding nothing."""
    endpoints = {endpoint for endpoint, _, _ in UNSAFE_ROUTES}
    assert {"auth.login", "auth.logout", "admin.create_token", "admin.revoke_token",
            "admin.create_user", "desk.undo", "membercards.issue",
            "api.create_checkin"} <= endpoints


def test_the_signed_in_admin_gets_through_with_the_right_token(site):
    """The cases below are refused for the token alone: the same session with its token
    changes the store."""
    client = signed_in_admin(site)
    before = fingerprint(site["db"], site["instance"])
    response = client.post("/admin/tokens", data={
        "name": "allowed", "scope": "check", "csrf_token": "the-session-token"})
    assert response.status_code == 200, response.data[:300]
    assert fingerprint(site["db"], site["instance"]) != before


@pytest.mark.parametrize(("endpoint", "method", "path"), UNSAFE_ROUTES,
                         ids=[f"{m} {p}" for _, m, p in UNSAFE_ROUTES])
@pytest.mark.parametrize("sent", ["missing", "wrong"])
def test_every_state_changing_route_refuses_a_bad_csrf_token(site, endpoint, method, path,
                                                             sent):
    client = signed_in_admin(site)
    before = fingerprint(site["db"], site["instance"])
    headers = {} if sent == "missing" else {"X-CSRF-Token": "not-the-session-token"}
    if path.startswith("/api/"):
        response = client.open(path, method=method, json=JSON_BODY, headers=headers)
        assert response.status_code == 400, response.data[:300]
        assert response.json["error"]["code"] == "csrf_failed"
    else:
        form = FORM if sent == "missing" else {**FORM, "csrf_token": "not-the-session-token"}
        response = client.open(path, method=method, data=form)
        assert response.status_code == 400, response.data[:300]
        assert CSRF_MESSAGE.encode() in response.data
    assert fingerprint(site["db"], site["instance"]) == before
    with client.session_transaction() as session:
        assert session.get("user") == "root"  # refused, not signed out (logout included)
