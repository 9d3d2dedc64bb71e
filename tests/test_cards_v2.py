"""Card format version 2: the programs a membership qualifies for. Version 1 cards stay
byte for byte and mean ASTC only; version 2 round trips, decodes programs it does not know,
refuses non-canonical spellings, and any change to its programs breaks the signature."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import date

import pytest
import zxingcpp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from passport import admission, cards, institutions, keys, qr
from passport.trust import TrustedKey

HOME = "exploratorium-san-francisco"
VISIT = "museum-of-science-boston-boston"
EXPIRES = date(2027, 6, 30)
ON = date(2026, 7, 4)
TYPICAL_ID = "anniston-museums-and-gardens-anniston"  # the list's median id (tests/test_qr.py)


@pytest.fixture(scope="module")
def signer():
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    key_id = keys.key_id_for(raw)
    return private, key_id, {key_id: TrustedKey(key_id, HOME, private.public_key(), keys.ACTIVE)}


def _card(key_id, programs, issuer=HOME, version=None):
    programs = cards.canonical_programs(programs)
    return cards.Card(version or cards.card_version(programs), issuer, key_id, "M-2026-00417",
                      ("Ada Lovelace", "Charles Babbage"), 6, EXPIRES, "94111", "US", programs)


def _raw(payload: str) -> bytes:
    text = payload[4:]
    return base64.b32decode(text + "=" * (-len(text) % 8))


def _text(prefix: str, raw: bytes) -> str:
    return prefix + base64.b32encode(raw).decode().rstrip("=")


def _signed_body(private, prefix: str, body: bytes) -> str:
    """A payload of any body, correctly signed: only the format can refuse it."""
    return _text(prefix, body + private.sign(prefix.encode() + body))


def _body(payload: str) -> bytes:
    return _raw(payload)[:-cards.SIGNATURE_BYTES]


# --------------------------------------------------------------------------- issuing

def test_astc_only_cards_stay_version_1_byte_for_byte(db, signer):
    keys.create_key(db, HOME)
    payload = cards.issue(db, HOME, "M-1", ["Ada Lovelace"], EXPIRES)
    explicit = cards.issue(db, HOME, "M-1", ["Ada Lovelace"], EXPIRES, programs=["astc"])
    assert payload.startswith("PYZ1") and explicit.startswith("PYZ1")
    # the same bytes as a version 1 card built the old way (no programs field)
    old = cards.Card(1, HOME, cards.decode(payload).key_id, "M-1", ("Ada Lovelace",), 1,
                     EXPIRES)
    assert _body(cards.sign(old, signer[0])) == _body(payload)
    check = cards.verify(db, payload, ON)
    assert check.valid and check.card.programs == ("astc",)
    assert check.to_json()["card"]["programs"] == ["astc"]


def test_version_2_round_trip(db):
    keys.create_key(db, HOME)
    payload = cards.issue(db, HOME, "M-2", ["Ada Lovelace"], EXPIRES,
                          programs="narm, astc, aza")
    assert payload.startswith("PYZ2")
    check = cards.verify(db, payload, ON)
    assert check.valid, check.reasons
    assert check.card.version == 2 and check.card.programs == ("astc", "narm", "aza")
    assert check.card.to_json()["programs"] == ["astc", "narm", "aza"]
    # NARM alone: no ASTC on the card
    narm_only = cards.verify(db, cards.issue(db, HOME, "M-3", ["Ada"], EXPIRES,
                                             programs=["narm"]), ON)
    assert narm_only.valid and narm_only.card.programs == ("narm",)


@pytest.mark.parametrize("programs, error", [
    (["astc", "narn"], "no program 'narn'"),
    (["astc", "astc"], "named twice"),
    (["ASTC"], "not a program id"),
    ([], "1 to 8 programs"),
])
def test_issue_refuses_bad_programs(db, programs, error):
    keys.create_key(db, HOME)
    with pytest.raises(cards.CardIssueError, match=error):
        cards.issue(db, HOME, "M-4", ["Ada"], EXPIRES, programs=programs)


def test_a_version_1_card_cannot_name_other_programs(signer):
    private, key_id, _ = signer
    with pytest.raises(cards.CardIssueError, match="need version 2"):
        cards.sign(_card(key_id, ["astc", "narm"], version=1), private)


# --------------------------------------------------------------------------- decoding

def test_unknown_program_ids_decode_and_verify(signer):
    private, key_id, trust = signer
    payload = cards.sign(_card(key_id, ["zoo-pass", "astc", "garden-trail"]), private)
    check = cards.verify_with_trust(payload, trust, ON)
    assert check.valid
    assert check.card.programs == ("astc", "garden-trail", "zoo-pass")


def test_decisions_ignore_programs_the_store_does_not_know(db, shipped_csv):
    institutions.import_file(db, shipped_csv, actor="test")
    key = keys.create_key(db, HOME)
    private = keys.signing_key(db, HOME)[1]
    payload = cards.sign(_card(key["key_id"], ["astc", "zoo-pass"]), private)
    decision = admission.check(db, VISIT, card=payload, on=ON)
    assert decision.admit, decision.reasons
    assert decision.to_json()["card"]["programs"] == ["astc", "zoo-pass"]


def test_tampering_with_the_programs_fails_the_signature(signer):
    private, key_id, trust = signer
    payload = cards.sign(_card(key_id, ["astc", "narm"]), private)
    raw = bytearray(_raw(payload))
    programs_at = len(raw) - cards.SIGNATURE_BYTES - 1  # the last body byte
    assert raw[programs_at] == 0b11  # astc | narm
    for bits in (0b1, 0b111, 0b10):  # drop NARM, add AZA, drop ASTC
        raw[programs_at] = bits
        check = cards.verify_with_trust(_text("PYZ2", bytes(raw)), trust, ON)
        assert check.reasons == [cards.CARD_SIGNATURE_INVALID], bits
    # the same body under the version 1 prefix: not a version 1 card (left-over byte)
    assert cards.verify_with_trust("PYZ1" + payload[4:], trust, ON).reasons == \
        [cards.CARD_MALFORMED]


def test_only_the_canonical_programs_encoding_is_accepted(signer):
    private, key_id, trust = signer
    base = _body(cards.sign(_card(key_id, ["astc"], version=2), private))[:-1]

    def packed(slug: str) -> bytes:
        number = 0
        for ch in slug:
            number = number * 37 + "-0123456789abcdefghijklmnopqrstuvwxyz".index(ch)
        return bytes([len(slug)]) + number.to_bytes(((37 ** len(slug) - 1).bit_length() + 7)
                                                    // 8, "big")

    good = _signed_body(private, "PYZ2", base + bytes([0x81, 1]) + packed("zoo"))
    assert cards.verify_with_trust(good, trust, ON).card.programs == ("astc", "zoo")
    for tail, detail in (
        (bytes([0x41]), "unknown program bits"),
        (bytes([0x81, 0]), "none follow"),
        (bytes([0x80, 2]) + packed("zoo") + packed("bee"), "canonical order"),
        (bytes([0x81, 1]) + packed("narm"), "spelled out"),
        (bytes([0x00]), "1 to 8 programs"),
        (bytes([0x81, 1]) + packed("-x"), "not a program id"),
        (b"", "ends early"),
    ):
        check = cards.verify_with_trust(_signed_body(private, "PYZ2", base + tail), trust, ON)
        assert check.reasons == [cards.CARD_MALFORMED] and detail in check.detail, detail


def test_scanner_layouts_are_undone_for_version_2(signer):
    private, key_id, _ = signer
    payload = cards.sign(_card(key_id, ["astc", "narm"]), private)
    qwertz = payload.translate(str.maketrans("YZ", "ZY"))
    assert qwertz.startswith("PZY2") and cards.normalize_scan(qwertz) == payload
    azerty = "PYWé" + payload[4:].translate(str.maketrans(
        {"A": "Q", "Q": "A", "Z": "W", "W": "Z", "M": "?", "2": "é", "3": '"', "4": "'",
         "5": "(", "6": "-", "7": "è"}))
    assert cards.normalize_scan(azerty) == payload


# --------------------------------------------------------------------------- size

@pytest.mark.parametrize("programs, chars, version", [
    (["astc"], 246, 9),  # version 1, as tests/test_qr.py
    (["astc", "narm"], 248, 9),
    (["astc", "narm", "aza", "roam", "ahs", "acm"], 248, 9),
    (["astc", "zoo"], 254, 9),
    (["astc", "narm", "garden-trail"], 264, 10),
])
def test_qr_size_of_version_2_cards(signer, programs, chars, version):
    private, key_id, _ = signer
    payload = cards.sign(_card(key_id, programs, issuer=TYPICAL_ID), private)
    assert len(payload) == chars
    assert qr.qr_version(payload) == (version, "M")
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.qr_png(payload))),
                                      formats=zxingcpp.BarcodeFormat.QRCode)
    assert found.text == payload and (found.extra["Version"], found.ec_level) == (
        str(version), "M")


def test_longest_issuer_id_with_programs_stays_within_version_10(signer, shipped_csv):
    private, key_id, _ = signer
    with shipped_csv.open(encoding="utf-8", newline="") as handle:
        longest = max((row["id"] for row in csv.DictReader(handle)), key=len)
    payload = cards.sign(_card(key_id, ["astc", "narm", "aza"], issuer=longest), private)
    assert len(payload) == 292 and qr.qr_version(payload) == (10, "M")


# --------------------------------------------------------------------------- CLI

def test_cli_issue_with_programs_and_verify(db, cli):
    cli("keys", "create", "--institution", HOME)
    issued = json.loads(cli("card", "issue", "--institution", HOME, "--member", "M-9",
                            "--names", "Ada Lovelace", "--expires", "2027-06-30",
                            "--programs", "astc,narm", "--json").output)
    assert issued["payload"].startswith("PYZ2")
    verified = json.loads(cli("card", "verify", issued["payload"], "--on", "2026-07-04",
                              "--json").output)
    assert verified["valid"] and verified["card"]["programs"] == ["astc", "narm"]
    plain = json.loads(cli("card", "issue", "--institution", HOME, "--member", "M-10",
                           "--names", "Ada Lovelace", "--expires", "2027-06-30",
                           "--json").output)
    assert plain["payload"].startswith("PYZ1")
    cli("card", "issue", "--institution", HOME, "--member", "M-11", "--names", "Ada",
        "--expires", "2027-06-30", "--programs", "astc,narn", error="no program 'narn'")


# --------------------------------------------------------------------------- batches

def test_batch_issues_version_2_cards_and_a_change_of_programs_reissues(db, cli, tmp_path):
    from rosterdata import ISSUER, issuing_store, member_rows, read_cards_csv, write_roster

    issuing_store(db)
    roster = write_roster(tmp_path / "members.csv", member_rows(4))

    def batch(out, *extra):
        return json.loads(cli("cards", "issue-batch", roster, "--institution", ISSUER,
                              "--out", tmp_path / out, "--no-pdf", "--json", *extra).output)

    first = batch("one")
    assert first["issued"] == 4
    assert all(r["payload"].startswith("PYZ1")
               for r in read_cards_csv(tmp_path / "one" / "cards.csv"))
    assert batch("two")["unchanged"] == 4  # ASTC-only cards keep their earlier hash
    changed = batch("three", "--programs", "narm,astc")
    assert (changed["issued"], changed["changed"]) == (4, 4)
    for row in read_cards_csv(tmp_path / "three" / "cards.csv"):
        assert cards.verify(db, row["payload"], ON).card.programs == ("astc", "narm")
    assert batch("four", "--programs", "astc,narm")["unchanged"] == 4
    cli("cards", "issue-batch", roster, "--institution", ISSUER, "--dry-run",
        "--programs", "astc,zzz", error="no program 'zzz'")


def test_card_page_and_print_sheet_show_the_programs(db, kiosk_client, tmp_path):
    import pypdfium2

    from passport.printsheet import PrintCard, write_sheets

    keys.create_key(db, HOME)
    payload = cards.issue(db, HOME, "M-5", ["Ada Lovelace"], EXPIRES, programs="astc,narm")
    page = kiosk_client.get("/card", query_string={"c": payload})
    assert page.status_code == 200 and b'id="card-programs">ASTC, NARM<' in page.data
    write_sheets(tmp_path / "cards.pdf", [PrintCard(payload, "M-5", ("Ada Lovelace",), EXPIRES,
                                                    1, ("astc", "narm"))],
                 home_name="Exploratorium", benefit="Free general admission.")
    pdf = pypdfium2.PdfDocument(str(tmp_path / "cards.pdf"))
    text = pdf[0].get_textpage().get_text_range()
    pdf.close()
    assert "Programs: ASTC, NARM" in text
    html = qr.card_html(payload, cards.decode(payload), "Free general admission.")
    assert "Programs: ASTC, NARM" in html
