"""Apple Wallet passes (passport/pkpass.py and the batch's pkpass/ folder): the signature
verifies with openssl against a throwaway CA -> WWDR intermediate -> pass certificate, the
manifest's hashes match, and pass.json carries the signed payload."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from datetime import date, timedelta

import pytest
from passpki import NOW, PASS_TYPE_ID, TEAM_ID, make_pki
from rosterdata import ISSUER, issuing_store, member_rows, read_cards_csv, write_roster

from passport import cards, pkpass

OPENSSL = shutil.which("openssl")


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def _signer(chain) -> pkpass.PassSigner:
    return pkpass.load_signer(*((chain / f"{n}.pem").read_bytes() for n in ("cert", "key",
                                                                            "wwdr")),
                              PASS_TYPE_ID, TEAM_ID, now=NOW)


def _check_bundle(data: bytes, folder, chain) -> dict:
    """Unpack a .pkpass, check its manifest hashes and its signature with openssl; return
    pass.json."""
    folder.mkdir()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(folder)
        names = set(archive.namelist())
    assert names == {"pass.json", "icon.png", "icon@2x.png", "manifest.json", "signature"}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest) == names - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1((folder / name).read_bytes()).hexdigest() == digest
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    result = subprocess.run(
        [OPENSSL, "smime", "-verify", "-inform", "DER", "-binary", "-in", "signature",
         "-content", "manifest.json", "-CAfile", str(chain / "ca.pem"), "-out", "/dev/null"],
        cwd=folder, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
    return json.loads((folder / "pass.json").read_text(encoding="utf-8"))


def test_a_pass_verifies_with_openssl_and_carries_the_payload(chain, tmp_path):
    content = pkpass.PassContent("PYZ1ABCDEF234567", "M-1042", ("Zoë Lovelace", "Charles"),
                                 date(2027, 6, 30), 6, ISSUER, "Exploratorium",
                                 "Free general admission ...", "America/Los_Angeles")
    data = pkpass.build_pkpass(_signer(chain), content)
    document = _check_bundle(data, tmp_path / "pass", chain)
    assert document["passTypeIdentifier"] == PASS_TYPE_ID and document["teamIdentifier"] == TEAM_ID
    assert document["barcodes"] == [{"format": "PKBarcodeFormatQR",
                                     "message": "PYZ1ABCDEF234567",
                                     "messageEncoding": "iso-8859-1", "altText": "M-1042"}]
    assert document["expirationDate"] == "2027-06-30T23:59:59-07:00"
    assert document["organizationName"] == "Exploratorium"
    assert document["storeCard"]["primaryFields"][0]["value"] == "Zoë Lovelace, Charles"
    assert document["serialNumber"] == f"{ISSUER}:M-1042"


def test_a_tampered_manifest_fails_openssl(chain, tmp_path):
    content = pkpass.PassContent("PYZ1ABC", "M-1", ("Ada",), date(2027, 6, 30), 1, ISSUER,
                                 "Home", "benefit")
    data = pkpass.build_pkpass(_signer(chain), content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    result = subprocess.run(
        [OPENSSL, "smime", "-verify", "-inform", "DER", "-binary", "-in", "signature",
         "-content", "manifest.json", "-CAfile", str(chain / "ca.pem"), "-out", "/dev/null"],
        cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode != 0


def test_load_signer_names_what_does_not_fit(chain):
    files = {n: (chain / f"{n}.pem").read_bytes() for n in ("cert", "key", "wwdr", "other_key")}
    cases = [
        ((files["cert"], files["other_key"], files["wwdr"], PASS_TYPE_ID, TEAM_ID),
         "does not belong to the pass certificate"),
        ((files["cert"], files["key"], files["cert"], PASS_TYPE_ID, TEAM_ID),
         "not issued by that WWDR certificate"),
        ((files["cert"], files["key"], files["wwdr"], "pass.org.example.other", TEAM_ID),
         f"is for {PASS_TYPE_ID}, not pass.org.example.other"),
        ((files["cert"], files["key"], files["wwdr"], "org.example", TEAM_ID),
         "should look like pass."),
        ((files["cert"], files["key"], files["wwdr"], PASS_TYPE_ID, "team"),
         "10 letters and digits"),
        ((b"junk", files["key"], files["wwdr"], PASS_TYPE_ID, TEAM_ID),
         "not a PEM certificate"),
        ((files["cert"], b"junk", files["wwdr"], PASS_TYPE_ID, TEAM_ID),
         "not a PEM private key"),
    ]
    for arguments, message in cases:
        with pytest.raises(pkpass.PassSetupError, match=message.replace(".", r"\.")):
            pkpass.load_signer(*arguments, now=NOW)
    with pytest.raises(pkpass.PassSetupError, match="not valid now"):
        pkpass.load_signer(files["cert"], files["key"], files["wwdr"], PASS_TYPE_ID, TEAM_ID,
                           now=NOW + timedelta(days=400))


def test_the_batch_writes_one_verified_pass_per_member(cli, db, chain, tmp_path):
    issuing_store(db)
    rows = member_rows(4)
    rows[1]["Constituent ID"] = "C/1 ü"  # not a file name as it is
    roster = write_roster(tmp_path / "r.csv", rows)
    result = cli("cards", "issue-batch", roster, "--institution", ISSUER, "--out",
                 tmp_path / "out", "--no-pdf", "--json",
                 "--pkpass-cert", chain / "cert.pem", "--pkpass-key", chain / "key.pem",
                 "--pkpass-wwdr", chain / "wwdr.pem", "--pass-type-id", PASS_TYPE_ID,
                 "--team-id", TEAM_ID)
    out = json.loads(result.stdout)
    assert out["files"]["pkpass"] == str(tmp_path / "out" / "pkpass")
    lines = read_cards_csv(tmp_path / "out" / "cards.csv")
    assert [line["pkpass"] for line in lines] == [
        "pkpass/C100000.pkpass", "pkpass/C_1.pkpass", "pkpass/C100002.pkpass",
        "pkpass/C100003.pkpass"]
    for n, line in enumerate(lines):
        document = _check_bundle((tmp_path / "out" / line["pkpass"]).read_bytes(),
                                 tmp_path / f"unpacked{n}", chain)
        assert document["barcodes"][0]["message"] == line["payload"]
        card = cards.decode(line["payload"])
        assert document["storeCard"]["primaryFields"][0]["value"] == ", ".join(card.names)
        assert document["organizationName"] == "Exploratorium"
        assert document["expirationDate"].startswith(card.expires.isoformat() + "T23:59:59")
