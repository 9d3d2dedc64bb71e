"""QR images and the printable card: sizes measured by decoding, not assumed."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date

import pytest
import zxingcpp
from conftest import ASTC
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from passport import cards, keys, qr, rules

TYPICAL_ID = "anniston-museums-and-gardens-anniston"  # 37 characters: the list's median


def _signed(issuer_id: str, names=("Ada Lovelace", "Charles Babbage")) -> str:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    card = cards.Card(1, issuer_id, keys.key_id_for(raw), "M-2026-00417", tuple(names), 6,
                      date(2027, 6, 30), "36206", "US")
    return cards.sign(card, private)


def _ids(csv_path) -> list[str]:
    with csv_path.open(encoding="utf-8", newline="") as handle:
        return [row["id"] for row in csv.DictReader(handle)]


def _zxing(png: bytes):
    # QR codes only: read with every format, zxing-cpp 3 now and then also "finds" a short
    # ITF or Codabar code in a QR's modules (about 1 image in 80), as the card decoder does not
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)),
                                      formats=zxingcpp.BarcodeFormat.QRCode)
    return found


def test_typical_card_is_version_9_m(shipped_csv):
    ids = _ids(shipped_csv)
    assert len(TYPICAL_ID) == sorted(len(i) for i in ids)[len(ids) // 2]
    payload = _signed(TYPICAL_ID)
    assert len(payload) == 246
    found = _zxing(qr.qr_png(payload))
    assert found.text == payload
    assert (found.extra["Version"], found.ec_level) == ("9", "M")
    assert qr.qr_version(payload) == (9, "M")


def test_longest_issuer_id_on_the_list_stays_within_version_10(shipped_csv):
    longest = max(_ids(shipped_csv), key=len)
    payload = _signed(longest)
    version, level = qr.qr_version(payload)
    assert (version, level) == (10, "M"), len(payload)
    assert _zxing(qr.qr_png(payload)).text == payload


def test_svg_is_a_standalone_document_with_one_path():
    svg = qr.qr_svg(_signed(TYPICAL_ID))
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert len([el for el in root.iter() if el.tag.endswith("path")]) == 1


def test_png_scales_with_box_size():
    payload = _signed(TYPICAL_ID)
    small = Image.open(io.BytesIO(qr.qr_png(payload, box_px=4)))
    large = Image.open(io.BytesIO(qr.qr_png(payload, box_px=8)))
    assert small.size == ((53 + 8) * 4,) * 2 and large.size == ((53 + 8) * 8,) * 2


def test_non_alphanumeric_text_still_encodes():
    assert _zxing(qr.qr_png("https://example.org/a?b=c")).text == "https://example.org/a?b=c"


@pytest.mark.parametrize("home", [None, "Anniston Museums & Gardens"])
def test_printable_card_shows_names_home_expiry_benefit_and_escapes(home):
    payload = _signed(TYPICAL_ID, names=("Ada <b>Lovelace</b>", "Charles Babbage"))
    card = cards.decode(payload)
    page = qr.card_html(payload, card, rules.benefit_sentence(ASTC), home)
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in page and "<b>" not in page
    assert (html_home := (home or TYPICAL_ID).replace("&", "&amp;")) in page, html_home
    assert "30 June 2027" in page and 'datetime="2027-06-30"' in page
    assert "free general admission" in page and "90 miles" in page
    assert "group, up to 6 people" in page
    assert "<svg" in page and "@page" in page
