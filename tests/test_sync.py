"""A site syncing with its hub (issue 14): enrolment, bundle download with ETag, the upward
trust list and check-in outbox (sent once, the mark moving only on acknowledgement, retried
without doubles), the offline bundle path, the desk's bundle age and the background sync.

The hub here is a small real HTTP server on the loopback that keeps the hub API's contract
(tests/test_sync_hub.py runs the same site against the real hub on PostgreSQL)."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bundlekit import CHECKED_AT, ISSUED_AT, make_bundle, new_hub_key, shipped_rows

from passport import bundle, keys, store, sync, trust

SITE = "exploratorium-san-francisco"
HOME = "oregon-museum-of-science-and-industry-portland"
TOKEN = "one-time-token"
CREDENTIAL = "site-credential-secret"


class ContractHub:
    """The hub API's contract, in memory: GET /api/v1/bundle (ETag, 304), POST enrol,
    checkins (idempotent by uid) and trust. ``fail_next`` makes the next POSTs to a path
    answer 500, ``store_then_fail`` stores the batch and then answers 500 (a lost answer)."""

    def __init__(self, key) -> None:
        self.key, self.bundle_data, self.etag = key, None, None
        self.checkins: dict[str, dict] = {}
        self.posts: list[tuple[str, dict]] = []
        self.trust_posts: list[dict] = []
        self.fail_next: dict[str, int] = {}
        self.store_then_fail = 0
        self.bundle_gets = []

    def publish(self, data: bytes) -> None:
        verified = bundle.verify(data, {self.key.key_id: self.key.raw}, CHECKED_AT)
        self.bundle_data, self.etag = data, verified.etag

    def handle(self, method: str, path: str, headers, body: bytes) -> tuple[int, dict, bytes]:
        if method == "GET" and path == "/api/v1/bundle":
            self.bundle_gets.append(headers.get("If-None-Match"))
            if headers.get("If-None-Match") == self.etag:
                return 304, {"ETag": self.etag}, b""
            return 200, {"ETag": self.etag, "Content-Type": "application/json"}, \
                self.bundle_data
        payload = json.loads(body or b"{}")
        if self.fail_next.get(path):
            self.fail_next[path] -= 1
            return self._error(500, "internal_error", "the hub failed")
        if path == "/api/v1/enrol":
            if payload.get("token") != TOKEN:
                return self._error(403, "enrolment_refused", "wrong, used or expired token")
            return self._json({"site": payload["site"], "credential": CREDENTIAL,
                               "hub_keys": [self.key.entry]})
        if headers.get("Authorization") != f"Bearer {CREDENTIAL}":
            return self._error(401, "unauthorized", "unknown credential")
        if path == "/api/v1/trust":
            self.trust_posts.append(payload)
            return self._json({"keys_accepted": len(payload["keys"]),
                               "revocations_accepted": len(payload["revocations"])})
        return self._checkins(path, payload)

    def _checkins(self, path: str, payload: dict) -> tuple[int, dict, bytes]:
        rows = payload["checkins"]
        assert len(rows) <= sync.BATCH_ROWS
        self.posts.append((path, payload))
        new = [r for r in rows if r["uid"] not in self.checkins]
        self.checkins.update({r["uid"]: r for r in new})
        if self.store_then_fail:
            self.store_then_fail -= 1
            return self._error(502, "bad_gateway", "answer lost")
        return self._json({"accepted": len(new), "duplicates": len(rows) - len(new)})

    @staticmethod
    def _json(value: dict, status: int = 200) -> tuple[int, dict, bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(value).encode()

    def _error(self, status: int, code: str, message: str) -> tuple[int, dict, bytes]:
        return self._json({"error": {"code": code, "message": message}}, status)


@pytest.fixture
def hub():
    key = new_hub_key()
    contract = ContractHub(key)
    contract.publish(make_bundle(key, 1))

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, headers, body = contract.handle(method, self.path, self.headers,
                                                    self.rfile.read(length))
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - the name http.server calls
            self._serve("GET")

        def do_POST(self):  # noqa: N802
            self._serve("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    contract.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield contract
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def enrolled(db, hub):
    sync.enrol(db, url=hub.url + "/", hub_key=hub.key.text, token=TOKEN, site=SITE)
    return db


def _publish_live(hub, sequence: int = 1) -> None:
    """For what checks validity on the real clock (the CLI, the serve thread): a bundle
    issued an hour before now."""
    hub.publish(make_bundle(hub.key, sequence, issued_at=datetime.now(UTC) - timedelta(hours=1)))


def _log(db, n: int, **extra) -> list[int]:
    """Append ``n`` check-ins (with names and a member id, which must never leave)."""
    ids = []
    for i in range(n):
        row = {"at": (ISSUED_AT + timedelta(minutes=i)).isoformat(), "visit": SITE,
               "home": HOME, "member_id": f"MEMBER-{i}", "names": json.dumps(["Ada Lovelace"]),
               "admit": 1, "reasons": json.dumps(["ELIGIBLE"]), "party_size": 3, "covered": 2,
               "source": "desk", "list_version": 1, **extra}
        ids.append(store.insert_checkin(db, row))
    return ids


# --------------------------------------------------------------------------- enrolment

def test_enrol_pins_the_key_and_seals_the_credential(enrolled, hub):
    row = store.get_hub_enrolment(enrolled)
    assert row["hub_url"] == hub.url and row["site"] == SITE
    assert CREDENTIAL.encode() not in bytes(row["credential"])  # sealed, not plain
    assert sync.open_credential(row["credential"], SITE) == CREDENTIAL
    assert store.pinned_hub_keys(enrolled) == {hub.key.key_id: hub.key.text}


def test_enrol_refuses_a_wrong_token_or_a_key_the_hub_does_not_hold(db, hub):
    with pytest.raises(sync.SyncError, match="enrolment_refused"):
        sync.enrol(db, url=hub.url, hub_key=hub.key.text, token="guess", site=SITE)
    with pytest.raises(sync.SyncError, match="does not hold the --hub-key"):
        sync.enrol(db, url=hub.url, hub_key=new_hub_key().text, token=TOKEN, site=SITE)
    with pytest.raises(sync.SyncError, match="not a hub public key"):
        sync.enrol(db, url=hub.url, hub_key="not-a-key", token=TOKEN, site=SITE)
    with pytest.raises(sync.SyncError, match="hub URL"):
        sync.enrol(db, url="ftp://x", hub_key=hub.key.text, token=TOKEN, site=SITE)
    assert store.get_hub_enrolment(db) is None and store.pinned_hub_keys(db) == {}


def test_an_unreachable_hub_is_one_clear_error(db, hub):
    with pytest.raises(sync.SyncError, match="hub unreachable"):
        sync.enrol(db, url="http://127.0.0.1:9", hub_key=hub.key.text, token=TOKEN, site=SITE,
                   timeout=2)


# --------------------------------------------------------------------------- down

def test_sync_applies_the_bundle_then_answers_304(enrolled, hub):
    first = sync.sync(enrolled, now=CHECKED_AT)
    assert first["applied"] and first["bundle_sequence"] == 1 and first["errors"] == []
    assert first["list_version"] == store.get_active_list_version(enrolled, "astc")
    second = sync.sync(enrolled, now=CHECKED_AT)
    assert not second["applied"] and second["bundle_sequence"] == 1
    assert hub.bundle_gets == [None, hub.etag]
    hub.publish(make_bundle(hub.key, 2, lists={"astc": {"version": 2,
                                                        "institutions": shipped_rows()[:-1]}}))
    third = sync.sync(enrolled, now=CHECKED_AT)
    assert third["applied"] and third["bundle_sequence"] == 2
    assert third["list_version"] > first["list_version"]


def test_a_refused_bundle_still_lets_the_checkins_go_up(enrolled, hub):
    sync.sync(enrolled, now=CHECKED_AT)
    hub.publish(make_bundle(hub.key, 2))
    hub.bundle_data = hub.bundle_data.replace(b"Anchorage Museum", b"Anchorage Museun", 1)
    _log(enrolled, 2)
    result = sync.sync(enrolled, now=CHECKED_AT)
    assert [e["code"] for e in result["errors"]] == ["BUNDLE_SIGNATURE_INVALID"]
    assert result["bundle_sequence"] == 1 and result["checkins_sent"] == 2


# --------------------------------------------------------------------------- up

def _uids(db, ids) -> list[str]:
    """The hub's uids of these log entries."""
    at = dict(db.execute("SELECT id, at FROM checkins").fetchall())
    return [sync.log_uid(SITE, i, at[i]) for i in ids]


def test_checkins_go_up_once_without_names(enrolled, hub):
    ids = _log(enrolled, 3)
    undo = _log(enrolled, 1, undoes=ids[0], admit=1)[0]
    result = sync.sync(enrolled, now=CHECKED_AT)
    assert result["checkins_sent"] == 4 and result["checkins_pending"] == 0
    uid = {row["id"]: sync.log_uid(SITE, row["id"], row["at"])
           for row in enrolled.query("SELECT id, at FROM checkins")}
    sent = hub.checkins[uid[ids[1]]]
    assert sent == {"uid": uid[ids[1]], "program": "astc", "home": HOME, "visit": SITE,
                    "local_date": "2026-06-15", "local_hour": 5, "party_size": 3,
                    "people_free": 2, "people_paying": 1, "admit": True,
                    "reasons": ["ELIGIBLE"], "kind": "visit", "undoes": None}
    assert hub.checkins[uid[undo]]["kind"] == "undo"
    assert hub.checkins[uid[undo]]["undoes"] == uid[ids[0]]
    wire = json.dumps([p for _, p in hub.posts])
    assert "Ada" not in wire and "MEMBER-" not in wire
    assert sync.sync(enrolled, now=CHECKED_AT)["checkins_sent"] == 0
    assert len(hub.posts) == 1


def test_the_mark_moves_only_on_acknowledgement(enrolled, hub):
    ids = _log(enrolled, 5)
    # batches of 2: the second POST fails, so only the first batch is acknowledged
    calls = []
    original = hub.handle

    def second_fails(method, path, headers, body):
        if path == "/api/v1/checkins":
            calls.append(path)
            if len(calls) == 2:
                return hub._error(503, "unavailable", "try later")
        return original(method, path, headers, body)

    hub.handle = second_fails
    result = sync.sync(enrolled, now=CHECKED_AT, batch_rows=2)
    assert result["checkins_sent"] == 2 and result["checkins_pending"] == 3
    assert [e["step"] for e in result["errors"]] == ["checkins"]
    assert store.get_outbox_mark(enrolled, sync.CHECKINS_STREAM) == ids[1]
    hub.handle = original
    result = sync.sync(enrolled, now=CHECKED_AT, batch_rows=2)
    assert result["checkins_sent"] == 3 and result["checkins_pending"] == 0
    assert sorted(hub.checkins) == sorted(_uids(enrolled, ids))


def test_a_lost_answer_is_retried_without_doubles(enrolled, hub):
    ids = _log(enrolled, 4)
    hub.store_then_fail = 1  # the hub stores the batch, the answer never arrives
    result = sync.sync(enrolled, now=CHECKED_AT)
    assert result["checkins_sent"] == 0 and result["checkins_pending"] == 4
    assert store.get_outbox_mark(enrolled, sync.CHECKINS_STREAM) == 0
    result = sync.sync(enrolled, now=CHECKED_AT)
    assert result["checkins_sent"] == 4 and result["errors"] == []
    assert len(hub.checkins) == 4 and len(hub.posts) == 2  # sent twice, kept once
    assert sorted(hub.checkins) == sorted(_uids(enrolled, ids))


def test_new_keys_and_revocations_go_up_once(enrolled, hub):
    made = keys.create_key(enrolled, SITE)
    keys.create_key(enrolled, HOME)  # another institution's key: never sent by this site
    trust.revoke_card(enrolled, SITE, "M-7", "lost")
    result = sync.sync(enrolled, now=CHECKED_AT)
    assert (result["keys_sent"], result["revocations_sent"]) == (1, 1)
    post = hub.trust_posts[0]
    assert [k["key_id"] for k in post["keys"]] == [made["key_id"]]
    assert "private_key" not in post["keys"][0]
    assert post["revocations"] == [{"institution_id": SITE, "member_id": "M-7",
                                    "revoked_at": post["revocations"][0]["revoked_at"],
                                    "reason": "lost"}]
    assert sync.sync(enrolled, now=CHECKED_AT)["keys_sent"] == 0
    keys.revoke_key(enrolled, made["key_id"])  # a state change is sent again
    result = sync.sync(enrolled, now=CHECKED_AT)
    assert result["keys_sent"] == 1 and hub.trust_posts[-1]["keys"][0]["revoked_at"]


def test_a_failed_trust_post_is_sent_again(enrolled, hub):
    keys.create_key(enrolled, SITE)
    hub.fail_next["/api/v1/trust"] = 1
    assert sync.sync(enrolled, now=CHECKED_AT)["keys_sent"] == 0
    assert sync.sync(enrolled, now=CHECKED_AT)["keys_sent"] == 1


def test_sync_needs_an_enrolment(db):
    with pytest.raises(sync.SyncError, match="not enrolled"):
        sync.sync(db)


# --------------------------------------------------------------------------- CLI

def test_cli_enrol_sync_export_import(cli, db_path, hub, tmp_path, monkeypatch):
    result = cli("hub", "enrol", "--url", hub.url, "--hub-key", hub.key.text, "--token", TOKEN,
                 "--site", SITE, "--json")
    assert json.loads(result.stdout)["key_id"] == hub.key.key_id
    _publish_live(hub)
    result = json.loads(cli("sync", "--json").stdout)
    assert {"bundle_sequence", "list_version", "applied", "checkins_sent",
            "keys_sent"} <= set(result) and result["applied"]
    usb = tmp_path / "usb-bundle.json"
    cli("bundle", "export", usb)
    assert usb.read_bytes() == hub.bundle_data
    # another site, never online, imports the file with the key its operator gave it
    monkeypatch.setenv("PASSPORT_DB", str(tmp_path / "offline.sqlite"))
    cli("bundle", "import", usb, error="no hub key is pinned")
    applied = json.loads(cli("bundle", "import", usb, "--hub-key", hub.key.text,
                             "--json").stdout)
    assert applied["bundle_sequence"] == 1
    cli("bundle", "import", usb, error="BUNDLE_NOT_NEWER")
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(usb.read_bytes().replace(b"Anchorage Museum", b"Anchorage Museun"))
    cli("bundle", "import", tampered, error="BUNDLE_SIGNATURE_INVALID")
    status = json.loads(cli("bundle", "status", "--json").stdout)
    assert status["sequence"] == 1


def test_cli_sync_errors_are_one_line(cli, db_path, hub):
    cli("sync", error="not enrolled")
    cli("hub", "enrol", "--url", hub.url, "--hub-key", hub.key.text, "--token", "x",
        "--site", SITE, error="enrolment_refused")
    cli("bundle", "export", db_path.parent / "b.json", ok=False)


# --------------------------------------------------------------------------- the desk

def test_bundle_age_and_warning(enrolled, hub):
    assert sync.bundle_status(enrolled, now=CHECKED_AT)["stale"]  # enrolled, nothing yet
    sync.sync(enrolled, now=CHECKED_AT)
    fresh = sync.bundle_status(enrolled, now=CHECKED_AT, warn_hours=48)
    assert fresh["age_hours"] == 1.0 and not fresh["stale"]
    old = sync.bundle_status(enrolled, now=ISSUED_AT + timedelta(hours=49), warn_hours=48)
    assert old["stale"] and old["age_hours"] == 49.0


def test_desk_banner_and_healthz_show_the_bundle_age(enrolled, hub, kiosk_app, kiosk_client,
                                                     kiosk_login, kiosk_clock):
    from kiosk.warmup import WARM_KEY

    sync.sync(enrolled, now=CHECKED_AT)
    kiosk_app.config["SITE"] = SITE
    kiosk_app.extensions[WARM_KEY] = 0.0  # /healthz answers once warm (test_api warms)
    kiosk_login(kiosk_client)
    kiosk_clock.now = ISSUED_AT + timedelta(hours=2)
    assert b'id="bundle-banner"' not in kiosk_client.get("/desk").data
    assert kiosk_client.get("/healthz").json["bundle"]["sequence"] == 1
    kiosk_clock.now = ISSUED_AT + timedelta(hours=60)
    page = kiosk_client.get("/desk").data.decode()
    assert 'id="bundle-banner"' in page and "hub bundle 1" in page and "60 hours old" in page
    health = kiosk_client.get("/healthz").json
    assert health["status"] == "ok" and health["bundle"]["stale"]


def test_the_background_sync_runs_and_survives_a_hub_outage(enrolled, hub, kiosk_app):
    from kiosk import hubsync

    kiosk_app.config["SYNC_SECONDS"] = 0.05
    _publish_live(hub)
    hub.fail_next["/api/v1/checkins"] = 2  # the first attempts fail; the thread goes on
    _log(enrolled, 2)
    thread = hubsync.start(kiosk_app)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not thread.last["ok"]:
            time.sleep(0.02)
        assert thread.last["ok"] and thread.last["attempts"] >= 3  # two failed, then one ok
        assert len(hub.checkins) == 2
        assert store.last_applied_bundle_row(enrolled)["sequence"] == 1
        assert thread.is_alive()
    finally:
        thread.stop()
        thread.join(timeout=10)


def test_the_admin_network_page_enrols_syncs_and_exports(enrolled, db, hub, kiosk_app,
                                                         kiosk_client, kiosk_login):
    """The page offers what the CLI does (an admin, with the CSRF token)."""
    _publish_live(hub)
    csrf = kiosk_login(kiosk_client, "boss", role="admin")
    page = kiosk_client.get("/admin/network").data.decode()
    assert f"Enrolled as <strong>{SITE}</strong>" in page and "No bundle applied yet" in page
    assert kiosk_client.post("/admin/network/sync").status_code == 400  # no CSRF token
    _log(enrolled, 2)
    response = kiosk_client.post("/admin/network/sync", data={"csrf_token": csrf},
                                 follow_redirects=True)
    page = response.data.decode()
    assert "Bundle 1 (applied now); sent 2 check-ins" in page and "0 check-ins waiting" in page
    exported = kiosk_client.get("/admin/network/bundle.json")
    assert exported.status_code == 200 and exported.data == hub.bundle_data
    # importing the same bundle again is refused with its code, and says so
    response = kiosk_client.post(
        "/admin/network/bundle", follow_redirects=True, content_type="multipart/form-data",
        data={"csrf_token": csrf, "file": (io.BytesIO(exported.data), "bundle.json")})
    assert "BUNDLE_NOT_NEWER" in response.data.decode()
    desk = kiosk_login(kiosk_client, "clerk", role="desk")
    assert desk and kiosk_client.get("/admin/network").status_code in (302, 403)


def test_an_answer_larger_than_the_cap_is_refused(monkeypatch):
    monkeypatch.setattr(sync, "MAX_ANSWER_BYTES", 1000)
    assert sync._bounded(io.BytesIO(b"x" * 1000), "http://hub") == b"x" * 1000
    with pytest.raises(sync.SyncError, match="larger than"):
        sync._bounded(io.BytesIO(b"x" * 1001), "http://hub")


def test_a_log_id_reused_after_a_restore_is_another_entry_at_the_hub():
    """A store restored from a backup gives its next entries local ids the hub may already
    hold (entries logged after the backup): the instant in the uid keeps them apart, and
    the same entry sent again keeps its uid (retries stay idempotent)."""
    first = sync.log_uid(SITE, 3, "2026-06-15T19:00:00.000001+00:00")
    again = sync.log_uid(SITE, 3, "2026-06-15T19:00:00.000001+00:00")
    reused = sync.log_uid(SITE, 3, "2026-06-15T19:05:00.000001+00:00")
    assert first == again != reused and first.startswith(f"{SITE}:3@")
