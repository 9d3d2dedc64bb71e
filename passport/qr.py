"""QR codes for member cards (PNG, SVG) and a printable card page (templates/card.html).

The payload is encoded as one QR alphanumeric segment (``passport.cards`` writes only
``A-Z2-7`` after the prefix) at error-correction level M (15 % of the code may be lost),
the usual choice for codes shown on phone screens and printed on cards. A typical card
(37-character issuer id, two names, postal code) is 246 characters: QR version 9-M,
53 x 53 modules; the longest issuer id on the shipped list with two typical names is
version 10-M (measured in tests/test_qr.py).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.resources
import io
from datetime import date

import jinja2
import markupsafe
import numpy
import qrcode
import qrcode.constants
import qrcode.image.svg
import qrcode.util

from passport.cards import Card

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
ERROR_CORRECTION_NAME = "M"
BORDER_MODULES = 4  # the quiet zone the QR standard requires
_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")  # ISO/IEC 18004


def _qr(payload: str, **options) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=BORDER_MODULES, **options)
    # One explicit segment: qrcode's optimiser would otherwise split the data into
    # numeric/alphanumeric chunks, each with its own header.
    alphanumeric = all(ch in _ALPHANUMERIC for ch in payload)
    mode = qrcode.util.MODE_ALPHA_NUM if alphanumeric else qrcode.util.MODE_8BIT_BYTE
    code.add_data(qrcode.util.QRData(payload, mode=mode))
    code.make(fit=True)
    return code


def qr_version(payload: str) -> tuple[int, str]:
    """(QR version, error-correction level) that ``qr_png``/``qr_svg`` use for ``payload``."""
    return _qr(payload).version, ERROR_CORRECTION_NAME


def qr_png(payload: str, box_px: int = 8) -> bytes:
    """The QR code of ``payload`` as PNG bytes, ``box_px`` pixels per module."""
    image = _qr(payload, box_size=box_px).make_image()
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def qr_svg(payload: str) -> str:
    """The QR code of ``payload`` as a standalone SVG document (one path, scalable)."""
    image = _qr(payload, image_factory=qrcode.image.svg.SvgPathImage).make_image()
    return image.to_string(encoding="unicode")


def qr_matrix(payload: str) -> numpy.ndarray:
    """The modules of ``payload``'s QR code as a square bool array, True = dark, without
    the quiet zone (leave ``BORDER_MODULES`` free around it): for drawing the code as vectors
    (the print sheets). The same version and error correction (M) as ``qr_png``, one
    alphanumeric segment for a card payload (the mask pattern may differ); encoded by
    zxing-cpp (C++, about 0.7 ms a code against qrcode's 12 ms, most of it qrcode's choice of
    mask in Python).
    """
    import zxingcpp

    code = zxingcpp.create_barcode(payload, zxingcpp.BarcodeFormat.QRCode,
                                   ec_level=ERROR_CORRECTION_NAME)
    return numpy.asarray(code.to_image(scale=1, add_quiet_zones=False)) == 0




# The printable card is one self-contained file (printed from a browser or to PDF, often
# opened from disk), so its CSS is inlined; the page's own policy allows that one style block
# by its hash and nothing else: no script, no request anywhere (the QR is inline SVG).
_CARD_POLICY = ("default-src 'none'; style-src '{style_hash}'; base-uri 'none'; "
                "form-action 'none'")


@functools.cache
def _card_style() -> tuple[markupsafe.Markup, str]:
    """card.css as the card's inline style block, and its policy (CSP hash source)."""
    css = importlib.resources.files("passport").joinpath("templates/card.css").read_text(
        encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
    return markupsafe.Markup(css), _CARD_POLICY.format(style_hash=f"sha256-{digest}")


@functools.cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("passport", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined)


def card_html(payload: str, card: Card, benefit: str, home_name: str | None = None) -> str:
    """A printable card (credit-card size, 85.6 x 54 mm) as one HTML page with the QR
    inline: print it from a browser or to PDF. ``benefit`` is the program's sentence
    (``rules.benefit_sentence``); ``home_name`` defaults to the issuer id. Every text is
    escaped by the template."""
    membership = ("individual" if card.party_size == 1
                  else f"group, up to {card.party_size} people")
    css, policy = _card_style()
    return _templates().get_template("card.html").render(
        css=css,
        policy=policy,
        names=list(card.names),
        qr_svg=markupsafe.Markup(qr_svg(payload)),  # built from the payload: no user markup
        home=home_name or card.issuer_id,
        member_id=card.member_id,
        membership=membership,
        expires_iso=card.expires.isoformat(),
        expires_text=_long_date(card.expires),
        benefit=benefit,
        programs=[program.upper() for program in card.programs],
    )


def _long_date(day: date) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"
