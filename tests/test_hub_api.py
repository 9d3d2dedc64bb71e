"""The hub's Flask app on a real PostgreSQL database: the API sites call (bundle + ETag,
enrolment, check-ins, trust) and the admin pages (login, CSRF, lists, sites, reports)."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from hubdata import OTHER, SITE, checkin, issuer_key

from passport import bundle
from passport.hub import lists, sites, users

PASSWORD = "correct horse battery"


@pytest.fixture
def hub_app(hub_pool, hub_url):
    from kiosk.hub import create_hub_app
    from kiosk.hub.db import POOL_KEY

    app = create_hub_app({"TESTING": True, "SECRET_KEY": "test-only-secret",
                          "HUB_DATABASE_URL": hub_url, "HUB_POOL_SIZE": 2})
    yield app
    found = app.extensions.get(POOL_KEY)
    if found:
        found[1].close()


@pytest.fixture
def client(hub_app):
    return hub_app.test_client()


@pytest.fixture
def credential(hub_pool, client):
    token = sites.add_site(hub_pool, SITE)["token"]
    response = client.post("/api/v1/enrol", json={"site": SITE, "token": token})
    assert response.status_code == 200, response.json
    return response.json["credential"]


def _auth(credential: str) -> dict:
    return {"Authorization": f"Bearer {credential}"}


def test_bundle_etag_and_304(client, hub_pool):
    first = client.get("/api/v1/bundle")
    assert first.status_code == 200 and first.mimetype == "application/json"
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"\d+-[0-9a-f]{16}"', etag)
    pinned = {k["key_id"]: base64.b64decode(k["public_key"])
              for k in client.get("/api/v1/hub-keys").json["hub_keys"]}
    verified = bundle.verify(first.data, pinned, datetime.now(UTC))
    assert verified.etag == etag
    again = client.get("/api/v1/bundle", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    stale = client.get("/api/v1/bundle", headers={"If-None-Match": '"1-0000000000000000"'})
    assert stale.status_code == 200 and stale.data == first.data
    # the hub answers with the kiosk's security headers too
    assert "frame-ancestors 'none'" in first.headers["Content-Security-Policy"]
    assert first.headers["X-Content-Type-Options"] == "nosniff"


def test_enrolment_token_used_twice_is_403(client, hub_pool):
    token = sites.add_site(hub_pool, SITE)["token"]
    ok = client.post("/api/v1/enrol", json={"site": SITE, "token": token})
    assert ok.status_code == 200
    assert set(ok.json) == {"site", "credential", "hub_keys"}
    assert ok.json["hub_keys"][0]["key_id"]
    again = client.post("/api/v1/enrol", json={"site": SITE, "token": token})
    assert again.status_code == 403
    assert again.json["error"]["code"] == "enrolment_refused"
    wrong = client.post("/api/v1/enrol", json={"site": SITE, "token": "hubenrol_nope"})
    assert wrong.status_code == 403


def test_deeply_nested_json_is_a_400_not_a_500(client, credential):
    deep = "[" * 100_000 + "]" * 100_000
    for path, headers in (("/api/v1/enrol", {}), ("/api/v1/checkins", _auth(credential)),
                          ("/api/v1/trust", _auth(credential))):
        response = client.post(path, data=deep, content_type="application/json",
                               headers=headers)
        assert response.status_code == 400, (path, response.data[:200])
        assert response.json["error"]["code"] == "bad_request"


def test_checkins_need_a_credential_and_are_idempotent(client, credential, hub_pool):
    batch = {"checkins": [checkin(n) for n in range(1, 51)]}
    assert client.post("/api/v1/checkins", json=batch).status_code == 401
    bad = client.post("/api/v1/checkins", json=batch, headers=_auth("hubsite_unknown"))
    assert bad.status_code == 401 and bad.json["error"]["code"] == "unauthorized"
    first = client.post("/api/v1/checkins", json=batch, headers=_auth(credential))
    assert first.json == {"accepted": 50, "duplicates": 0}
    retry = client.post("/api/v1/checkins", json=batch, headers=_auth(credential))
    assert retry.json == {"accepted": 0, "duplicates": 50}
    named = client.post("/api/v1/checkins", headers=_auth(credential),
                        json={"checkins": [{**checkin(60), "names": "Ada"}]})
    assert named.status_code == 400 and "names" in named.json["error"]["message"]
    too_many = client.post("/api/v1/checkins", headers=_auth(credential),
                           json={"checkins": [checkin(n) for n in range(5001)]})
    assert too_many.status_code == 400 and "5000" in too_many.json["error"]["message"]


def test_trust_upload_only_for_own_institution(client, credential):
    foreign = client.post("/api/v1/trust", headers=_auth(credential),
                          json={"keys": [issuer_key(OTHER)], "revocations": []})
    assert foreign.status_code == 403 and foreign.json["error"]["code"] == "forbidden"
    own = client.post("/api/v1/trust", headers=_auth(credential),
                      json={"keys": [issuer_key(SITE)], "revocations": []})
    assert own.json == {"keys_accepted": 1, "revocations_accepted": 0}
    assert client.post("/api/v1/trust", json={"keys": []}).status_code == 401


def _login(client, hub_pool, username: str = "alice") -> str:
    users.create_admin(hub_pool, username, PASSWORD)
    client.get("/login")
    with client.session_transaction() as session:
        token = session["csrf_token"]
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302
    with client.session_transaction() as session:
        return session["csrf_token"]


@pytest.mark.parametrize("path", ["/admin", "/admin/reports"])
def test_admin_pages_need_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_sessions_end_when_idle_and_the_cookie_is_secure_over_https(hub_app, hub_pool):
    """The kiosk's session rules hold on the hub's pages: IDLE_MINUTES unused signs an admin
    out; the cookie is HttpOnly, SameSite=Lax, and Secure when the request came over HTTPS."""
    now = [datetime(2026, 6, 15, 12, 0, tzinfo=UTC)]
    hub_app.config.update(CLOCK=lambda: now[0], IDLE_MINUTES=30)
    client = hub_app.test_client()
    _login(client, hub_pool)
    assert client.get("/admin").status_code == 200
    now[0] += timedelta(minutes=29)
    assert client.get("/admin").status_code == 200  # a use restarts the count
    now[0] += timedelta(minutes=31)
    response = client.get("/admin")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    secure = hub_app.test_client()
    secure.get("/login", base_url="https://hub.example")
    cookie = secure.get_cookie("session", domain="hub.example")
    assert cookie is not None and cookie.secure and cookie.http_only
    assert cookie.same_site == "Lax"


def test_forms_need_the_csrf_token(client, hub_pool):
    _login(client, hub_pool)
    refused = client.post("/admin/sites", data={"site": SITE})
    assert refused.status_code == 400
    assert sites.list_sites(hub_pool) == []
    users.create_admin(hub_pool, "bob", PASSWORD)
    fresh = client.application.test_client()
    assert fresh.post("/login", data={"username": "bob", "password": PASSWORD}
                      ).status_code == 400


def test_upload_review_publish_and_add_a_site_on_the_pages(client, hub_pool, shipped_csv):
    csrf = _login(client, hub_pool)
    with shipped_csv.open("rb") as handle:
        uploaded = client.post("/admin/lists", data={"csrf_token": csrf, "program": "astc",
                                                     "file": (handle, "institutions.csv")})
    assert uploaded.status_code == 302
    review = client.get(uploaded.headers["Location"])
    assert b"368 institutions" in review.data and b"368 added" in review.data
    published = client.post(uploaded.headers["Location"] + "/publish",
                            data={"csrf_token": csrf}, follow_redirects=True)
    assert b"Published astc list version 1" in published.data
    added = client.post("/admin/sites", data={"csrf_token": csrf, "site": SITE})
    token = re.search(rb'<code id="token">([^<]+)</code>', added.data).group(1).decode()
    assert sites.enrol(hub_pool, SITE, token)["site"] == SITE


def test_reports_page_and_csv(client, credential, hub_pool):
    client.post("/api/v1/checkins", headers=_auth(credential),
                json={"checkins": [checkin(1), checkin(2, admit=False)]})
    _login(client, hub_pool)
    page = client.get("/admin/reports?by=home")
    assert page.status_code == 200 and OTHER.encode() in page.data
    csv_ = client.get("/admin/reports?by=reason&format=csv")
    assert csv_.mimetype == "text/csv"
    assert csv_.data.decode().splitlines() == [
        "reason,admitted,people_free,people_paying,denied", "ELIGIBLE,1,3,0,0",
        "HOME_WITHIN_RADIUS,0,0,0,1"]
    assert client.get("/admin/reports?by=weekday").status_code == 400


def test_a_list_without_an_enrolled_site_needs_a_confirmation(client, hub_pool, shipped_csv,
                                                              tmp_path):
    """As a site's own import: the hub's list that leaves out an enrolled site is refused
    until an admin confirms it (the page's box; `hub import --allow-site-removal`)."""
    lists.import_file(hub_pool, shipped_csv)
    token = sites.add_site(hub_pool, SITE)["token"]
    sites.enrol(hub_pool, SITE, token)
    rows = shipped_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    without = tmp_path / "without.csv"
    without.write_text("".join(r for r in rows if not r.startswith(f"{SITE},")))
    with pytest.raises(lists.SitesRemoved, match=SITE):
        lists.import_file(hub_pool, without)
    assert lists.versions(hub_pool)[0]["version"] == 1  # nothing published
    dry = lists.import_file(hub_pool, without, dry_run=True)
    assert any(SITE in w for w in dry["warnings"])

    csrf = _login(client, hub_pool)
    with without.open("rb") as handle:
        uploaded = client.post("/admin/lists", data={"csrf_token": csrf, "program": "astc",
                                                     "file": (handle, "without.csv")})
    review = client.get(uploaded.headers["Location"])
    assert b'name="allow_site_removal"' in review.data
    refused = client.post(uploaded.headers["Location"] + "/publish",
                          data={"csrf_token": csrf}, follow_redirects=True)
    assert SITE.encode() in refused.data and lists.versions(hub_pool)[0]["version"] == 1
    confirmed = client.post(uploaded.headers["Location"] + "/publish",
                            data={"csrf_token": csrf, "allow_site_removal": "1"},
                            follow_redirects=True)
    assert b"Published astc list version 2" in confirmed.data
