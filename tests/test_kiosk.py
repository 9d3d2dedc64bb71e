"""The kiosk app: config, sessions, roles, CSRF on every form, pages needing sign-in."""

import os
import stat

import pytest

from kiosk import create_app
from passport import auth

PAGES_FOR_STAFF = ["/desk", "/admin"]


def test_config_layers(db_path, tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text("SITE = 'from-instance'\nUNDO_WINDOW_SECONDS = 60\n")
    app = create_app({"TESTING": True})
    assert app.config["SITE"] == "from-instance" and app.config["UNDO_WINDOW_SECONDS"] == 60
    assert app.config["DB"] == str(db_path)
    monkeypatch.setenv("PASSPORT_SITE", "from-env")
    assert create_app().config["SITE"] == "from-env"
    assert create_app({"SITE": "from-test"}).config["SITE"] == "from-test"


def test_secret_key_generated_in_instance_file(db_path, tmp_path, monkeypatch):
    monkeypatch.delenv("PASSPORT_SECRET_KEY", raising=False)
    first = create_app().config["SECRET_KEY"]
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(first) >= 32 and create_app().config["SECRET_KEY"] == first
    monkeypatch.setenv("PASSPORT_SECRET_KEY", "from-the-environment-" + "x" * 20)
    assert create_app().config["SECRET_KEY"].startswith("from-the-environment-")


@pytest.mark.parametrize("path", PAGES_FOR_STAFF)
def test_staff_pages_need_login(kiosk_client, path):
    response = kiosk_client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/login?next={path}")


def test_public_pages(kiosk_client):
    assert kiosk_client.get("/login").status_code == 200
    assert kiosk_client.get("/card").status_code == 200
    assert kiosk_client.get("/").status_code == 200  # the member planner


def test_login_logout(kiosk_client, kiosk_login):
    token = kiosk_login(kiosk_client)
    assert kiosk_client.get("/").headers["Location"] == "/desk"
    assert kiosk_client.get("/desk").status_code == 200
    # logout is a POST with the CSRF token
    assert kiosk_client.post("/logout").status_code == 400
    assert kiosk_client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert kiosk_client.get("/desk").status_code == 302


def test_wrong_password(kiosk_client, db):
    auth.create_user(db, "alice", "long enough pw")
    kiosk_client.get("/login")
    with kiosk_client.session_transaction() as session:
        token = session["csrf_token"]
    response = kiosk_client.post(
        "/login", data={"username": "alice", "password": "nope nope", "csrf_token": token}
    )
    assert response.status_code == 401 and b"Wrong username or password" in response.data


def test_login_rejects_missing_or_wrong_csrf(kiosk_client, db):
    auth.create_user(db, "alice", "long enough pw")
    kiosk_client.get("/login")
    data = {"username": "alice", "password": "long enough pw"}
    assert kiosk_client.post("/login", data=data).status_code == 400
    assert kiosk_client.post("/login", data={**data, "csrf_token": "forged"}).status_code == 400


def test_login_next_stays_on_site(kiosk_client, kiosk_login, db):
    auth.create_user(db, "alice", "long enough pw")
    kiosk_client.get("/login")
    with kiosk_client.session_transaction() as session:
        token = session["csrf_token"]
    response = kiosk_client.post(
        "/login?next=//evil.example/x",
        data={"username": "alice", "password": "long enough pw", "csrf_token": token},
    )
    assert response.headers["Location"] == "/desk"


def test_disabled_user_is_signed_out(kiosk_client, kiosk_login, db):
    kiosk_login(kiosk_client, "desk1")
    auth.create_user(db, "root", "long enough pw", role="admin")
    auth.set_disabled(db, "desk1", True)
    assert kiosk_client.get("/desk").status_code == 302


def test_desk_role_cannot_open_admin(kiosk_client, kiosk_login):
    kiosk_login(kiosk_client, "desk1", "desk")
    assert kiosk_client.get("/admin").status_code == 403


ADMIN_FORMS = [
    ("/admin/site", {"site": ""}),
    ("/admin/users", {"username": "x1", "password": "long enough pw", "role": "desk"}),
    ("/admin/users/desk1/disable", {}),
    ("/admin/users/password", {"username": "desk1", "new_password": "a new long password",
                               "new_password_repeat": "a new long password"}),
    ("/admin/tokens", {"name": "t"}),
    ("/admin/tokens/1/revoke", {}),
    ("/admin/lists/publish", {"token": "0" * 32}),
    ("/admin/lists/1/rollback", {}),
    ("/admin/lists/upload", {}),
    ("/admin/users/desk1/unlock", {}),
    ("/admin/addresses/unlock", {"address": "192.0.2.1"}),
    ("/desk/undo", {}),
    ("/desk/decode", {}),
    ("/logout", {}),
    ("/account", {"current_password": "correct horse battery",
                  "new_password": "a new long password",
                  "new_password_repeat": "a new long password"}),
]


@pytest.mark.parametrize(("path", "data"), ADMIN_FORMS)
def test_every_form_rejects_missing_csrf(kiosk_client, kiosk_login, path, data):
    kiosk_login(kiosk_client, "root", "admin")
    response = kiosk_client.post(path, data=data)
    assert response.status_code == 400 and b"CSRF" in response.data


@pytest.mark.parametrize(("path", "data"), ADMIN_FORMS[:11])
def test_admin_forms_need_admin(kiosk_client, kiosk_login, path, data):
    token = kiosk_login(kiosk_client, "desk1", "desk")
    assert kiosk_client.post(path, data={**data, "csrf_token": token}).status_code == 403


def test_admin_users_and_tokens(kiosk_client, kiosk_login, db):
    token = kiosk_login(kiosk_client, "root", "admin")
    page = kiosk_client.get("/admin")
    assert page.status_code == 200 and b"Staff users" in page.data
    response = kiosk_client.post(
        "/admin/users",
        data={"username": "desk2", "password": "long enough pw", "role": "desk",
              "csrf_token": token},
        follow_redirects=True,
    )
    assert b"User desk2 created" in response.data
    assert auth.get_user(db, "desk2").role == "desk"
    response = kiosk_client.post(
        "/admin/users/desk2/disable", data={"csrf_token": token}, follow_redirects=True
    )
    assert auth.get_user(db, "desk2").disabled
    response = kiosk_client.post("/admin/tokens", data={"name": "ticketing", "csrf_token": token,
                                                        "scope": ["check", "reports:read"]})
    assert response.status_code == 200
    value = response.data.split(b'id="new-token" class="token">')[1].split(b"<")[0].decode()
    assert auth.verify_token(db, value).name == "ticketing"
    token_id = auth.list_tokens(db)[0]["id"]
    kiosk_client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert auth.verify_token(db, value) is None
    # an admin cannot disable themself
    assert kiosk_client.post("/admin/users/root/disable",
                             data={"csrf_token": token}).status_code == 400


def test_healthz_waits_for_warm_up(kiosk_client):
    response = kiosk_client.get("/healthz")
    assert response.status_code == 503 and response.json["status"] == "starting"


# Every route, signed out: (method, path, status). Staff pages redirect to /login; unsafe
# requests without a CSRF token are refused before anything else; the API answers 401.
SIGNED_OUT = {
    "static": ("GET", "/static/kiosk.css", 200),
    "index": ("GET", "/", 200),  # the member planner (staff: a redirect to the desk)
    "auth.login": ("GET", "/login", 200),
    "auth.logout": ("POST", "/logout", 400),
    "auth.account": ("GET", "/account", 302),
    "desk.desk": ("GET", "/desk", 302),
    "desk.today": ("GET", "/desk/today", 302),
    "desk.undo": ("POST", "/desk/undo", 400),
    "desk.decode": ("POST", "/desk/decode", 400),
    "member.eligible": ("GET", "/eligible", 302),  # to the planner, same query
    "planner.planner_page": ("GET", "/plan", 200),
    "member.card": ("GET", "/card", 200),
    "admin.index": ("GET", "/admin", 302),
    "admin.set_site": ("POST", "/admin/site", 400),
    "admin.upload_list": ("POST", "/admin/lists/upload", 400),
    "admin.publish_list": ("POST", "/admin/lists/publish", 400),
    "admin.rollback_list": ("POST", "/admin/lists/1/rollback", 400),
    "admin.review_rollback": ("GET", "/admin/lists/1/rollback", 302),
    "admin.unlock_user": ("POST", "/admin/users/x/unlock", 400),
    "admin.unlock_address": ("POST", "/admin/addresses/unlock", 400),
    "admin.create_user": ("POST", "/admin/users", 400),
    "admin.toggle_user": ("POST", "/admin/users/x/disable", 400),
    "admin.reset_password": ("POST", "/admin/users/password", 400),
    "admin.create_token": ("POST", "/admin/tokens", 400),
    "admin.revoke_token": ("POST", "/admin/tokens/1/revoke", 400),
    "membercards.index": ("GET", "/admin/cards", 302),
    "membercards.check": ("POST", "/admin/cards/check", 400),
    "membercards.issue": ("POST", "/admin/cards/issue", 400),
    "membercards.run": ("GET", "/admin/cards/runs/x", 302),
    "membercards.run_status": ("GET", "/admin/cards/runs/x/status", 302),
    "membercards.download": ("GET", "/admin/cards/runs/x/files/cards.csv", 302),
    "reports.index": ("GET", "/admin/reports", 302),
    "reports.download": ("GET", "/admin/reports/visits.csv", 302),
    "activity.index": ("GET", "/admin/activity", 302),
    "activity.export": ("GET", "/admin/activity/activity.csv", 302),
    "network.index": ("GET", "/admin/network", 302),  # a site of a program network
    "network.enrol": ("POST", "/admin/network/enrol", 400),
    "network.sync_now": ("POST", "/admin/network/sync", 400),
    "network.import_bundle": ("POST", "/admin/network/bundle", 400),
    "network.export_bundle": ("GET", "/admin/network/bundle.json", 302),
    "programs.index": ("GET", "/admin/programs", 302),
    "programs.add": ("POST", "/admin/programs", 400),
    "crosswalk.index": ("GET", "/admin/crosswalk", 302),
    "crosswalk.suggest": ("POST", "/admin/crosswalk/suggest", 400),
    "crosswalk.decide": ("POST", "/admin/crosswalk/decide", 400),
    "backups.download": ("POST", "/admin/backup", 400),
    "api.check": ("POST", "/api/v1/check", 401),
    "api.create_checkin": ("POST", "/api/v1/checkins", 401),
    "api.list_checkins": ("GET", "/api/v1/checkins", 401),
    "api.undo_checkin": ("POST", "/api/v1/checkins/1/undo", 401),
    "api.eligible": ("GET", "/api/v1/eligible", 401),
    "api.institutions_search": ("GET", "/api/v1/institutions", 401),
    "api.report_visits": ("GET", "/api/v1/reports/visits", 401),
    "public.places_search": ("GET", "/api/v1/places", 200),  # public: the town typeahead
    "public.plan": ("GET", "/api/v1/plan", 400),  # public: 'home' is required
    "public.plan_geojson": ("GET", "/api/v1/plan.geojson", 400),
    "public.sites_search": ("GET", "/api/v1/sites", 503),  # public: no list yet
    "public.programs_list": ("GET", "/api/v1/programs", 200),  # public: the programs' rules
    "health.healthz": ("GET", "/healthz", 503),
    "health.favicon": ("GET", "/favicon.ico", 200),
    "pwa.service_worker": ("GET", "/sw.js", 200),  # the phone card offline (kiosk/pwa.py)
    "pwa.manifest": ("GET", "/manifest.webmanifest", 200),
}


def test_every_route_is_listed(kiosk_app):
    assert {rule.endpoint for rule in kiosk_app.url_map.iter_rules()} == set(SIGNED_OUT)


@pytest.mark.parametrize("endpoint", sorted(SIGNED_OUT))
def test_every_route_signed_out(kiosk_client, endpoint):
    method, path, status = SIGNED_OUT[endpoint]
    with kiosk_client.open(path, method=method) as response:  # closes the static file
        assert response.status_code == status, response.data[:300]
        if status == 302 and endpoint != "member.eligible":
            assert response.headers["Location"].startswith("/login?next=")
        if path.startswith("/api/") and status == 401:
            assert response.json["error"]["code"] == "unauthorized"
