"""Issuer private keys at rest: AES-256-GCM blobs under the instance secret.

Private keys are encrypted with AES-256-GCM under a key derived (HKDF-SHA256) from
``$PASSPORT_SECRET_KEY`` when set, else from the file ``card-keys.secret`` in the instance
folder, created on first use with 0600 permissions. Neither belongs in the repository; losing
the secret means re-creating keys (the public keys and cards stay verifiable).

A blob is ``PK1``, a 12-byte nonce, then the sealed raw 32-byte key and its tag, with the
key id and its institution bound in as associated data. The key life cycle is ``passport.keys``.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from passport import store

log = logging.getLogger(__name__)

SECRET_ENV_VAR = "PASSPORT_SECRET_KEY"
SECRET_FILENAME = "card-keys.secret"
MIN_SECRET_CHARS = 16

_BLOB_MAGIC = b"PK1"
_HKDF_INFO = b"passport issuer private keys v1"


class KeyStoreError(Exception):
    """A key operation cannot be done: unknown key, no signing key, unreadable secret."""


def _secret_bytes(create: bool) -> bytes:
    env = os.environ.get(SECRET_ENV_VAR)
    if env:
        if len(env) < MIN_SECRET_CHARS:
            raise KeyStoreError(f"${SECRET_ENV_VAR} is shorter than {MIN_SECRET_CHARS} characters")
        return env.encode("utf-8")
    path = store.default_instance_dir() / SECRET_FILENAME
    if not path.exists():
        if not create:
            raise KeyStoreError(f"no key secret: set ${SECRET_ENV_VAR} or restore {path}")
        _create_secret_file(path)
    mode = path.stat().st_mode
    if mode & 0o077:
        raise KeyStoreError(f"{path} is readable by others; run: chmod 600 {path}")
    text = path.read_text(encoding="ascii").strip()
    if len(text) < MIN_SECRET_CHARS:
        raise KeyStoreError(f"{path} holds no usable secret")
    return text.encode("ascii")


def _create_secret_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes creating keys at once must not overwrite each other's secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    log.info("created key secret %s", path)


def _aead(create: bool) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        _secret_bytes(create)
    )
    return AESGCM(key)


def derived_key(purpose: bytes, *, create: bool = False) -> bytes:
    """A 32-byte key for ``purpose`` derived (HKDF-SHA256) from the same secret as the key
    blobs, e.g. to keep a keyed hash of a card's contents; ``KeyStoreError`` without it
    (``create``: make the secret file on first use, as a first key does)."""
    if purpose == _HKDF_INFO:
        raise ValueError("that purpose is the private keys' own")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        _secret_bytes(create=create))


def encrypt_private(private: Ed25519PrivateKey, key_id: str, institution_id: str) -> bytes:
    """The blob to store for ``private``; creates the secret file on first use."""
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    nonce = os.urandom(12)
    # The key id and institution are bound in as associated data: a blob copied onto
    # another row does not decrypt.
    aad = f"{key_id}|{institution_id}".encode()
    return _BLOB_MAGIC + nonce + _aead(create=True).encrypt(nonce, raw, aad)


def decrypt_private(blob: bytes, key_id: str, institution_id: str) -> Ed25519PrivateKey:
    """The private key in ``blob``; ``KeyStoreError`` when the secret is missing or wrong."""
    blob = bytes(blob)
    if not blob.startswith(_BLOB_MAGIC):
        raise KeyStoreError(f"private key of {key_id} is in an unknown format")
    nonce, sealed = blob[3:15], blob[15:]
    aad = f"{key_id}|{institution_id}".encode()
    try:
        raw = _aead(create=False).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise KeyStoreError(
            f"cannot decrypt the private key of {key_id}: wrong ${SECRET_ENV_VAR} "
            "or instance secret file"
        ) from None
    return Ed25519PrivateKey.from_private_bytes(raw)
