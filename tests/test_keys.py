"""Issuer keys: encryption at rest (passport.keyvault) and the key life cycle."""

from __future__ import annotations

import os
import stat
from datetime import date

import pytest
from cryptography.hazmat.primitives import serialization

from passport import cards, keys, keyvault, store

HOME = "exploratorium-san-francisco"
OTHER = "museum-of-science-boston-boston"
EXPIRES = date(2027, 6, 30)


def _secret_path():
    return store.default_instance_dir() / keyvault.SECRET_FILENAME


# ----------------------------------------------------------------------------- at rest

def test_private_key_is_encrypted_and_secret_file_is_0600(db, monkeypatch):
    monkeypatch.delenv(keyvault.SECRET_ENV_VAR, raising=False)
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
    monkeypatch.setenv(keyvault.SECRET_ENV_VAR, "correct horse battery staple")
    keys.create_key(db, HOME)
    assert not _secret_path().exists()  # the variable replaces the file
    monkeypatch.setenv(keyvault.SECRET_ENV_VAR, "another sixteen+ characters")
    with pytest.raises(keys.KeyStoreError, match="cannot decrypt"):
        cards.issue(db, HOME, "M-1", ["Ada"], EXPIRES)
    monkeypatch.setenv(keyvault.SECRET_ENV_VAR, "short")
    with pytest.raises(keys.KeyStoreError, match="shorter than"):
        cards.issue(db, HOME, "M-1", ["Ada"], EXPIRES)


def test_secret_file_readable_by_others_is_refused(db, monkeypatch):
    monkeypatch.delenv(keyvault.SECRET_ENV_VAR, raising=False)
    keys.create_key(db, HOME)
    os.chmod(_secret_path(), 0o644)
    with pytest.raises(keys.KeyStoreError, match="chmod 600"):
        cards.issue(db, HOME, "M-1", ["Ada"], EXPIRES)


def test_missing_secret_file_is_not_silently_recreated(db, monkeypatch):
    monkeypatch.delenv(keyvault.SECRET_ENV_VAR, raising=False)
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
    raw = keys.b64u_decode(created["public_key"])
    assert len(raw) == 32 and keys.key_id_for(raw) == created["key_id"]


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
