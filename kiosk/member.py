"""Member pages (public): where can I visit free, nearest first; my card as a QR code."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from markupsafe import Markup

from kiosk import clock
from kiosk.db import get_db
from kiosk.errors import ApiError
from kiosk.inputs import domain_errors, eligible_arguments
from kiosk.site import (
    active_list_or_none,
    institution_choices,
    kiosk_site,
    listed_institution,
    site_timezone,
)
from passport import admission, cards, qr, rules

bp = Blueprint("member", __name__)

MAX_PAYLOAD_CHARS = 4000

# A site's structured terms a member should see, in this order (from the decision's notes,
# staff checks or, for a site that is not free, its reasons). CHECK_RESIDENCE ("ask where
# the member lives") is for the desk: the page offers the ZIP field for it instead.
MEMBER_TERM_CODES = (rules.STORE_DISCOUNT_ONLY, rules.LOCAL_RULE_HONOURED,
                     rules.CHECK_PROOF_OF_RESIDENCE, rules.CHECK_RESERVATION,
                     rules.LOCAL_DISCOUNT)


def member_terms(entry: dict) -> list[str]:
    """The codes of ``MEMBER_TERM_CODES`` that apply to one entry of ``admission.eligible``."""
    codes = {*entry.get("notes", ()), *entry.get("staff_checks", ()), *entry.get("reasons", ())}
    return [code for code in MEMBER_TERM_CODES if code in codes]


@bp.get("/eligible")
def eligible():
    active = active_list_or_none()
    version, choices = (active.version if active else None), institution_choices(active)
    result, error = None, None
    if request.args.get("home"):
        try:
            with domain_errors():
                result = admission.eligible(get_db(), **eligible_arguments(request.args))
        except ApiError as exc:
            error = exc.message
        else:
            for entry in (*result["eligible"], *result["ineligible"]):
                entry["member_terms"] = member_terms(entry)
    status = 400 if error else 200
    return render_template(
        "member/eligible.html", choices=choices, list_version=version, result=result,
        error=error, args=request.args, reason_text=rules.MEMBER_TEXT,
    ), status


@bp.get("/card")
def card():
    """Shows the QR of a payload passed as ``?c=`` (the link a home site sends its member)
    or pasted into the form, with what the card says and whether it verifies today."""
    payload = (request.args.get("c") or "").strip()
    if len(payload) > MAX_PAYLOAD_CHARS:
        payload, error = "", "That card code is too long."
    else:
        error = None
    svg = check = home_name = None
    if payload:
        payload = cards.normalize_scan(payload)
        # the member's own view: today at this kiosk's site (its time zone), by the app clock
        today = rules.site_local_today(site_timezone(kiosk_site()), clock.now())
        check = cards.verify(get_db(), payload, today)
        if check.card is None:
            error = "That is not a Passport card code."
        else:
            home = listed_institution(check.card.issuer_id)
            home_name = home["name"] if home else None
            # qr_svg builds the SVG from the payload itself; it holds no user markup.
            svg_text = qr.qr_svg(payload)
            if svg_text.startswith("<?xml"):  # inline SVG in HTML takes no XML declaration
                svg_text = svg_text[svg_text.index("?>") + 2:].lstrip()
            svg = Markup(svg_text)
    return render_template("member/card.html", payload=payload, svg=svg, check=check,
                           home_name=home_name, reason_text=rules.MEMBER_TEXT,
                           error=error), (400 if error else 200)
