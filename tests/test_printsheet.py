"""Print sheets (passport/printsheet.py): a QR cut from a rendered page decodes to its card's
payload; the codes are vectors; ten CR80 cards a Letter or A4 page."""

from __future__ import annotations

from datetime import date

import numpy
import pypdfium2
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from passport import cards, keys, printsheet
from passport.qr import BORDER_MODULES, qr_matrix, qr_version

ISSUER = "anniston-museums-and-gardens-anniston"
BENEFIT = ("ASTC Travel Passport Program: free general admission at participating science "
           "centers and museums more than 90 miles from your home institution and from your "
           "residence. Show this card with a photo ID.")
DPI = 300


def _cards(count: int) -> list[printsheet.PrintCard]:
    private = Ed25519PrivateKey.generate()
    key_id = keys.key_id_for(private.public_key().public_bytes_raw())
    out = []
    for n in range(count):
        names = ("Zoë Łukasiewicz", "José Nuñez")[: 1 + n % 2] if n % 3 else \
            tuple(f"Person {k} of Family {n}" for k in range(8))
        card = cards.Card(1, ISSUER, key_id, f"M-{n:05d}", names, 1 if n % 2 else 6,
                          date(2027, 6, 30), "36206", "US")
        out.append(printsheet.PrintCard(cards.sign(card, private), card.member_id, names,
                                        card.expires, card.party_size))
    return out


def _render(path, page_number: int):
    document = pypdfium2.PdfDocument(path)
    try:
        page = document[page_number]
        image = page.render(scale=DPI / 72).to_pil().convert("L")
        page.close()
        return image
    finally:
        document.close()


def _qr_box_px(paper: str, index: int) -> tuple[int, int, int, int]:
    x_mm, y_mm = printsheet.card_origin(paper, index)
    px = DPI / 25.4
    left = (x_mm + printsheet.QR_OFFSET_MM) * px
    top = (y_mm + printsheet.QR_OFFSET_MM) * px
    size = printsheet.QR_MM * px
    return round(left), round(top), round(left + size), round(top + size)


@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_a_qr_cut_from_the_rendered_page_decodes_to_its_payload(tmp_path, paper):
    printed = _cards(12)
    path = tmp_path / "cards.pdf"
    result = printsheet.write_sheets(path, printed, home_name="Anniston Museums and Gardens",
                                     benefit=BENEFIT, paper=paper)
    assert (result.cards, result.pages) == (12, 2)
    for page_number, index in ((0, 0), (0, 3), (0, 9), (1, 1)):
        image = _render(path, page_number)
        expected_size = [round(v * DPI / 25.4) for v in printsheet.PAPER_MM[paper]]
        assert [abs(a - b) <= 1 for a, b in zip(image.size, expected_size, strict=True)] == \
            [True, True]
        crop = image.crop(_qr_box_px(paper, index))
        found = zxingcpp.read_barcodes(crop, formats=zxingcpp.BarcodeFormat.QRCode)
        assert [r.text for r in found] == [printed[page_number * 10 + index].payload]


def _runs(payload: str) -> int:
    """Horizontal runs of dark modules in the payload's QR code."""
    return sum(1 for row in qr_matrix(payload).tolist()
               for before, here in zip([False, *row], row, strict=False) if here and not before)


def test_the_codes_are_vectors_not_images(tmp_path):
    path = tmp_path / "cards.pdf"
    printed = _cards(3)
    printsheet.write_sheets(path, printed, home_name="Home", benefit=BENEFIT)
    document = pypdfium2.PdfDocument(path)
    try:
        page = document[0]
        kinds = [obj.type for obj in page.get_objects()]
        page.close()
    finally:
        document.close()
    assert pypdfium2.raw.FPDF_PAGEOBJ_IMAGE not in kinds
    # one filled rectangle per horizontal run of dark modules of each card, plus cut marks
    runs = sum(_runs(card.payload) for card in printed)
    assert runs < kinds.count(pypdfium2.raw.FPDF_PAGEOBJ_PATH) < runs + 40


def test_qr_matrix_has_the_pngs_version_and_level():
    from PIL import Image

    for printed in _cards(2):  # eight names (a larger version) and two
        version, level = qr_version(printed.payload)
        modules = qr_matrix(printed.payload)
        assert modules.shape == (17 + 4 * version, 17 + 4 * version) and level == "M"
        light = numpy.pad(~modules, BORDER_MODULES, constant_values=True)
        image = Image.fromarray((light.repeat(4, 0).repeat(4, 1) * 255).astype("uint8"))
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        assert [(r.text, r.ec_level) for r in found] == [(printed.payload, "M")]


def test_the_text_of_a_card_is_on_the_page(tmp_path):
    path = tmp_path / "cards.pdf"
    printsheet.write_sheets(path, _cards(2), home_name="Anniston Museums and Gardens",
                            benefit=BENEFIT)
    document = pypdfium2.PdfDocument(path)
    try:
        page = document[0]
        text = page.get_textpage().get_text_range()
        page.close()
    finally:
        document.close()
    for words in ("Anniston Museums and", "Gardens", "Person 7 of Family 0", "Zoë Łukasiewicz",
                  "Member M-00001", "group, up to 6 people", "individual",
                  "Valid through 30 June 2027", "Show this card with a photo ID."):
        assert words in text


def test_without_a_unicode_font_names_degrade_and_say_so(tmp_path, monkeypatch):
    monkeypatch.setattr(printsheet, "FONT_FILES", ())
    result = printsheet.write_sheets(tmp_path / "c.pdf", _cards(2)[1:], home_name="Home",
                                     benefit=BENEFIT)
    assert result.font == "Helvetica (built in)"
    assert result.warnings and "could not be printed" in result.warnings[0]


def test_paper_is_checked(tmp_path):
    with pytest.raises(ValueError, match="paper must be one of"):
        printsheet.write_sheets(tmp_path / "c.pdf", [], home_name="Home", benefit=BENEFIT,
                                paper="legal")
