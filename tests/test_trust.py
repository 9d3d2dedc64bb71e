"""The trust list: card revocations, export/import (all or nothing), the snapshot in memory."""

from __future__ import annotations

import copy
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from passport import cards, keys, store, trust

HOME = "exploratorium-san-francisco"
OTHER = "museum-of-science-boston-boston"
EXPIRES = date(2027, 6, 30)


@pytest.fixture
def kiosk_db(tmp_path):
    database = store.open_db(tmp_path / "kiosk.sqlite")
    yield database
    database.close()


# ----------------------------------------------------------------------------- trust list

def _issuer_with_cards(db):
    keys.create_key(db, HOME)
    keys.create_key(db, OTHER)
    good = cards.issue(db, HOME, "M-1", ["Ada Lovelace"], EXPIRES)
    lost = cards.issue(db, OTHER, "M-2", ["Grace Hopper"], EXPIRES)
    trust.revoke_card(db, OTHER, "M-2", "reported lost")
    return good, lost


def test_export_import_lets_a_kiosk_verify_offline(db, kiosk_db):
    good, lost = _issuer_with_cards(db)
    assert cards.verify(kiosk_db, good, EXPIRES).reasons == [cards.KEY_UNKNOWN]
    exported = trust.export_trust(db)
    assert exported["format"] == trust.TRUST_FORMAT and exported["version"] == 1
    assert all("private" not in name for entry in exported["keys"] for name in entry)
    result = trust.import_trust(kiosk_db, exported)
    assert result == {"keys": 2, "keys_added": 2, "revoked_cards": 1, "revoked_cards_added": 1}
    assert cards.verify(kiosk_db, good, EXPIRES).valid
    assert cards.verify(kiosk_db, lost, EXPIRES).reasons == [cards.CARD_REVOKED]
    # the kiosk can verify but not sign
    with pytest.raises(keys.KeyStoreError, match="no signing key"):
        cards.issue(kiosk_db, HOME, "M-3", ["X"], EXPIRES)
    again = trust.import_trust(kiosk_db, exported)
    assert again["keys_added"] == 0 and again["revoked_cards_added"] == 0


def test_load_trust_matches_the_store(db):
    good, lost = _issuer_with_cards(db)
    trusted, revoked = trust.load_trust(db)
    assert cards.verify_with_trust(good, trusted, EXPIRES, revoked).valid
    assert cards.verify_with_trust(lost, trusted, EXPIRES, revoked).reasons == [cards.CARD_REVOKED]


@pytest.mark.parametrize("spoil, message", [
    (lambda t: t["keys"][1].update(key_id="0123456789ab"), "does not match"),
    (lambda t: t["keys"][1].update(public_key="AAAA"), "public_key"),
    (lambda t: t["keys"][1].update(institution_id=""), "institution id"),
    (lambda t: t["keys"][1].update(algorithm="RSA"), "algorithm"),
    (lambda t: t["keys"][1].update(created_at="yesterday"), "ISO 8601"),
    (lambda t: t["keys"].append(copy.deepcopy(t["keys"][0])), "twice"),
    (lambda t: t["keys"][1].update(key_id=["not", "text"]), "12 hex digits"),
    (lambda t: t["keys"].append("key"), "not an object"),
    (lambda t: t["revoked_cards"].append({"institution_id": HOME, "revoked_at": "2026-01-01"}),
     "member_id"),
    (lambda t: t.update(version=2), "version"),
    (lambda t: t.update(format="other"), "format"),
])
def test_import_with_one_bad_entry_is_rejected_whole(db, kiosk_db, spoil, message):
    _issuer_with_cards(db)
    exported = trust.export_trust(db)
    spoil(exported)
    with pytest.raises(trust.TrustListError, match=message) as caught:
        trust.import_trust(kiosk_db, exported)
    assert caught.value.errors
    assert keys.list_keys(kiosk_db) == []
    assert store.list_card_revocation_rows(kiosk_db) == []


def test_import_conflicting_key_and_non_object_rejected(db, kiosk_db):
    _issuer_with_cards(db)
    exported = trust.export_trust(db)
    trust.import_trust(kiosk_db, exported)
    exported["keys"][0]["institution_id"] = OTHER
    with pytest.raises(trust.TrustListError, match="conflicts"):
        trust.import_trust(kiosk_db, exported)
    with pytest.raises(trust.TrustListError, match="not a JSON object"):
        trust.import_trust(kiosk_db, [])


def test_import_cannot_revive_a_revoked_key(db, kiosk_db):
    good, _ = _issuer_with_cards(db)
    before = trust.export_trust(db)
    keys.revoke_key(db, before["keys"][0]["key_id"])
    trust.import_trust(kiosk_db, trust.export_trust(db))
    assert cards.verify(kiosk_db, good, EXPIRES).reasons == [cards.CARD_REVOKED]
    trust.import_trust(kiosk_db, before)  # an old list says the key is active
    assert cards.verify(kiosk_db, good, EXPIRES).reasons == [cards.CARD_REVOKED]


# ----------------------------------------------------------------------------- trust in memory

def test_trust_snapshot_is_reused_until_a_key_or_revocation_write(db):
    good, _ = _issuer_with_cards(db)
    first = trust.trust_snapshot(db)
    assert first is trust.trust_snapshot(db)  # no write: the same keys and revocations
    assert dict(first[0]) == trust.load_trust(db)[0] and first[1] == trust.load_trust(db)[1]
    writes = [
        lambda: trust.revoke_card(db, HOME, "M-9"),
        lambda: trust.revoke_card(db, HOME, "M-9"),  # already revoked: still re-read, harmless
        lambda: keys.rotate_key(db, HOME),
        lambda: keys.retire_key(db, keys.list_keys(db, HOME)[0]["key_id"]),
        lambda: trust.import_trust(db, trust.export_trust(db)),
    ]
    before = first
    for write in writes:
        write()
        after = trust.trust_snapshot(db)
        assert after is not before
        assert dict(after[0]) == trust.load_trust(db)[0] and after[1] == trust.load_trust(db)[1]
        before = after
    assert cards.verify(db, good, EXPIRES).reasons == [cards.KEY_UNKNOWN]  # retired above


def test_revocations_from_another_connection_take_effect_on_the_next_check(db, db_path):
    good, _ = _issuer_with_cards(db)
    assert cards.verify(db, good, EXPIRES).valid  # the desk holds the trust list in memory
    other = store.connect_migrated(db_path)  # the admin console's or the CLI's handle
    try:
        trust.revoke_card(other, HOME, "M-1")
        assert cards.verify(db, good, EXPIRES).reasons == [cards.CARD_REVOKED]
        fresh = cards.issue(other, HOME, "M-5", ["Ada Lovelace"], EXPIRES)
        assert cards.verify(db, fresh, EXPIRES).valid
        keys.revoke_key(other, keys.list_keys(other, HOME)[0]["key_id"])
        assert cards.verify(db, fresh, EXPIRES).reasons == [cards.CARD_REVOKED]
    finally:
        other.close()


def test_a_key_revoked_by_another_process_takes_effect_on_the_next_check(db, db_path):
    good, _ = _issuer_with_cards(db)
    assert cards.verify(db, good, EXPIRES).valid
    key_id = keys.list_keys(db, HOME)[0]["key_id"]
    script = ("import sys; from passport import keys, store; "
              "db = store.open_db(sys.argv[1]); keys.revoke_key(db, sys.argv[2]); db.close()")
    subprocess.run([sys.executable, "-c", script, str(db_path), key_id], check=True,
                   cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert cards.verify(db, good, EXPIRES).reasons == [cards.CARD_REVOKED]


def test_a_trust_import_on_another_connection_is_seen_at_once(db, kiosk_db, tmp_path):
    good, lost = _issuer_with_cards(db)
    assert cards.verify(kiosk_db, good, EXPIRES).reasons == [cards.KEY_UNKNOWN]
    other = store.connect_migrated(tmp_path / "kiosk.sqlite")
    try:
        trust.import_trust(other, trust.export_trust(db))
    finally:
        other.close()
    assert cards.verify(kiosk_db, good, EXPIRES).valid
    assert cards.verify(kiosk_db, lost, EXPIRES).reasons == [cards.CARD_REVOKED]


def test_a_store_without_a_trust_stamp_is_read_row_by_row(db):
    good, _ = _issuer_with_cards(db)
    # rows written before stores were stamped (or by hand): nothing cached, nothing missed
    db.execute("DELETE FROM settings WHERE key = ?", [store.TRUST_STAMP_SETTING])
    assert trust.trust_snapshot(db) is None
    assert cards.verify(db, good, EXPIRES).valid
    with db.atomic():
        db.execute("INSERT INTO card_revocations (institution_id, member_id, revoked_at) "
                   "VALUES (?, ?, ?)", [HOME, "M-1", store.utc_now_iso()])
    assert cards.verify(db, good, EXPIRES).reasons == [cards.CARD_REVOKED]


def test_a_garbled_key_row_fails_only_its_own_cards(db, monkeypatch):
    good, _ = _issuer_with_cards(db)
    other_key = keys.list_keys(db, OTHER)[0]["key_id"]
    with db.atomic():  # by hand: no store function writes an unreadable key
        db.execute("UPDATE issuer_keys SET public_key = 'AAAA' WHERE key_id = ?", [other_key])
    trust.revoke_card(db, HOME, "M-404")  # a new stamp: the snapshot is read again
    assert trust.trust_snapshot(db) is None  # read row by row, as before snapshots
    assert cards.verify(db, good, EXPIRES).valid

    def read_all_again(_db):
        raise AssertionError("every key and revocation read again under the same stamp")

    monkeypatch.setattr(trust, "load_trust", read_all_again)
    assert cards.verify(db, good, EXPIRES).valid
    trust.revoke_card(db, HOME, "M-1")  # the next write still takes effect at once
    monkeypatch.undo()
    assert cards.verify(db, good, EXPIRES).reasons == [cards.CARD_REVOKED]
