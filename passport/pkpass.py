"""Apple Wallet passes (``.pkpass``) of member cards, signed with the site's Pass Type ID.

A pass is a ZIP of ``pass.json`` (a ``storeCard`` whose QR barcode is the card's signed
payload, ``PKBarcodeFormatQR``, ``messageEncoding`` iso-8859-1; ``expirationDate`` the end of
the card's last valid day in the home site's time zone; the names, the home site, the
member id and the program's rule), ``icon.png`` and ``icon@2x.png`` (drawn here with
Pillow), ``manifest.json`` (the SHA-1 of every other file) and ``signature``: a detached
PKCS#7 signature (DER) over ``manifest.json`` by the Pass Type ID certificate's key, with
Apple's WWDR intermediate certificate included (``cryptography``'s ``PKCS7SignatureBuilder``).

Set-up: in Apple's developer portal, a Pass Type ID (``pass.org.example.members``) and its
certificate; export it with its key as PEM files, and Apple's WWDR intermediate certificate
(G4) as PEM. ``load_signer`` checks the three fit together.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import zipfile
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

PASS_TYPE_ID_RE = re.compile(r"^pass\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
TEAM_ID_RE = re.compile(r"^[A-Z0-9]{10}$")
BACKGROUND_RGB = (23, 92, 140)
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # fixed times: the same pass is the same bytes


class PassSetupError(ValueError):
    """The Pass Type ID certificate, its key, the WWDR certificate or the ids do not fit."""


@dataclass(frozen=True)
class PassSigner:
    """What signs passes: the Pass Type ID certificate and key, Apple's WWDR intermediate,
    the pass type identifier and the team identifier."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    wwdr: x509.Certificate
    pass_type_id: str
    team_id: str


@dataclass(frozen=True)
class PassContent:
    """One member's pass: the card's payload and what the pass shows."""

    payload: str
    member_id: str
    names: tuple[str, ...]
    expires: date
    party_size: int
    home_id: str
    home_name: str
    benefit: str
    timezone: str | None = None


def _certificate(pem: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise PassSetupError(f"the {what} is not a PEM certificate") from None


def _private_key(pem: bytes, password: bytes | None):
    try:
        key = serialization.load_pem_private_key(pem, password=password or None)
    except TypeError:
        raise PassSetupError("the pass key is encrypted: give its password") from None
    except ValueError:
        raise PassSetupError("the pass key is not a PEM private key (or the password is "
                             "wrong)") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise PassSetupError("the pass key must be an RSA or EC key")
    return key


def _public_der(key) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def load_signer(cert_pem: bytes, key_pem: bytes, wwdr_pem: bytes, pass_type_id: str,
                team_id: str, key_password: bytes | None = None,
                now: datetime | None = None) -> PassSigner:
    """Check and load the signing set-up; ``PassSetupError`` naming what does not fit (a
    file that is not PEM, a key of another certificate, an expired certificate, a
    certificate of another pass type id or not issued by that WWDR certificate)."""
    pass_type_id, team_id = (pass_type_id or "").strip(), (team_id or "").strip()
    if not PASS_TYPE_ID_RE.match(pass_type_id):
        raise PassSetupError(f"pass type id {pass_type_id!r} should look like "
                             "pass.org.example.members")
    if not TEAM_ID_RE.match(team_id):
        raise PassSetupError(f"team id {team_id!r} should be Apple's 10 letters and digits")
    certificate = _certificate(cert_pem, "pass certificate")
    wwdr = _certificate(wwdr_pem, "WWDR certificate")
    key = _private_key(key_pem, key_password)
    if _public_der(key.public_key()) != _public_der(certificate.public_key()):
        raise PassSetupError("the pass key does not belong to the pass certificate")
    moment = now or datetime.now(UTC)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise PassSetupError(f"the pass certificate is not valid now (valid "
                             f"{certificate.not_valid_before_utc:%Y-%m-%d} to "
                             f"{certificate.not_valid_after_utc:%Y-%m-%d})")
    if certificate.issuer != wwdr.subject:
        raise PassSetupError("the pass certificate was not issued by that WWDR certificate")
    uids = certificate.subject.get_attributes_for_oid(NameOID.USER_ID)
    if uids and uids[0].value != pass_type_id:
        raise PassSetupError(f"the pass certificate is for {uids[0].value}, not {pass_type_id}")
    return PassSigner(certificate, key, wwdr, pass_type_id, team_id)


# --------------------------------------------------------------------------- the pass

def expiration_instant(expires: date, timezone_name: str | None) -> str:
    """The end of the last valid day (23:59:59) in the site's zone (UTC when unknown), as
    the W3C date-time ``expirationDate`` takes."""
    try:
        zone = zoneinfo.ZoneInfo(timezone_name) if timezone_name else UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = UTC
    end = datetime.combine(expires + timedelta(days=1), time(0), zone) - timedelta(seconds=1)
    return end.isoformat()


def _field(key: str, label: str, value: str) -> dict:
    return {"key": key, "label": label, "value": value}


def pass_json(signer: PassSigner, content: PassContent) -> dict:
    """The ``pass.json`` of one member's card."""
    barcode = {"format": "PKBarcodeFormatQR", "message": content.payload,
               "messageEncoding": "iso-8859-1", "altText": content.member_id}
    membership = "Individual" if content.party_size == 1 else \
        f"Group, up to {content.party_size} people"
    last_day = f"{content.expires.day} {content.expires:%B} {content.expires.year}"
    return {
        "formatVersion": 1,
        "passTypeIdentifier": signer.pass_type_id,
        "teamIdentifier": signer.team_id,
        # one pass per member and home site: a renewed card replaces the old pass in Wallet
        "serialNumber": f"{content.home_id}:{content.member_id}",
        "organizationName": content.home_name,
        "description": f"Passport member card of {content.home_name}",
        "logoText": content.home_name[:40],
        "foregroundColor": "rgb(255, 255, 255)",
        "labelColor": "rgb(200, 225, 245)",
        "backgroundColor": "rgb({}, {}, {})".format(*BACKGROUND_RGB),
        "expirationDate": expiration_instant(content.expires, content.timezone),
        "barcodes": [barcode],
        "barcode": barcode,  # iOS 8 and older read only this key
        "storeCard": {
            "primaryFields": [_field("names", "MEMBERS", ", ".join(content.names))],
            "secondaryFields": [_field("home", "HOME SITE", content.home_name),
                                _field("expires", "VALID THROUGH", last_day)],
            "auxiliaryFields": [_field("member", "MEMBER", content.member_id),
                                _field("membership", "MEMBERSHIP", membership)],
            "backFields": [_field("benefit", "PROGRAM", content.benefit),
                           _field("all_names", "NAMES ON THE CARD", "\n".join(content.names))],
        },
    }


@functools.cache
def icon_files() -> dict[str, bytes]:
    """``icon.png`` (29 x 29) and ``icon@2x.png`` (58 x 58): a white card with a QR-like
    mark on the pass colour, drawn with Pillow (no artwork to ship)."""
    from PIL import Image, ImageDraw

    out = {}
    for name, size in (("icon.png", 29), ("icon@2x.png", 58)):
        image = Image.new("RGB", (size, size), BACKGROUND_RGB)
        draw = ImageDraw.Draw(image)
        unit = size / 29
        draw.rounded_rectangle((3 * unit, 6 * unit, 26 * unit, 23 * unit), radius=3 * unit,
                               fill="white")
        for x, y in ((6, 9), (6, 16), (13, 9)):  # three finder-pattern squares
            draw.rectangle((x * unit, y * unit, (x + 4) * unit, (y + 4) * unit),
                           fill=BACKGROUND_RGB)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        out[name] = buffer.getvalue()
    return out


def manifest(files: dict[str, bytes]) -> bytes:
    """``manifest.json``: each file's SHA-1 in hex."""
    hashed = {name: hashlib.sha1(data).hexdigest() for name, data in sorted(files.items())}
    return json.dumps(hashed, indent=1).encode("utf-8")


def sign_manifest(signer: PassSigner, manifest_bytes: bytes) -> bytes:
    """The detached PKCS#7 signature (DER) of ``manifest.json``, WWDR certificate included."""
    return (pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest_bytes)
            .add_signer(signer.certificate, signer.private_key, hashes.SHA256())
            .add_certificate(signer.wwdr)
            .sign(serialization.Encoding.DER,
                  [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]))


def build_pkpass(signer: PassSigner, content: PassContent) -> bytes:
    """The ``.pkpass`` file of one member's card, as bytes."""
    files = {"pass.json": json.dumps(pass_json(signer, content), ensure_ascii=False,
                                     indent=1).encode("utf-8"),
             **icon_files()}
    files["manifest.json"] = manifest(files)
    files["signature"] = sign_manifest(signer, files["manifest.json"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, _ZIP_TIME), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def pass_filename(member_id: str, taken: set[str]) -> str:
    """A file name for a member's pass (letters, digits, ``._-``), unique within ``taken``
    (which it joins)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", member_id).strip("._") or "member"
    name, number = f"{stem}.pkpass", 1
    while name.casefold() in taken:
        number += 1
        name = f"{stem}-{number}.pkpass"
    taken.add(name.casefold())
    return name
