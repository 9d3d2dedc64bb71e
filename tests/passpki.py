"""A throwaway PKI for the Wallet pass tests: a root CA, a "WWDR" intermediate it signs and a
Pass Type ID certificate the intermediate signs, as PEM files (the pass key unencrypted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

PASS_TYPE_ID = "pass.org.example.members"
TEAM_ID = "A1B2C3D4E5"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _name(common: str, **extra) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    attributes += [x509.NameAttribute(oid, value) for oid, value in extra.items()]
    return x509.Name(attributes)


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool):
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - timedelta(days=1))
               .not_valid_after(NOW + timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=not ca, content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                   crl_sign=ca, encipher_only=False, decipher_only=False), critical=True))
    return builder.sign(signing_key, hashes.SHA256())


def make_pki(folder: Path) -> Path:
    """``ca.pem``, ``wwdr.pem``, ``cert.pem``, ``key.pem`` (and ``other_key.pem``, the
    intermediate's key) in ``folder``; returns it."""
    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)]
    root_name = _name("Test Root CA")
    wwdr_name = _name("Test Worldwide Developer Relations CA")
    pass_name = x509.Name([
        x509.NameAttribute(NameOID.USER_ID, PASS_TYPE_ID),
        x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {PASS_TYPE_ID}"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, TEAM_ID),
    ])
    root = _certificate(root_name, root_name, keys[0].public_key(), keys[0], ca=True)
    wwdr = _certificate(wwdr_name, root_name, keys[1].public_key(), keys[0], ca=True)
    leaf = _certificate(pass_name, wwdr_name, keys[2].public_key(), keys[1], ca=False)
    pem = serialization.Encoding.PEM
    files = {"ca": root.public_bytes(pem), "wwdr": wwdr.public_bytes(pem),
             "cert": leaf.public_bytes(pem),
             "key": keys[2].private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()),
             "other_key": keys[1].private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption())}
    for name, data in files.items():
        (folder / f"{name}.pem").write_bytes(data)
    return folder
