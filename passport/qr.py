"""QR codes for member cards (PNG, SVG) and a printable card page.

The payload is encoded as one QR alphanumeric segment (``passport.cards`` writes only
``A-Z2-7`` after the prefix) at error-correction level M (15 % of the code may be lost),
the usual choice for codes shown on phone screens and printed on cards. A typical card
(37-character issuer id, two names, postal code) is 246 characters: QR version 9-M,
53 x 53 modules; the longest issuer id on the shipped list with two typical names is
version 10-M (measured in tests/test_qr.py).
"""

from __future__ import annotations

import html
import io
from datetime import date
from string import Template

import qrcode
import qrcode.constants
import qrcode.image.svg
import qrcode.util

from passport.cards import Card

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
ERROR_CORRECTION_NAME = "M"
BORDER_MODULES = 4  # the quiet zone the QR standard requires
_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")  # ISO/IEC 18004
BENEFIT_LINE = (
    "ASTC Travel Passport Program: free general admission at participating science "
    "centers and museums more than 90 miles from your home institution and from your "
    "residence. Show this card with a photo ID."
)


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


_CARD_PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Passport card: $names_text</title>
<style>
  @page { size: 85.6mm 54mm; margin: 0; }
  body { margin: 0; font-family: system-ui, sans-serif; }
  .card { box-sizing: border-box; width: 85.6mm; height: 54mm; padding: 3mm;
          display: flex; gap: 3mm; border: 0.2mm solid #888; border-radius: 3mm; }
  .qr { flex: 0 0 40mm; }
  .qr svg { width: 40mm; height: 40mm; }
  .text { flex: 1; font-size: 2.6mm; line-height: 1.25; overflow: hidden; }
  .names { font-size: 3.4mm; font-weight: 600; margin: 0 0 1mm; }
  .home, .expires { margin: 0 0 1mm; }
  .benefit { font-size: 2.1mm; margin: 1mm 0 0; }
  @media screen { body { padding: 1rem; } }
</style>
</head>
<body>
<div class="card">
  <div class="qr" role="img" aria-label="Passport card QR code">$qr_svg</div>
  <div class="text">
    <p class="names">$names_html</p>
    <p class="home">Home: $home</p>
    <p class="expires">Member $member_id &middot; $membership &middot; valid through
      <time datetime="$expires_iso">$expires_text</time></p>
    <p class="benefit">$benefit</p>
  </div>
</div>
</body>
</html>
""")


def card_html(payload: str, card: Card, home_name: str | None = None,
              benefit: str = BENEFIT_LINE) -> str:
    """A printable card (credit-card size, 85.6 x 54 mm) as one HTML page with the QR
    inline: print it from a browser or to PDF. ``home_name`` defaults to the issuer id."""
    names = list(card.names)
    membership = ("individual" if card.party_size == 1
                  else f"group, up to {card.party_size} people")
    return _CARD_PAGE.substitute(
        names_text=html.escape(", ".join(names)),
        names_html="<br>".join(html.escape(n) for n in names),
        qr_svg=qr_svg(payload),
        home=html.escape(home_name or card.issuer_id),
        member_id=html.escape(card.member_id),
        membership=html.escape(membership),
        expires_iso=card.expires.isoformat(),
        expires_text=html.escape(_long_date(card.expires)),
        benefit=html.escape(benefit),
    )


def _long_date(day: date) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"
