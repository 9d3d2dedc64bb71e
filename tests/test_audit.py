"""The audit log (passport/audit.py): a row for each action kind, from the command line
(actor ``cli:<OS user>``) and from the admin console (the signed-in admin); no secrets and no
names in it; `passport audit`; the admin Activity page (local time to the minute, filters,
paging, CSV)."""

from __future__ import annotations

import csv
import getpass
import io
import json
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest

from passport import audit, auth, cards, institutions, keys, ownsite, trust

EXPLORATORIUM = "exploratorium-san-francisco"
OMSI = "oregon-museum-of-science-and-industry-portland"
CLI_ACTOR = f"cli:{getpass.getuser()}"
PASSWORD = "a long enough password"


def rows(db, action: str | None = None) -> list[dict]:
    return audit.entries(db, audit.Filters(action=action), limit=None)


def actions(db) -> list[tuple[str, str, str | None]]:
    """(actor, action, subject), oldest first."""
    return [(r["actor"], r["action"], r["subject"]) for r in reversed(rows(db))]


def everything_logged(db) -> str:
    return json.dumps(db.execute("SELECT * FROM audit_log").fetchall())


# --------------------------------------------------------------------------- the module

def test_record_and_read(db):
    at = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)
    first = audit.record(db, "alice", "list.published", "3", {"rows": 5}, now=at)
    audit.record(db, None, "key.created", "abc", now=at + timedelta(minutes=1))
    assert [(r["id"], r["actor"], r["action"]) for r in rows(db)] == [
        (first + 1, "unknown", "key.created"), (first, "alice", "list.published")]
    assert rows(db, "list.published")[0] == {
        "id": first, "at": "2026-06-15T19:00:00.000000+00:00", "actor": "alice",
        "action": "list.published", "subject": "3", "details": {"rows": 5},
        "what": "published a participant list"}
    assert audit.facets(db) == {"action": ["key.created", "list.published"],
                                "actor": ["alice", "unknown"]}


def test_secrets_and_names_are_dropped(db):
    audit.record(db, "alice", "user.created", "bob",
                 {"role": "desk", "password": "hunter2 hunter2", "token": "ppt_x",
                  "names": ["Ada Lovelace"]})
    assert rows(db)[0]["details"] == {"role": "desk"}
    assert "hunter2" not in everything_logged(db) and "Ada" not in everything_logged(db)


@pytest.mark.parametrize("action", ["", "published", "List.published", "list.", "a.b.c"])
def test_action_names_are_checked(db, action):
    with pytest.raises(audit.AuditError, match="area.verb"):
        audit.record(db, "alice", action, None)


def test_the_audit_log_is_append_only(db):
    audit.record(db, "alice", "site.changed", "x")
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(statement)


def test_filters_are_local_days(db):
    los_angeles = "America/Los_Angeles"
    from zoneinfo import ZoneInfo
    zone = ZoneInfo(los_angeles)
    audit.record(db, "a", "site.changed", "late", now=datetime(2026, 1, 15, 23, 59, tzinfo=zone))
    audit.record(db, "b", "site.changed", "early", now=datetime(2026, 1, 16, 0, 1, tzinfo=zone))
    day = audit.Filters(from_day=date(2026, 1, 16), to_day=date(2026, 1, 16))
    assert [r["subject"] for r in audit.entries(db, day, zone=zone)] == ["early"]
    assert [r["subject"] for r in audit.entries(db, day)] == ["early", "late"]  # UTC days
    assert audit.count(db, audit.Filters(actor="a")) == 1
    with pytest.raises(audit.AuditError, match="after"):
        audit.entries(db, audit.Filters(from_day=date(2026, 2, 1), to_day=date(2026, 1, 1)))
    with pytest.raises(audit.AuditError, match="limit"):
        audit.entries(db, limit=0)


def test_csv_export_is_inert(db):
    audit.record(db, "=cmd|' /C calc'!A0", "site.changed", "+1",
                 now=datetime(2026, 6, 15, 19, 0, tzinfo=UTC))
    text = audit.to_csv(rows(db), None)
    lines = list(csv.reader(io.StringIO(text, newline="")))
    assert lines[0] == ["id", "at", "local_time", "actor", "action", "subject", "details"]
    assert lines[1][2:6] == ["2026-06-15 19:00 UTC", "'=cmd|' /C calc'!A0", "site.changed",
                             "'+1"]


# --------------------------------------------------------------------------- from the command line

@pytest.fixture
def listed(db, cli, shipped_csv):
    cli("import", shipped_csv)
    return db


def test_cli_lists_keys_cards_trust(cli, listed, shipped_csv, tmp_path):
    cli("import", shipped_csv)                      # identical: still a new version
    cli("rollback", "1")
    cli("keys", "create", "--institution", OMSI)
    first_key = keys.list_keys(listed, OMSI)[0]["key_id"]
    cli("keys", "rotate", "--institution", OMSI)
    cli("keys", "retire", first_key)
    second_key = next(k["key_id"] for k in keys.list_keys(listed, OMSI) if k["key_id"] != first_key)
    cli("card", "issue", "--institution", OMSI, "--member", "M-7", "--names", "Ada Lovelace",
        "--expires", "2099-01-01")
    cli("cards", "revoke", "--institution", OMSI, "--member", "M-7")
    cli("trust", "export", tmp_path / "trust.json")
    cli("trust", "import", tmp_path / "trust.json")
    cli("keys", "revoke", second_key)
    assert actions(listed) == [
        (CLI_ACTOR, "list.published", "1"), (CLI_ACTOR, "list.published", "2"),
        (CLI_ACTOR, "list.rolled_back", "1"), (CLI_ACTOR, "key.created", first_key),
        (CLI_ACTOR, "key.rotated", second_key), (CLI_ACTOR, "key.retired", first_key),
        (CLI_ACTOR, "card.issued", f"{OMSI}/M-7"), (CLI_ACTOR, "card.revoked", f"{OMSI}/M-7"),
        (CLI_ACTOR, "trust.imported", None), (CLI_ACTOR, "key.revoked", second_key)]
    rollback = rows(listed, "list.rolled_back")[0]["details"]
    assert rollback == {"profile": "astc", "previous_version": 2, "own_site_removed": None}
    issued = rows(listed, "card.issued")[0]["details"]
    assert issued["member_id"] == "M-7" and issued["key_id"] == second_key
    assert "Ada" not in everything_logged(listed)


def test_cli_users_and_tokens(cli, db):
    from click.testing import CliRunner

    from passport.cli import main

    created = CliRunner().invoke(main, ["admin", "create", "bob", "--role", "desk",
                                        "--password-stdin"], input=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    token = json.loads(cli("token", "create", "ticketing", "--json").stdout)
    cli("token", "revoke", token["id"])
    assert actions(db) == [(CLI_ACTOR, "user.created", "bob"),
                           (CLI_ACTOR, "token.created", str(token["id"])),
                           (CLI_ACTOR, "token.revoked", str(token["id"]))]
    assert rows(db, "token.created")[0]["details"] == {
        "token_name": "ticketing", "scopes": ["check", "checkins:read", "checkins:write",
                                              "reports:read"]}
    logged = everything_logged(db)
    assert token["token"] not in logged and PASSWORD not in logged


def test_the_actor_option_names_who_published(cli, db, shipped_csv):
    cli("import", shipped_csv, "--actor", "program-office")
    assert actions(db) == [("program-office", "list.published", "1")]


def test_cli_audit_command(cli, listed):
    ownsite.set_own_site(listed, EXPLORATORIUM, actor="alice")
    text = cli("audit").stdout.splitlines()
    assert text[0].endswith("alice  site.changed exploratorium-san-francisco  "
                            "(to=exploratorium-san-francisco)")
    assert " PST  " in text[0] or " PDT  " in text[0]  # the site's local time
    assert text[1].endswith(f"{CLI_ACTOR}  list.published 1  (profile=astc, rows=368, "
                            "source_name=institutions.csv)")
    body = json.loads(cli("audit", "--json", "--action", "list.published").stdout)
    assert body["time_zone"] == "America/Los_Angeles"
    assert [e["subject"] for e in body["entries"]] == ["1"]
    assert len(json.loads(cli("audit", "--json", "--limit", "1").stdout)["entries"]) == 1
    cli("audit", "--from", "yesterday", error="'--from' must be a date YYYY-MM-DD")
    assert cli("audit", "--actor", "nobody").stdout.strip() == "No entries."


# --------------------------------------------------------------------------- from the admin console

@pytest.fixture
def admin_client(kiosk_client, kiosk_login, db, shipped_csv):
    institutions.import_file(db, shipped_csv, actor="setup")
    kiosk_client.csrf = kiosk_login(kiosk_client, "root", "admin")
    return kiosk_client


def post(client, path, **data):
    return client.post(path, data={"csrf_token": client.csrf, **data})


def lock(kiosk_app, username: str, address: str, failures: int) -> None:
    from kiosk.auth import THROTTLE_KEY

    for _ in range(failures):
        kiosk_app.extensions[THROTTLE_KEY].record_failure(username, address)


def test_admin_actions_are_audited_as_the_admin(admin_client, db, shipped_csv, kiosk_app):
    post(admin_client, "/admin/site", site=EXPLORATORIUM)
    post(admin_client, "/admin/users", username="carol", password=PASSWORD, role="desk")
    post(admin_client, "/admin/users/password", username="carol", new_password=PASSWORD + "!",
         new_password_repeat=PASSWORD + "!")
    post(admin_client, "/admin/users/carol/disable")
    post(admin_client, "/admin/users/carol/enable")
    token_page = post(admin_client, "/admin/tokens", name="ticketing",
                      scope="check").get_data(as_text=True)
    token_id = str(auth.list_tokens(db)[0]["id"])
    post(admin_client, f"/admin/tokens/{token_id}/revoke")
    lock(kiosk_app, "carol", "10.0.0.9", 5)
    post(admin_client, "/admin/users/carol/unlock")
    lock(kiosk_app, "someone", "10.0.0.8", 50)
    post(admin_client, "/admin/addresses/unlock", address="10.0.0.8")
    upload = admin_client.post("/admin/lists/upload", data={
        "csrf_token": admin_client.csrf, "file": (shipped_csv.open("rb"), "list.csv")},
        content_type="multipart/form-data")
    token = upload.get_data(as_text=True).split('name="token" value="')[1].split('"')[0]
    post(admin_client, "/admin/lists/publish", token=token)
    post(admin_client, "/admin/lists/1/rollback", confirm="yes")
    assert [a for a in actions(db) if a[0] == "root"] == [
        ("root", "site.changed", EXPLORATORIUM), ("root", "user.created", "carol"),
        ("root", "user.password_changed", "carol"), ("root", "user.disabled", "carol"),
        ("root", "user.enabled", "carol"), ("root", "token.created", token_id),
        ("root", "token.revoked", token_id), ("root", "signin.unlocked", "carol"),
        ("root", "signin.unlocked", "10.0.0.8"),
        ("root", "list.published", "2"), ("root", "list.rolled_back", "1")]
    assert rows(db, "user.password_changed")[0]["details"] == {"own": False}
    assert rows(db, "site.changed")[0]["details"] == {"from": None, "to": EXPLORATORIUM}
    logged = everything_logged(db)
    assert PASSWORD not in logged and "ppt_" not in logged and "ppt_" in token_page


def test_own_password_change_is_audited(kiosk_client, kiosk_login, db):
    from conftest import KIOSK_TEST_PASSWORD

    kiosk_client.csrf = kiosk_login(kiosk_client, "desk1", "desk")
    new = "another long password"
    response = post(kiosk_client, "/account", current_password=KIOSK_TEST_PASSWORD,
                    new_password=new, new_password_repeat=new)
    assert response.status_code == 302
    entry = rows(db, "user.password_changed")[0]
    assert (entry["actor"], entry["subject"], entry["details"]) == ("desk1", "desk1",
                                                                    {"own": True})
    assert new not in everything_logged(db)


def test_domain_calls_without_an_actor_are_still_audited(db):
    keys.create_key(db, OMSI)
    payload = cards.issue(db, OMSI, "M-1", ["Ada Lovelace"], date(2099, 1, 1))
    assert cards.decode(payload).member_id == "M-1"
    trust.revoke_card(db, OMSI, "M-1", "lost card")
    assert [(r["actor"], r["action"]) for r in rows(db)] == [
        ("unknown", "card.revoked"), ("unknown", "key.created")]
    assert "lost card" not in everything_logged(db)  # free text stays in the revocation


# --------------------------------------------------------------------------- the Activity page

@pytest.fixture
def activity(admin_client, db, kiosk_app):
    """An admin at the Exploratorium (Los Angeles) and 120 entries to page through."""
    from kiosk.site import set_kiosk_site

    with kiosk_app.app_context():
        set_kiosk_site(EXPLORATORIUM, actor="root")
    start = datetime(2026, 6, 15, 19, 0, tzinfo=UTC)  # noon in Los Angeles (PDT)
    for n in range(120):
        audit.record(db, "alice" if n % 2 else "bob", "key.created" if n % 3 else
                     "token.revoked", f"s{n}", {"n": n}, now=start + timedelta(hours=n))
    return admin_client


def test_activity_page(activity):
    page = activity.get("/admin/activity").get_data(as_text=True)
    assert "local time in America/Los_Angeles" in page
    assert "123 entries; page 1 of 3." in page  # 120 + set-up: list, user, site
    assert page.count("<tr data-action=") == 50
    newest = "2026-06-20 11:00 PDT"  # entry 119: 19:00 UTC + 119 h = 18:00 UTC
    assert page.index(newest) < page.index("2026-06-20 10:00 PDT")
    assert "created an issuer key <span class=\"muted\">(key.created)</span>" in page
    assert "n=119" in page and 'rel="next"' in page and 'rel="prev"' not in page
    last = activity.get("/admin/activity?page=3").get_data(as_text=True)
    assert last.count("<tr data-action=") == 23 and 'rel="prev"' in last


def test_activity_filters(activity):
    page = activity.get("/admin/activity?action=token.revoked&actor=bob").get_data(as_text=True)
    assert "20 entries." in page  # n % 3 == 0 and even: 0, 6, ..., 114
    assert page.count('<tr data-action="token.revoked">') == 20
    # 2026-06-16 in Los Angeles: 07:00 UTC on the 16th to 07:00 UTC on the 17th
    day = activity.get("/admin/activity?from=2026-06-16&to=2026-06-16&actor=alice")
    assert "12 entries." in day.get_data(as_text=True)
    bad = activity.get("/admin/activity?from=2026-06-31")
    assert bad.status_code == 400 and "must be a date" in bad.get_data(as_text=True)


def test_activity_csv(activity):
    response = activity.get("/admin/activity/activity.csv?action=key.created&actor=alice")
    assert response.mimetype == "text/csv"
    assert 'filename="activity.csv"' in response.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))
    assert lines[0] == ["id", "at", "local_time", "actor", "action", "subject", "details"]
    assert len(lines) == 1 + 40  # odd n not divisible by 3
    assert lines[1][2:6] == ["2026-06-20 11:00 PDT", "alice", "key.created", "s119"]
    assert json.loads(lines[1][6]) == {"n": 119}


def test_activity_is_for_admins(kiosk_client, kiosk_login):
    kiosk_login(kiosk_client, "desk1", "desk")
    assert kiosk_client.get("/admin/activity").status_code == 403
    assert kiosk_client.get("/admin/activity/activity.csv").status_code == 403
