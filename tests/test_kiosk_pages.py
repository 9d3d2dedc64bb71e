"""Error pages in the app's layout (403, 404, 405, 500) while /api/ keeps its JSON error
shape, and /favicon.ico (issue 10)."""

from __future__ import annotations

import pytest

import kiosk

STYLESHEET = b'href="/static/kiosk.css"'


def test_desk_user_opening_admin_gets_a_page_saying_what_to_do(kiosk_client, kiosk_login):
    kiosk_login(kiosk_client, "desk1", "desk")
    response = kiosk_client.get("/admin")
    page = response.data.decode()
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert STYLESHEET.decode() in page and 'class="topbar"' in page  # the app's layout
    assert "This page is for admins." in page
    assert "You are signed in as <strong>desk1</strong> (desk)" in page
    assert 'href="/desk">Check cards at the Desk</a>' in page
    assert 'href="/account">Change your own password</a>' in page
    assert "ask an admin" in page


def test_a_missing_page_is_a_page_too(kiosk_client):
    response = kiosk_client.get("/no-such-page")
    page = response.data.decode()
    assert response.status_code == 404 and STYLESHEET.decode() in page
    assert "<h1>Page not found</h1>" in page and 'href="/">Where can I visit?</a>' in page
    assert 'href="/login">Staff sign in</a>' in page


def test_method_not_allowed_page_keeps_allow(kiosk_client):
    response = kiosk_client.delete("/login")
    assert response.status_code == 405 and STYLESHEET in response.data
    assert "POST" in response.headers["Allow"]


@pytest.fixture
def boom_app(db_path):
    app = kiosk.create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False,
                            "DB": str(db_path), "SECRET_KEY": "test-only-secret"})

    def boom():
        raise RuntimeError("secret internals")

    app.add_url_rule("/_boom", view_func=boom)
    app.add_url_rule("/api/v1/_boom", endpoint="api_boom", view_func=boom)
    return app


def test_server_error_page_in_the_layout_without_details(boom_app):
    client = boom_app.test_client()
    response = client.get("/_boom")
    page = response.data.decode()
    assert response.status_code == 500 and STYLESHEET.decode() in page
    assert "<h1>Something went wrong</h1>" in page and "tell an admin" in page
    assert "secret internals" not in page and "RuntimeError" not in page
    # the API's error shape is unchanged
    api = client.get("/api/v1/_boom")
    assert api.status_code == 500 and api.json == {
        "error": {"code": "internal_error", "message": "internal server error"}}


def test_api_errors_stay_json(kiosk_client):
    response = kiosk_client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    page_fetch = kiosk_client.get("/nothing", headers={"Accept": "application/json"})
    assert page_fetch.is_json  # the pages' own fetch calls still get JSON


def test_favicon(kiosk_client):
    with kiosk_client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype in {"image/vnd.microsoft.icon", "image/x-icon"}
        assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = kiosk_client.get("/login").data
    assert b'rel="icon" href="/static/favicon.svg"' in page
    with kiosk_client.get("/static/favicon.svg") as svg:
        assert svg.status_code == 200 and svg.data.startswith(b"<svg")
