"""Signed bundles (issue 14): the byte format, verification with its refusal codes, and
``apply`` in one transaction, even when the process is killed in the middle of it."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import pytest
from bundlekit import (
    CHECKED_AT,
    ISSUED_AT,
    make_bundle,
    new_hub_key,
    pin,
    shipped_rows,
    snapshot,
)

from passport import bundle, institutions, keys, store, sync, trust


@pytest.fixture
def hub_key():
    return new_hub_key()


@pytest.fixture
def site(db, hub_key):
    """A site store that pinned ``hub_key`` and applied bundle 1 (the shipped list)."""
    pin(db, hub_key)
    sync.receive_bundle(db, make_bundle(hub_key, 1), now=CHECKED_AT)
    return db


def test_round_trip(hub_key):
    data = make_bundle(hub_key, 7)
    verified = bundle.verify(data, {hub_key.key_id: hub_key.raw}, CHECKED_AT)
    assert verified.sequence == 7 and verified.key_id == hub_key.key_id
    assert verified.issued_at == ISSUED_AT and verified.valid_until == ISSUED_AT + timedelta(7)
    assert verified.content["lists"]["astc"]["institutions"] == shipped_rows()
    assert verified.content["hub_keys"] == [hub_key.entry]
    assert verified.data == data and len(verified.sha256) == 64
    assert verified.etag == f'"7-{verified.sha256[:16]}"'


def test_canonical_bytes_are_stable(hub_key):
    assert bundle.canonical_bytes({"b": 1, "a": [1.5, "é", None, True]}) == \
        '{"a":[1.5,"é",null,true],"b":1}'.encode()
    with pytest.raises(ValueError):
        bundle.canonical_bytes({"x": float("nan")})
    # the same content built in another key order signs to the same bytes (Ed25519 is
    # deterministic), and the bytes are the canonical form of the envelope itself
    data = make_bundle(hub_key, 3)
    shuffled = dict(reversed(list(json.loads(data)["content"].items())))
    assert bundle.sign(shuffled, hub_key.private, hub_key.key_id) == data
    assert bundle.canonical_bytes(json.loads(data)) == data


def test_a_tampered_byte_is_refused_and_changes_nothing(site, hub_key):
    data = make_bundle(hub_key, 2)
    name = b"Anchorage Museum"
    tampered = data.replace(name, b"Anchorage Museun", 1)
    assert tampered != data
    before = snapshot(site)
    with pytest.raises(bundle.BundleError) as refused:
        sync.receive_bundle(site, tampered, now=CHECKED_AT)
    assert refused.value.code == "BUNDLE_SIGNATURE_INVALID"
    assert snapshot(site) == before


def test_every_flipped_byte_is_refused(hub_key):
    data = make_bundle(hub_key, 2, lists={"astc": {"version": 1,
                                                   "institutions": shipped_rows()[:3]}})
    pinned = {hub_key.key_id: hub_key.raw}
    for offset in random.Random(14).sample(range(len(data)), 60):
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        with pytest.raises(bundle.BundleError) as refused:
            bundle.verify(bytes(flipped), pinned, CHECKED_AT)
        assert refused.value.code in ("BUNDLE_SIGNATURE_INVALID", "BUNDLE_MALFORMED",
                                      "BUNDLE_KEY_UNKNOWN"), offset


def test_a_key_not_pinned_is_refused_and_changes_nothing(site, hub_key):
    stranger = new_hub_key()
    before = snapshot(site)
    with pytest.raises(bundle.BundleError) as refused:
        sync.receive_bundle(site, make_bundle(stranger, 2), now=CHECKED_AT)
    assert refused.value.code == "BUNDLE_KEY_UNKNOWN"
    assert stranger.key_id in str(refused.value)
    assert snapshot(site) == before


def test_an_expired_bundle_is_refused_and_changes_nothing(site, hub_key):
    data = make_bundle(hub_key, 2, valid_for=timedelta(hours=1))
    before = snapshot(site)
    with pytest.raises(bundle.BundleError) as refused:
        sync.receive_bundle(site, data, now=ISSUED_AT + timedelta(hours=1))
    assert refused.value.code == "BUNDLE_EXPIRED"
    assert snapshot(site) == before
    # a moment earlier it was good
    assert sync.receive_bundle(site, data, now=ISSUED_AT + timedelta(minutes=59))["applied"]


def test_an_older_or_equal_sequence_is_refused_and_changes_nothing(site, hub_key):
    sync.receive_bundle(site, make_bundle(hub_key, 5), now=CHECKED_AT)
    before = snapshot(site)
    for stale in (5, 4, 1):
        with pytest.raises(bundle.BundleError) as refused:
            sync.receive_bundle(site, make_bundle(hub_key, stale), now=CHECKED_AT)
        assert refused.value.code == "BUNDLE_NOT_NEWER"
        assert snapshot(site) == before


def test_malformed_bundles_say_what_is_wrong(hub_key):
    pinned = {hub_key.key_id: hub_key.raw}
    for data, words in ((b"", "empty"), (b"\xff\xfe", "UTF-8"), (b"[]", "envelope"),
                        (b'{"format": "x"}', "envelope")):
        with pytest.raises(bundle.BundleError) as refused:
            bundle.verify(data, pinned, CHECKED_AT)
        assert refused.value.code == "BUNDLE_MALFORMED" and words in str(refused.value)


def test_deeply_nested_json_is_malformed_not_a_crash(site, hub_key):
    before = snapshot(site)
    for data in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000):
        with pytest.raises(bundle.BundleError) as refused:
            sync.import_bundle(site, data, now=CHECKED_AT)
        assert refused.value.code == "BUNDLE_MALFORMED" and "nested" in str(refused.value)
    assert snapshot(site) == before


def test_a_refused_offline_import_pins_no_key(site, hub_key):
    """--hub-key on a bundle that is then refused (not newer), or that another pinned key
    signed, leaves the pins as they were: a refused bundle changes nothing."""
    sync.receive_bundle(site, make_bundle(hub_key, 5), now=CHECKED_AT)
    other = new_hub_key()
    before = snapshot(site)
    with pytest.raises(bundle.BundleError) as refused:
        sync.import_bundle(site, make_bundle(other, 3), hub_key=other.text, now=CHECKED_AT)
    assert refused.value.code == "BUNDLE_NOT_NEWER"
    assert snapshot(site) == before
    # signed by the pinned key: the --hub-key given beside it verified nothing, so is not
    # pinned (the bundle names the hub's keys: only hub_key stays pinned)
    sync.import_bundle(site, make_bundle(hub_key, 6), hub_key=other.text, now=CHECKED_AT)
    assert store.pinned_hub_keys(site) == {hub_key.key_id: hub_key.text}
    with pytest.raises(bundle.BundleError) as refused:
        sync.import_bundle(site, make_bundle(other, 7, hub_keys=[]), hub_key=hub_key.text,
                           now=CHECKED_AT)
    assert refused.value.code == "BUNDLE_KEY_UNKNOWN"


def test_apply_publishes_a_list_only_when_it_changed(site, hub_key):
    first = store.get_active_list_version(site, "astc")
    result = sync.receive_bundle(site, make_bundle(hub_key, 2), now=CHECKED_AT)
    assert result["lists"]["astc"] == {"hub_version": 1, "list_version": first,
                                       "changed": False}
    rows = shipped_rows()[1:]
    result = sync.receive_bundle(site, make_bundle(
        hub_key, 3, lists={"astc": {"version": 2, "institutions": rows}}), now=CHECKED_AT)
    assert result["lists"]["astc"]["changed"] and result["lists"]["astc"]["list_version"] > first
    # the in-process cache of the active list sees the new version at once
    active = institutions.load_active(site, "astc")
    assert active.version == result["lists"]["astc"]["list_version"]
    assert len(active.records) == len(rows)


def _trust_with_key(institution_id: str, folder) -> tuple[dict, str]:
    """A trust list holding one new issuer key of ``institution_id`` (from a scratch
    store's real key creation)."""
    scratch = store.open_db(folder / "scratch.sqlite")
    made = keys.create_key(scratch, institution_id)
    data = trust.export_trust(scratch)
    return data, made["key_id"]


def test_apply_imports_the_trust_list_and_the_verifier_sees_it(site, hub_key, tmp_path):
    trust_list, key_id = _trust_with_key("anchorage-museum-anchorage", tmp_path)
    trust_list["revoked_cards"] = [{"institution_id": "anchorage-museum-anchorage",
                                    "member_id": "M-1", "revoked_at": ISSUED_AT.isoformat(),
                                    "reason": "lost"}]
    before = trust.trust_snapshot(site)
    sync.receive_bundle(site, make_bundle(hub_key, 2, trust=trust_list), now=CHECKED_AT)
    after = trust.trust_snapshot(site)
    assert key_id in after[0] and key_id not in (before[0] if before else {})
    assert ("anchorage-museum-anchorage", "M-1") in after[1]


def test_apply_is_atomic(site, hub_key, tmp_path):
    """A bad row in the second program fails the apply half-way: the first program's new
    list, the trust list and the sequence are all rolled back."""
    trust_list, key_id = _trust_with_key("anchorage-museum-anchorage", tmp_path)
    rows = shipped_rows()
    bad = [dict(r) for r in rows[:5]]
    bad[3]["latitude"] = 123.0
    data = make_bundle(hub_key, 2, trust=trust_list, lists={
        "astc": {"version": 2, "institutions": rows[:-1]},   # applied first (sorted)...
        "narm": {"version": 1, "institutions": bad}})         # ...then this fails
    active = store.get_active_list_version(site, "astc")
    before = snapshot(site)
    with pytest.raises(bundle.BundleError) as refused:
        sync.receive_bundle(site, data, now=CHECKED_AT)
    assert refused.value.code == "BUNDLE_MALFORMED"
    assert "narm" in str(refused.value) and "institutions[3]" in str(refused.value)
    assert snapshot(site) == before
    assert store.get_active_list_version(site, "astc") == active
    assert store.get_issuer_key_row(site, key_id) is None
    assert store.last_applied_bundle_row(site)["sequence"] == 1


def test_profiles_are_applied_and_the_site_keeps_its_active_version(site, hub_key):
    profile = dict(store.get_profile_row(site, "astc"))
    active = profile.pop("active_list_version")
    profile["title"] = "ASTC Travel Passport (from the hub)"
    profile["active_list_version"] = 999  # never taken from a hub
    sync.receive_bundle(site, make_bundle(hub_key, 2, profiles=[profile]), now=CHECKED_AT)
    row = store.get_profile_row(site, "astc")
    assert row["title"] == "ASTC Travel Passport (from the hub)"
    assert row["active_list_version"] == active
    assert institutions.load_active(site, "astc").profile.title == row["title"]


def test_the_site_follows_a_hub_key_rotation(site, hub_key):
    new = new_hub_key()
    # bundle 2, signed by the pinned key, names the new key (and drops the old one)
    sync.receive_bundle(site, make_bundle(hub_key, 2, hub_keys=[new.entry]), now=CHECKED_AT)
    assert set(store.pinned_hub_keys(site)) == {new.key_id}
    assert sync.receive_bundle(site, make_bundle(new, 3), now=CHECKED_AT)["applied"]
    with pytest.raises(bundle.BundleError) as refused:
        sync.receive_bundle(site, make_bundle(hub_key, 4), now=CHECKED_AT)
    assert refused.value.code == "BUNDLE_KEY_UNKNOWN"


# --------------------------------------------------------------------------- kill mid-apply

_APPLIER = textwrap.dedent("""
    import sys
    from datetime import datetime
    from pathlib import Path
    from passport import bundle, store, sync
    db = store.open_db(sys.argv[1])
    db.execute("PRAGMA synchronous = FULL")
    data = Path(sys.argv[2]).read_bytes()
    verified = bundle.verify(data, sync._pinned(db), datetime.fromisoformat(sys.argv[3]))
    print("applying", flush=True)
    bundle.apply(db, verified)
    print("applied", flush=True)
""")


def _big_rows(count: int, tag: str) -> list[dict]:
    base = {"country": "US", "timezone": "America/Chicago"}
    return [{**base, "id": f"{tag}-site-{n:05d}", "name": f"{tag} site {n}",
             "latitude": 25 + (n % 2000) / 100, "longitude": -120 + (n // 2000) / 10}
            for n in range(count)]


def test_a_desk_killed_mid_apply_has_the_old_or_the_new_bundle(db_path, db, hub_key,
                                                               tmp_path):
    pin(db, hub_key)
    old = {"astc": {"version": 1, "institutions": _big_rows(1000, "old")},
           "narm": {"version": 1, "institutions": _big_rows(1000, "oldn")}}
    sync.receive_bundle(db, make_bundle(hub_key, 1, lists=old), now=CHECKED_AT)
    db.close()
    new = {"astc": {"version": 2, "institutions": _big_rows(15000, "new")},
           "narm": {"version": 2, "institutions": _big_rows(15000, "newn")}}
    bundle_file = tmp_path / "bundle.json"
    bundle_file.write_bytes(make_bundle(hub_key, 2, lists=new))
    outcomes, chance = [], random.Random(1414)
    for _ in range(4):
        with subprocess.Popen(
                [sys.executable, "-c", _APPLIER, str(db_path), str(bundle_file),
                 CHECKED_AT.isoformat()], stdout=subprocess.PIPE, text=True) as process:
            assert process.stdout.readline().strip() == "applying"
            time.sleep(chance.uniform(0.0, 0.3))  # the random moment of the kill
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        outcomes.append(_old_or_new(db_path, old, new))
        if outcomes[-1] == "new":
            break
    assert "old" in outcomes, outcomes  # at least one kill landed before the commit


def _old_or_new(db_path, old: dict, new: dict) -> str:
    """'old' or 'new' when the store is sound and every program's active list is wholly
    that bundle's (fails otherwise)."""
    db = store.open_db(db_path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seen = set()
        sequence = store.last_applied_bundle_row(db)["sequence"]
        for program in ("astc", "narm"):
            ids = [r["id"] for r in store.get_institution_rows(
                db, store.get_active_list_version(db, program))]
            which = [name for name, lists in (("old", old), ("new", new))
                     if ids == [r["id"] for r in lists[program]["institutions"]]]
            assert len(which) == 1, (program, len(ids))
            seen.add(which[0])
        assert seen in ({"old"}, {"new"}), seen
        assert sequence == (1 if seen == {"old"} else 2)
        return seen.pop()
    finally:
        db.close()
