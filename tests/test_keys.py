"""Issuer keys: encryption at rest, life cycle, and the trust list (all or nothing)."""

from __future__ import annotations

import copy
import os
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from passport import cards, keys, store

HOME = "exploratorium-san-francisco"
OTHER = "museum-of-science-boston-boston"
EXPIRES = date(2027, 6, 30)


@pytest.fixture
def kiosk_db(tmp_path):
    database = store.open_db(tmp_path / "kiosk.sqlite")
    yield database
    database.close()


def _secret_path():
    return store.default_instance_dir() / keys.SECRET_FILENAME


# ----------------------------------------------------------------------------- at rest

def test_private_key_is_encrypted_and_secret_file_is_0600(db, monkeypatch):
    monkeypatch.delenv(keys.SECRET_ENV_VAR, raising=False)
    created = keys.create_key(db, HOME)
    assert stat.S_IMODE(os.stat(_secret_path()).st_mode) == 0o600
    row = store.get_issuer_key_row(db, created["key_id"])
    key_id, private = keys.signing_key(db, HOME)
    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    assert key_id == created["key_id"]
    assert raw not in bytes(row["private_key"])
    assert "private_key" not in created and created["has_private_key"]


def test_wrong_secret_cannot_sign(db, monkeypatch):
    monkeypatch.setenv(keys.SECRET_ENV_VAR, "correct horse battery staple")
    keys.create_key(db, HOME)
    assert not _secret_path().exists()  # the variable replaces the file
    monkeypatch.setenv(keys.SECRET_ENV_VAR, "another sixteen+ characters")
    with pytest.raises(keys.KeyStoreError, match="cannot decrypt"):
        cards.issue(db, HOME, "M-1", ["Ada"], EXPIRES)
    monkeypatch.setenv(keys.SECRET_ENV_VAR, "short")
    with pytest.raises(keys.KeyStoreError, match="shorter than"):
        cards.issue(db, HOME, "M-1", ["Ada"], EXPIRES)


def test_secret_file_readable_by_others_is_refused(db, monkeypatch):
    monkeypatch.delenv(keys.SECRET_ENV_VAR, raising=False)
    keys.create_key(db, HOME)
    os.chmod(_secret_path(), 0o644)
    with pytest.raises(keys.KeyStoreError, match="chmod 600"):
        cards.issue(db, HOME, "M-1", ["Ada"], EXPIRES)


def test_missing_secret_file_is_not_silently_recreated(db, monkeypatch):
    monkeypatch.delenv(keys.SECRET_ENV_VAR, raising=False)
    keys.create_key(db, HOME)
    _secret_path().unlink()
    with pytest.raises(keys.KeyStoreError, match="no key secret"):
        cards.issue(db, HOME, "M-1", ["Ada"], EXPIRES)
    assert not _secret_path().exists()


# ----------------------------------------------------------------------------- life cycle

def test_create_rotate_retire_revoke(db):
    with pytest.raises(keys.KeyStoreError, match="use create"):
        keys.rotate_key(db, HOME)
    first = keys.create_key(db, HOME)
    with pytest.raises(keys.KeyStoreError, match="use rotate"):
        keys.create_key(db, HOME)
    second = keys.rotate_key(db, HOME)
    listed = {k["key_id"]: k for k in keys.list_keys(db)}
    assert listed[first["key_id"]]["signing"] is False
    assert listed[second["key_id"]]["signing"] is True
    retired = keys.retire_key(db, first["key_id"])
    assert retired["status"] == keys.RETIRED and not retired["has_private_key"]
    revoked = keys.revoke_key(db, second["key_id"])
    assert revoked["status"] == keys.REVOKED and not revoked["has_private_key"]
    with pytest.raises(keys.KeyStoreError, match="unknown key id"):
        keys.revoke_key(db, "000000000000")
    with pytest.raises(ValueError, match="institution id"):
        keys.create_key(db, "not valid!")
    # after both ended, a new first key can be made
    assert keys.create_key(db, HOME)["status"] == keys.ACTIVE


def test_key_id_is_derived_from_the_public_key(db):
    created = keys.create_key(db, HOME)
    raw = keys._unb64u(created["public_key"])
    assert len(raw) == 32 and keys.key_id_for(raw) == created["key_id"]


# ----------------------------------------------------------------------------- trust list

def _issuer_with_cards(db):
    keys.create_key(db, HOME)
    keys.create_key(db, OTHER)
    good = cards.issue(db, HOME, "M-1", ["Ada Lovelace"], EXPIRES)
    lost = cards.issue(db, OTHER, "M-2", ["Grace Hopper"], EXPIRES)
    keys.revoke_card(db, OTHER, "M-2", "reported lost")
    return good, lost


def test_export_import_lets_a_kiosk_verify_offline(db, kiosk_db):
    good, lost = _issuer_with_cards(db)
    assert cards.verify(kiosk_db, good, EXPIRES).reasons == [cards.KEY_UNKNOWN]
    exported = keys.export_trust(db)
    assert exported["format"] == keys.TRUST_FORMAT and exported["version"] == 1
    assert all("private" not in name for entry in exported["keys"] for name in entry)
    result = keys.import_trust(kiosk_db, exported)
    assert result == {"keys": 2, "keys_added": 2, "revoked_cards": 1, "revoked_cards_added": 1}
    assert cards.verify(kiosk_db, good, EXPIRES).valid
    assert cards.verify(kiosk_db, lost, EXPIRES).reasons == [cards.CARD_REVOKED]
    # the kiosk can verify but not sign
    with pytest.raises(keys.KeyStoreError, match="no signing key"):
        cards.issue(kiosk_db, HOME, "M-3", ["X"], EXPIRES)
    again = keys.import_trust(kiosk_db, exported)
    assert again["keys_added"] == 0 and again["revoked_cards_added"] == 0


def test_load_trust_matches_the_store(db):
    good, lost = _issuer_with_cards(db)
    trust, revoked = keys.load_trust(db)
    assert cards.verify_with_trust(good, trust, EXPIRES, revoked).valid
    assert cards.verify_with_trust(lost, trust, EXPIRES, revoked).reasons == [cards.CARD_REVOKED]


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
    exported = keys.export_trust(db)
    spoil(exported)
    with pytest.raises(keys.TrustListError, match=message) as caught:
        keys.import_trust(kiosk_db, exported)
    assert caught.value.errors
    assert keys.list_keys(kiosk_db) == []
    assert store.list_card_revocation_rows(kiosk_db) == []


def test_import_conflicting_key_and_non_object_rejected(db, kiosk_db):
    _issuer_with_cards(db)
    exported = keys.export_trust(db)
    keys.import_trust(kiosk_db, exported)
    exported["keys"][0]["institution_id"] = OTHER
    with pytest.raises(keys.TrustListError, match="conflicts"):
        keys.import_trust(kiosk_db, exported)
    with pytest.raises(keys.TrustListError, match="not a JSON object"):
        keys.import_trust(kiosk_db, [])


def test_import_cannot_revive_a_revoked_key(db, kiosk_db):
    good, _ = _issuer_with_cards(db)
    before = keys.export_trust(db)
    keys.revoke_key(db, before["keys"][0]["key_id"])
    keys.import_trust(kiosk_db, keys.export_trust(db))
    assert cards.verify(kiosk_db, good, EXPIRES).reasons == [cards.CARD_REVOKED]
    keys.import_trust(kiosk_db, before)  # an old list says the key is active
    assert cards.verify(kiosk_db, good, EXPIRES).reasons == [cards.CARD_REVOKED]


# ----------------------------------------------------------------------------- trust in memory

def test_trust_snapshot_is_reused_until_a_key_or_revocation_write(db):
    good, _ = _issuer_with_cards(db)
    first = keys.trust_snapshot(db)
    assert first is keys.trust_snapshot(db)  # no write: the same keys and revocations
    assert dict(first[0]) == keys.load_trust(db)[0] and first[1] == keys.load_trust(db)[1]
    writes = [
        lambda: keys.revoke_card(db, HOME, "M-9"),
        lambda: keys.revoke_card(db, HOME, "M-9"),  # already revoked: still re-read, harmless
        lambda: keys.rotate_key(db, HOME),
        lambda: keys.retire_key(db, keys.list_keys(db, HOME)[0]["key_id"]),
        lambda: keys.import_trust(db, keys.export_trust(db)),
    ]
    before = first
    for write in writes:
        write()
        after = keys.trust_snapshot(db)
        assert after is not before
        assert dict(after[0]) == keys.load_trust(db)[0] and after[1] == keys.load_trust(db)[1]
        before = after
    assert cards.verify(db, good, EXPIRES).reasons == [cards.KEY_UNKNOWN]  # retired above


def test_revocations_from_another_connection_take_effect_on_the_next_check(db, db_path):
    good, _ = _issuer_with_cards(db)
    assert cards.verify(db, good, EXPIRES).valid  # the desk holds the trust list in memory
    other = store.connect_migrated(db_path)  # the admin console's or the CLI's handle
    try:
        keys.revoke_card(other, HOME, "M-1")
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
        keys.import_trust(other, keys.export_trust(db))
    finally:
        other.close()
    assert cards.verify(kiosk_db, good, EXPIRES).valid
    assert cards.verify(kiosk_db, lost, EXPIRES).reasons == [cards.CARD_REVOKED]


def test_a_store_without_a_trust_stamp_is_read_row_by_row(db):
    good, _ = _issuer_with_cards(db)
    # rows written before stores were stamped (or by hand): nothing cached, nothing missed
    db.execute("DELETE FROM settings WHERE key = ?", [store.TRUST_STAMP_SETTING])
    assert keys.trust_snapshot(db) is None
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
    keys.revoke_card(db, HOME, "M-404")  # a new stamp: the snapshot is read again
    assert keys.trust_snapshot(db) is None  # read row by row, as before snapshots
    assert cards.verify(db, good, EXPIRES).valid

    def read_all_again(_db):
        raise AssertionError("every key and revocation read again under the same stamp")

    monkeypatch.setattr(keys, "load_trust", read_all_again)
    assert cards.verify(db, good, EXPIRES).valid
    keys.revoke_card(db, HOME, "M-1")  # the next write still takes effect at once
    monkeypatch.undo()
    assert cards.verify(db, good, EXPIRES).reasons == [cards.CARD_REVOKED]


@pytest.mark.parametrize("good", ["museum:annex", "A.b_c-1"])
def test_every_id_the_list_accepts_can_issue_cards(db, good):
    """One id rule: an institution the importer accepts can hold keys and issue cards."""
    from passport.ids import INSTITUTION_ID_PATTERN as ID_PATTERN

    assert ID_PATTERN.fullmatch(good)
    keys.create_key(db, good)
    payload = cards.issue(db, good, "M1", ["Ada"], date(2030, 1, 1))
    assert cards.verify(db, payload, date(2027, 1, 1)).valid


@pytest.mark.parametrize("bad", ["", "-lead", "has space", "x" * 101, "semi;colon"])
def test_ids_the_list_refuses_are_refused(db, bad):
    with pytest.raises(ValueError, match="not a valid institution id"):
        keys.create_key(db, bad)
