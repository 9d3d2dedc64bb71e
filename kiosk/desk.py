"""The front desk: scan or type a card, see ADMIT/DENY, log the visit, today's log."""

from __future__ import annotations

import io
import logging

from flask import Blueprint, current_app, g, jsonify, render_template, request

from kiosk import clock
from kiosk.db import get_db
from kiosk.errors import ApiError
from kiosk.hubsync import bundle_info
from kiosk.security import login_required
from kiosk.site import (
    active_list_or_none,
    kiosk_site,
    listed_institution,
    program_profile,
    site_timezone,
)
from passport import cards, checkins, rules

bp = Blueprint("desk", __name__, url_prefix="/desk")
log = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 10 * 1024 * 1024
NOT_AN_IMAGE = ("That file is not an image we can read; take a photo of the QR code and "
                "try again.")
NO_QR_FOUND = ("No QR code found in that photo; take a closer, sharper photo of the QR code "
               "and try again.")


def membership_coverage(profile: rules.Profile) -> dict[str, str]:
    """Who a card covers, per membership, in the words of the confirm step (from the
    program profile, so the desk never states a second copy of the limits)."""
    adults, children = profile.membership_limits["group"]
    return {
        "individual": "Individual membership: the named cardholder only",
        "group": f"Group membership: up to {adults} adult{'s' * (adults != 1)} and "
                 f"{children} child{'ren' * (children != 1)}, "
                 "one adult named on the card",
    }


def _number_of(number: int, one: str, many: str) -> str:
    """``1 party``, ``2 parties``: a count with its noun agreeing."""
    return f"{number} {one if number == 1 else many}"


def counts_text(counts: dict) -> dict[str, str]:
    """Today's counts in the side panel's words, saying who paid: "Admitted 1 party: 6 free,
    1 paying" (a party of 7 on a group card covering 6), "Denied 2 parties"."""
    admitted = f"Admitted {_number_of(counts['admitted'], 'party', 'parties')}"
    if counts["admitted"]:
        admitted += f": {counts['admitted_free']} free, {counts['admitted_paying']} paying"
    return {"admitted": admitted,
            "denied": f"Denied {_number_of(counts['denied'], 'party', 'parties')}"}


def duration_text(seconds: int) -> str:
    """A window in words: whole minutes as minutes ("2 minutes", "1 minute"), else seconds."""
    if seconds >= 60 and seconds % 60 == 0:
        return _number_of(seconds // 60, "minute", "minutes")
    return _number_of(seconds, "second", "seconds")


@bp.get("")
@login_required()
def desk():
    site = kiosk_site()
    if not site:
        return render_template("desk/desk.html", site=None)
    return render_template(
        "desk/desk.html",
        site=site,
        site_row=listed_institution(site),
        active=active_list_or_none(),  # the banner while the site is not on the active list
        reason_text=rules.REASON_TEXT,
        benefit_text=rules.BENEFIT_TEXT,  # the words of the decision's benefit (desk.js)
        coverage=membership_coverage(program_profile()),
        max_party=rules.MAX_PARTY,
        undo_window_seconds=current_app.config["UNDO_WINDOW_SECONDS"],
        undo_window=duration_text(current_app.config["UNDO_WINDOW_SECONDS"]),
        bundle=bundle_info(),  # the banner when the hub's bundle is older than the warning
    )


def _require_site() -> str:
    site = kiosk_site()
    if not site:
        raise ApiError(409, "site_not_set",
                       "this kiosk's site is not set; an admin sets it in /admin")
    return site


@bp.get("/today")
@login_required()
def today():
    """Today's log at this site (site-local day) with counts, in numbers and in words, for
    the side panel."""
    site = _require_site()
    today_log = checkins.today_log(get_db(), site, site_timezone(site), limit=50,
                                   now=clock.now())
    return jsonify({"site": site, "site_listed": listed_institution(site) is not None,
                    **today_log,
                    "counts_text": counts_text(today_log["counts"])})


@bp.post("/undo")
@login_required()
def undo():
    site = _require_site()
    try:
        row = checkins.undo_last(
            get_db(), visit=site, staff_user=g.user.username, source="desk",
            window_seconds=current_app.config["UNDO_WINDOW_SECONDS"], now=clock.now(),
        )
    except checkins.NothingToUndo as exc:
        raise ApiError(409, "nothing_to_undo", str(exc)) from exc
    return jsonify(row)


@bp.post("/decode")
@login_required()
def decode():
    """A photo of a card (multipart field ``photo``) → ``{"payload": ...}``, decoded here."""
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        raise ApiError(400, "invalid_input", "choose a photo of the card")
    data = upload.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise ApiError(413, "too_large", "the photo is larger than 10 MB")
    try:
        payload = cards.decode_image(data)
    except cards.CardImageError as exc:
        # Staff get plain words; the decoder's own text (file objects, codecs) goes to the log.
        log.info("card photo %r not decoded: %s", upload.filename, exc)
        if _is_image(data):
            raise ApiError(422, "no_qr_found", NO_QR_FOUND) from exc
        raise ApiError(422, "not_an_image", NOT_AN_IMAGE) from exc
    return jsonify({"payload": cards.normalize_scan(payload)})


def _is_image(data: bytes) -> bool:
    """Whether pillow recognises the bytes as an image (reads the header only)."""
    from PIL import Image  # loaded only for a photo that did not decode

    try:
        with Image.open(io.BytesIO(data)):
            return True
    except (OSError, ValueError, SyntaxError):
        return False
