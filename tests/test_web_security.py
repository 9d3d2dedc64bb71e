"""Web security of the kiosk app (kiosk/headers.py, kiosk/security.py): the
Content-Security-Policy and other headers on every response, no inline script or style in
any template, the session cookie's attributes, and the idle sign-out of staff sessions on the
app's settable clock."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlite_utils

import kiosk
import passport
from kiosk import create_app, headers
from passport import cards, keys, qr, store

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIRS = (Path(kiosk.__file__).parent / "templates",
                 Path(passport.__file__).parent / "templates")
REQUIRED_DIRECTIVES = {
    "default-src": "'self'", "script-src": "'self'", "style-src": "'self'",
    "object-src": "'none'", "base-uri": "'none'", "form-action": "'self'",
    "frame-ancestors": "'none'", "img-src": "'self' data:",
}


def directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: " ".join(part.split()[1:])
            for part in (p.strip() for p in policy.split(";")) if part}


@pytest.fixture
def app30(db_path, kiosk_clock):
    """The app at the default idle timeout (the shared kiosk_app keeps sessions a year)."""
    return create_app({"TESTING": True, "DB": str(db_path), "SECRET_KEY": "test-only-secret",
                       "CLOCK": kiosk_clock})


# One of each kind of answer: page, redirect, static file, JSON, API error, 404, 405.
RESPONSES = [
    ("GET", "/plan", 200), ("GET", "/desk", 302), ("GET", "/static/kiosk.css", 200),
    ("GET", "/healthz", 503), ("GET", "/api/v1/checkins", 401), ("GET", "/nowhere", 404),
    ("DELETE", "/desk", 405), ("GET", "/sw.js", 200),
]


@pytest.mark.parametrize(("method", "path", "status"), RESPONSES)
def test_every_response_carries_the_security_headers(kiosk_client, method, path, status):
    with kiosk_client.open(path, method=method) as response:
        assert response.status_code == status
        got = directives(response.headers["Content-Security-Policy"])
        assert got == REQUIRED_DIRECTIVES
        assert "unsafe" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_a_tile_server_is_allowed_for_images_only(db_path):
    app = create_app({"TESTING": True, "DB": str(db_path), "SECRET_KEY": "x",
                      "TILE_URL": "https://{s}.tiles.example.org/{z}/{x}/{y}.png"})
    response = app.test_client().get("/plan")
    got = directives(response.headers["Content-Security-Policy"])
    assert got["img-src"] == "'self' data: https://*.tiles.example.org"
    assert got["default-src"] == "'self'" and got["script-src"] == "'self'"


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "tiles/{z}/{x}/{y}.png",
                                 "ftp://tiles.example.org/{z}.png"])
def test_a_tile_url_that_is_no_http_url_fails_at_start(db_path, bad):
    with pytest.raises(ValueError, match="TILE_URL must be an http"):
        create_app({"DB": str(db_path), "SECRET_KEY": "x", "TILE_URL": bad})


def test_tile_origin():
    assert headers.tile_origin(None) is None
    assert headers.tile_origin("http://127.0.0.1:8080/t/{z}/{x}/{y}.png") == (
        "http://127.0.0.1:8080")


# Inline script (other than JSON data blocks), inline event handlers, style attributes and
# style elements: none in the kiosk's templates. The printable card's one style block is
# allowed by its hash (passport/qr.py) and checked in test_the_printable_card_has_its_own.
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I),
     "inline script"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"<style", re.I), "style element"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_template_has_inline_script_or_style():
    found = []
    for folder in TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            for pattern, what in INLINE:
                if path.name == "card.html" and what == "style element":
                    continue
                found += [f"{path.relative_to(ROOT)}: {what}: {m.group(0)!r}"
                          for m in pattern.finditer(text)]
    assert found == []


def test_the_printable_card_has_its_own_policy_allowing_only_its_style():
    page = printable_card()
    policy = html.unescape(
        re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)[1])
    style = re.search(r"<style>(.*?)</style>", page, re.S)[1]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert directives(policy) == {"default-src": "'none'", "style-src": f"'sha256-{digest}'",
                                  "base-uri": "'none'", "form-action": "'none'"}
    assert "<script" not in page and " style=" not in page
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in page


def printable_card() -> str:
    """passport.qr.card_html for a real signed card (a name holding markup)."""
    db = sqlite_utils.Database(memory=True)
    store.migrate(db)
    keys.create_key(db, "home-museum")
    payload = cards.issue(db, "home-museum", "M-1", ["Ada <b>Lovelace</b>"], date(2099, 1, 31))
    return qr.card_html(payload, cards.decode(payload), "Free general admission.")


# --------------------------------------------------------------------------- cookies

def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def sign_in(client, db, base_url: str = "http://localhost", **headers):
    from conftest import KIOSK_TEST_PASSWORD

    from passport import auth

    if auth.get_user(db, "desk1") is None:
        auth.create_user(db, "desk1", KIOSK_TEST_PASSWORD, role="desk")
    client.get("/login", base_url=base_url, headers=headers)
    with client.session_transaction() as session:
        token = session["csrf_token"]
    response = client.post("/login", base_url=base_url, headers=headers, data={
        "username": "desk1", "password": KIOSK_TEST_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.data
    return response


def test_session_cookie_is_httponly_and_lax_and_not_secure_over_http(app30, db):
    cookie = session_cookie(sign_in(app30.test_client(), db))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_when_the_request_came_over_https(app30, db):
    cookie = session_cookie(sign_in(app30.test_client(), db, base_url="https://localhost"))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_behind_a_trusted_proxy_forwarded_https_makes_the_cookie_secure(db_path, db):
    app = create_app({"TESTING": True, "DB": str(db_path), "SECRET_KEY": "x",
                      "PROXY_HOPS": 1})
    cookie = session_cookie(sign_in(app.test_client(), db, X_Forwarded_Proto="https"))
    assert "Secure" in cookie
    # Without a trusted proxy the same header is the client's word, and ignored.
    direct = create_app({"TESTING": True, "DB": str(db_path), "SECRET_KEY": "x"})
    assert "Secure" not in session_cookie(
        sign_in(direct.test_client(), db, X_Forwarded_Proto="https"))


def test_secure_cookies_from_the_environment(db_path, db, monkeypatch):
    monkeypatch.setenv("PASSPORT_SECURE_COOKIES", "1")
    app = create_app({"TESTING": True, "DB": str(db_path), "SECRET_KEY": "x"})
    assert "Secure" in session_cookie(sign_in(app.test_client(), db))


# --------------------------------------------------------------------------- idle timeout

def test_a_session_unused_for_longer_than_the_idle_time_must_sign_in_again(
        app30, db, kiosk_clock):
    client = app30.test_client()
    sign_in(client, db)
    kiosk_clock.now += timedelta(minutes=29)
    assert client.get("/desk").status_code == 200  # used: the idle time starts again
    kiosk_clock.now += timedelta(minutes=30)  # exactly the limit: still signed in
    assert client.get("/desk").status_code == 200
    kiosk_clock.now += timedelta(minutes=30, seconds=1)
    response = client.get("/desk")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    page = client.get(response.headers["Location"], follow_redirects=True)
    assert b"signed out after 30 minutes without use" in page.data
    assert client.get("/desk").status_code == 302  # and stays signed out


def test_the_api_answers_401_to_an_idle_session(app30, db, kiosk_clock):
    client = app30.test_client()
    sign_in(client, db)
    assert client.get("/api/v1/checkins").status_code == 200
    kiosk_clock.now += timedelta(minutes=31)
    response = client.get("/api/v1/checkins")
    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"


def test_a_form_posted_from_an_idle_page_is_sent_to_sign_in(app30, db, kiosk_clock):
    """Not a CSRF refusal: the stale page's token still matches, the session's user is gone."""
    client = app30.test_client()
    sign_in(client, db)
    with client.session_transaction() as session:
        token = session["csrf_token"]
    kiosk_clock.now += timedelta(hours=2)
    response = client.post("/account", data={"csrf_token": token, "current_password": "x",
                                             "new_password": "y", "new_password_repeat": "y"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_burst_of_requests_does_not_rewrite_the_cookie_each_time(app30, db, kiosk_clock):
    client = app30.test_client()
    sign_in(client, db)
    kiosk_clock.now += timedelta(seconds=20)
    assert not client.get("/desk").headers.getlist("Set-Cookie")
    kiosk_clock.now += timedelta(seconds=45)  # a minute since the last noted use
    assert session_cookie(client.get("/desk"))


def test_idle_minutes_from_the_environment(db_path, db, kiosk_clock, monkeypatch):
    monkeypatch.setenv("PASSPORT_IDLE_MINUTES", "5")
    app = create_app({"TESTING": True, "DB": str(db_path), "SECRET_KEY": "x",
                      "CLOCK": kiosk_clock})
    client = app.test_client()
    sign_in(client, db)
    kiosk_clock.now += timedelta(minutes=5, seconds=1)
    assert client.get("/desk").status_code == 302


@pytest.mark.parametrize("minutes", [0, -5])
def test_idle_minutes_must_be_positive(db_path, minutes):
    with pytest.raises(ValueError, match="IDLE_MINUTES must be more than 0"):
        create_app({"DB": str(db_path), "SECRET_KEY": "x", "IDLE_MINUTES": minutes})


@pytest.mark.parametrize(("target", "kept"), [
    ("/admin/reports?x=1", True), ("/desk", True), ("//evil.example/x", False),
    ("https://evil.example/", False), ("http:/admin", False), ("admin", False), ("", False),
])
def test_only_same_site_paths_are_followed_after_a_sign_in(target, kept):
    from kiosk.security import same_site_path

    assert (same_site_path(target) == target) is kept
    assert same_site_path(None) is None


def test_the_sign_in_page_never_sends_to_another_site(kiosk_client, kiosk_login):
    kiosk_login(kiosk_client)  # signed in: the form is skipped, ?next= still checked
    response = kiosk_client.get("/login?next=//evil.example/")
    assert response.status_code in (302, 303)
    assert "evil.example" not in response.headers["Location"]
