"""Member pages (public): my card as a QR code; ``/eligible``, the old list, now leads to the
planner (``kiosk/planner.py``)."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext
from markupsafe import Markup

from kiosk import clock, i18n
from kiosk.db import get_db
from kiosk.site import kiosk_site, listed_institution, site_timezone
from passport import cards, qr, rules

bp = Blueprint("member", __name__)

MAX_PAYLOAD_CHARS = 4000


@bp.get("/eligible")
def eligible():
    """The old member list: now the planner, with the same query (``home``, ``country``,
    ``where``, ``postal``, ``place`` mean the same there); ``/`` for visitors, ``/plan`` for
    signed-in staff (whose ``/`` is the desk)."""
    query = request.query_string.decode("ascii", "replace")
    target = url_for("planner.planner_page" if g.user is not None else "index")
    return redirect(target + (f"?{query}" if query else ""))


@bp.get("/card")
def card():
    """Shows the QR of a payload passed as ``?c=`` (the link a home site sends its member)
    or pasted into the form, with what the card says and whether it verifies today."""
    payload = (request.args.get("c") or "").strip()
    if len(payload) > MAX_PAYLOAD_CHARS:
        payload, error = "", gettext("That card code is too long.")
    else:
        error = None
    svg = check = home_name = None
    if payload:
        payload = cards.normalize_scan(payload)
        # the member's own view: today at this kiosk's site (its time zone), by the app clock
        today = rules.site_local_today(site_timezone(kiosk_site()), clock.now())
        check = cards.verify(get_db(), payload, today)
        if check.card is None:
            error = gettext("That is not a Passport card code.")
        else:
            home = listed_institution(check.card.issuer_id)
            home_name = home["name"] if home else None
            # qr_svg builds the SVG from the payload itself; it holds no user markup.
            svg_text = qr.qr_svg(payload)
            if svg_text.startswith("<?xml"):  # inline SVG in HTML takes no XML declaration
                svg_text = svg_text[svg_text.index("?>") + 2:].lstrip()
            svg = Markup(svg_text)
    words = i18n.words()  # the reasons a card is not valid, in the page's language
    reason_text = {code: words.gettext(text) for code, text in rules.MEMBER_TEXT.items()}
    return render_template("member/card.html", payload=payload, svg=svg, check=check,
                           home_name=home_name, reason_text=reason_text,
                           error=error), (400 if error else 200)
