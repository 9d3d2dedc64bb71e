"""API token scopes (passport/auth.py SCOPES, kiosk/api.py ``needs_scope``) and last use:
every token-protected endpoint in the URL map names a scope; a token without it gets 403
``insufficient_scope``; tokens from before migration 9 keep every scope; the last-used time
is written at most once a minute; the CLI and the admin console list, create and revoke."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlite_utils
from werkzeug.routing import AnyConverter, IntegerConverter

from kiosk.api import token_scope
from passport import auth, store

# Any body: the scope is checked before the body is read.
BODY = {"visit": "exploratorium-san-francisco", "home": "chabot-space-science-center-oakland"}


def api_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of every /api/ rule, with sample path values."""
    adapter = app.url_map.bind("localhost")
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        values = {}
        for name in rule.arguments:
            converter = rule._converters[name]
            values[name] = (1 if isinstance(converter, IntegerConverter)
                            else sorted(converter.items)[0]
                            if isinstance(converter, AnyConverter) else "x")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, adapter.build(rule.endpoint, values,
                                                                 method=method)))
    return sorted(routes)


def call(client, method: str, path: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.open(path, method=method, headers=headers,
                       json=BODY if method != "GET" else None)


def test_every_token_protected_endpoint_names_a_scope(kiosk_app, kiosk_client):
    """Walks the URL map: whatever answers 401 without a token (so takes one) has a scope
    from SCOPES; the rest of /api/ is public (the member planner's endpoints)."""
    protected = []
    for endpoint, method, path in api_routes(kiosk_app):
        if call(kiosk_client, method, path).status_code == 401:
            protected.append(endpoint)
            with kiosk_app.app_context():
                assert token_scope(endpoint) in auth.SCOPES, endpoint
    assert {"api.check", "api.create_checkin", "api.report_visits"} <= set(protected)
    assert set(auth.SCOPES) == {"check", "checkins:read", "checkins:write", "reports:read"}


@pytest.fixture
def tokens(db):
    """One token per scope, and one with all."""
    made = {scope: auth.create_token(db, scope, [scope])[1] for scope in auth.SCOPES}
    made["all"] = auth.create_token(db, "all")[1]
    return made


def test_each_endpoint_takes_its_scope_and_refuses_the_others(kiosk_app, kiosk_client,
                                                              tokens):
    checked = 0
    for endpoint, method, path in api_routes(kiosk_app):
        with kiosk_app.app_context():
            needed = token_scope(endpoint)
        if needed is None:
            continue
        for scope in auth.SCOPES:
            response = call(kiosk_client, method, path, tokens[scope])
            if scope == needed:
                assert response.status_code not in (401, 403), (path, response.data)
            else:
                assert response.status_code == 403, (path, scope)
                assert response.json == {"error": {
                    "code": "insufficient_scope",
                    "message": f"this API token lacks the scope {needed!r} that "
                               f"{method} {path} needs"}}
        assert call(kiosk_client, method, path, tokens["all"]).status_code not in (401, 403)
        checked += 1
    assert checked >= 7


def test_an_endpoint_that_names_no_scope_refuses_every_token(kiosk_app, db):
    """Fail closed: a new API view someone forgot to give a scope takes no token at all."""
    kiosk_app.add_url_rule("/api/v1/forgotten", endpoint="api.forgotten",
                           view_func=lambda: {"ok": True})
    _, token = auth.create_token(db, "all")
    response = call(kiosk_app.test_client(), "GET", "/api/v1/forgotten", token)
    assert response.status_code == 403
    assert response.json["error"] == {"code": "insufficient_scope",
                                      "message": "GET /api/v1/forgotten takes no API token"}


def test_a_revoked_token_is_refused_before_its_scopes(kiosk_client, db):
    token_id, token = auth.create_token(db, "gone", ["check"])
    auth.revoke_token(db, token_id)
    assert call(kiosk_client, "GET", "/api/v1/institutions", token).status_code == 401


@pytest.mark.parametrize(("scopes", "message"), [
    (["check", "admin"], "unknown scope 'admin'"),
    ([], "at least one scope"),
])
def test_bad_scopes_are_refused(db, scopes, message):
    with pytest.raises(auth.AuthError, match=message):
        auth.create_token(db, "x", scopes)
    assert auth.list_tokens(db) == []


def test_tokens_from_before_scopes_keep_every_scope(db_path, monkeypatch):
    """Upgrade: a store at migration 8 with a live token, then migration 9."""
    monkeypatch.setattr(store, "MIGRATIONS", store.MIGRATIONS[:8])
    db = sqlite_utils.Database(db_path)
    store.migrate(db)
    db.execute("INSERT INTO api_tokens (name, token_sha256, created_at) "
               "VALUES ('old', 'abc', '2025-01-01T00:00:00+00:00')")
    db.conn.commit()
    monkeypatch.undo()
    store.migrate(db)
    [row] = auth.list_tokens(db)
    assert row["scopes"] == list(auth.SCOPES) and row["last_used_at"] is None
    db.close()


# --------------------------------------------------------------------------- last use

def data_version(db) -> int:
    """Changes when another connection commits a write to the file."""
    return db.execute("PRAGMA data_version").fetchone()[0]


def test_last_use_is_written_at_most_once_a_minute(kiosk_client, kiosk_clock, db):
    token_id, token = auth.create_token(db, "ticketing")
    assert auth.list_tokens(db)[0]["last_used_at"] is None
    first = kiosk_clock.now
    assert call(kiosk_client, "GET", "/api/v1/checkins", token).status_code == 200
    assert auth.list_tokens(db)[0]["last_used_at"] == first.isoformat(timespec="microseconds")
    version = data_version(db)
    for seconds in (1, 30, 59):
        kiosk_clock.now = first + timedelta(seconds=seconds)
        assert call(kiosk_client, "GET", "/api/v1/checkins", token).status_code == 200
    assert data_version(db) == version  # the hot path wrote nothing
    kiosk_clock.now = first + timedelta(seconds=60)
    assert call(kiosk_client, "GET", "/api/v1/checkins", token).status_code == 200
    assert auth.list_tokens(db)[0]["last_used_at"] == kiosk_clock.now.isoformat(
        timespec="microseconds")


def test_a_read_only_store_still_accepts_the_token(db_path, db):
    _, token = auth.create_token(db, "ticketing")
    readonly = sqlite_utils.Database(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True))
    client = auth.verify_token(readonly, token, datetime(2026, 6, 15, tzinfo=UTC))
    assert client is not None and client.name == "ticketing"
    assert auth.list_tokens(db)[0]["last_used_at"] is None
    readonly.close()


# --------------------------------------------------------------------------- CLI

def test_cli_token_create_defaults_to_every_scope_and_says_so(cli, db):
    made = json.loads(cli("token", "create", "ticketing", "--json").stdout)
    assert made["scopes"] == list(auth.SCOPES) and made["token"].startswith(auth.TOKEN_PREFIX)
    plain = cli("token", "create", "office")
    assert plain.stdout.strip().startswith(auth.TOKEN_PREFIX)
    assert "all scopes" in plain.stderr and "--scope" in plain.stderr
    assert "Default: every scope" in " ".join(cli("token", "create", "--help").stdout.split())


def test_cli_token_create_with_scopes(cli, db):
    made = json.loads(cli("token", "create", "gate", "--scope", "reports:read",
                          "--scope", "check", "--json").stdout)
    assert made["scopes"] == ["check", "reports:read"]
    assert auth.verify_token(db, made["token"]).scopes == {"check", "reports:read"}


def test_cli_token_create_refuses_an_unknown_scope(cli, db):
    cli("token", "create", "gate", "--scope", "everything", error="unknown scope 'everything'")
    assert auth.list_tokens(db) == []


def test_cli_token_list_and_revoke_by_id_or_name(cli, db, kiosk_client):
    first = json.loads(cli("token", "create", "ticketing", "--scope", "check", "--json").stdout)
    cli("token", "create", "office")
    call(kiosk_client, "GET", "/api/v1/institutions", first["token"])
    listed = json.loads(cli("token", "list", "--json").stdout)["tokens"]
    assert [set(t) for t in listed] == [
        {"id", "name", "scopes", "created_at", "last_used_at", "revoked_at"}] * 2
    assert listed[0]["scopes"] == ["check"] and listed[0]["last_used_at"] is not None
    assert listed[1]["last_used_at"] is None
    plain = cli("token", "list").stdout
    assert "ticketing\tcheck\t" in plain and "never used\tlive" in plain
    assert json.loads(cli("token", "revoke", "ticketing", "--json").stdout) == {
        "id": first["id"], "revoked": True}
    assert auth.verify_token(db, first["token"]) is None
    cli("token", "revoke", "ticketing", error="no live API token named 'ticketing'")
    cli("token", "revoke", str(listed[1]["id"]))
    cli("token", "revoke", "999", error="no live API token with id 999")


def test_cli_revoke_by_a_name_two_tokens_share_asks_for_the_id(cli, db):
    cli("token", "create", "kiosk")
    cli("token", "create", "kiosk")
    cli("token", "revoke", "kiosk", error="2 live API tokens are named 'kiosk' (ids 1, 2)")
    assert all(t["revoked_at"] is None for t in auth.list_tokens(db))


# --------------------------------------------------------------------------- admin console

@pytest.fixture
def admin(kiosk_client, kiosk_login):
    kiosk_client.csrf = kiosk_login(kiosk_client, "root", "admin")
    return kiosk_client


def test_admin_creates_a_token_with_scopes_sees_its_use_and_revokes_it(admin, db):
    page = admin.get("/admin").get_data(as_text=True)
    for scope in auth.SCOPES:
        assert f'name="scope" value="{scope}" checked' in page
    response = admin.post("/admin/tokens", data={
        "name": "ticketing", "scope": ["check", "checkins:write"], "csrf_token": admin.csrf})
    shown = response.get_data(as_text=True)
    assert response.status_code == 200 and "Scopes: check, checkins:write" in shown
    value = shown.split('id="new-token" class="token">')[1].split("<")[0]
    [row] = auth.list_tokens(db)
    assert row["scopes"] == ["check", "checkins:write"]
    page = admin.get("/admin").get_data(as_text=True)
    assert '<td class="token-scopes">check checkins:write</td>' in page
    assert '<td class="token-last-used">never</td>' in page
    assert call(admin, "GET", "/api/v1/institutions", value).status_code != 403
    page = admin.get("/admin").get_data(as_text=True)
    assert '<td class="token-last-used">2026-06-15 19:00 UTC</td>' in page
    admin.post(f"/admin/tokens/{row['id']}/revoke", data={"csrf_token": admin.csrf})
    assert auth.verify_token(db, value) is None


def test_admin_token_with_no_scope_ticked_is_refused(admin, db):
    response = admin.post("/admin/tokens", data={"name": "nothing", "csrf_token": admin.csrf},
                          follow_redirects=True)
    assert b"tick at least one scope" in response.data
    assert auth.list_tokens(db) == []
