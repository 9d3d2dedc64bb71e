"""End to end (issue 14): the real hub (kiosk.hub on PostgreSQL, served over HTTP on the
loopback) and a real site store. The site enrols, syncs, a check-in flows up, and a list the
hub publishes reaches the site on its next sync."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.serving import make_server

from passport import institutions, keys, store, sync

SITE = "exploratorium-san-francisco"
HOME = "oregon-museum-of-science-and-industry-portland"


@pytest.fixture
def hub_server(hub_pool, hub_url, shipped_csv):
    """The hub app over real HTTP with the shipped list published for ``astc``."""
    from kiosk.hub import create_hub_app
    from kiosk.hub.db import POOL_KEY
    from passport.hub import lists

    lists.import_file(hub_pool, shipped_csv, program="astc", actor="test")
    app = create_hub_app({"TESTING": True, "SECRET_KEY": "test-only-secret",
                          "HUB_DATABASE_URL": hub_url, "HUB_POOL_SIZE": 2})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    found = app.extensions.get(POOL_KEY)
    if found:
        found[1].close()


def _hub_checkins(hub_pool) -> list[dict]:
    with hub_pool.connection() as conn:
        return [dict(row) for row in conn.execute(  # the hub's pool reads rows as dicts
            "SELECT uid, home, visit, party_size, admit FROM checkins ORDER BY uid")]


def test_a_site_enrols_syncs_and_follows_the_hub(db, hub_pool, hub_server, shipped_csv,
                                                 tmp_path):
    from passport.hub import lists, signing, sites

    token = sites.add_site(hub_pool, SITE)["token"]
    hub_key = signing.current_keys(hub_pool)[0]
    enrolled = sync.enrol(db, url=hub_server, hub_key=hub_key["public_key"], token=token,
                          site=SITE)
    assert enrolled["key_id"] == hub_key["key_id"]

    first = sync.sync(db)
    assert first["errors"] == [] and first["applied"] and first["bundle_sequence"] >= 1
    active = institutions.load_active(db, "astc")
    assert active.version == first["list_version"] and len(active.records) == 368

    # a check-in at the desk flows up, once, without names
    store.insert_checkin(db, {
        "at": datetime.now(UTC).isoformat(), "visit": SITE, "home": HOME, "member_id": "M-9",
        "names": json.dumps(["Grace Hopper"]), "admit": 1, "reasons": json.dumps(["ELIGIBLE"]),
        "party_size": 2, "covered": 2, "source": "desk", "list_version": active.version})
    made = keys.create_key(db, SITE)  # and this site's new issuer key goes up with it
    second = sync.sync(db)
    assert second["errors"] == [] and not second["applied"] and second["checkins_sent"] == 1
    assert second["keys_sent"] == 1
    (sent,) = _hub_checkins(hub_pool)
    assert sent["uid"].startswith(f"{SITE}:1@")
    assert {k: v for k, v in sent.items() if k != "uid"} == {
        "home": HOME, "visit": SITE, "party_size": 2, "admit": True}

    # the hub publishes a new list: the site has it after its next sync
    rows = list(csv.DictReader(io.StringIO(shipped_csv.read_text(encoding="utf-8"))))
    smaller = tmp_path / "smaller.csv"
    with smaller.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r["id"] != HOME)
    lists.import_file(hub_pool, smaller, program="astc", actor="test")
    third = sync.sync(db)
    assert third["errors"] == [] and third["applied"]
    assert third["bundle_sequence"] > second["bundle_sequence"]
    active = institutions.load_active(db, "astc")
    assert len(active.records) == 367 and HOME not in active.by_id
    # the key came back in the hub's bundle, as every other site receives it
    applied = json.loads(store.last_applied_bundle_data(db))["content"]["trust"]["keys"]
    assert made["key_id"] in [k["key_id"] for k in applied]
    status = sync.bundle_status(db, now=datetime.now(UTC) + timedelta(minutes=1))
    assert not status["stale"] and status["sequence"] == third["bundle_sequence"]
