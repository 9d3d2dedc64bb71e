"""JSON API ``/api/v1`` (documented in kiosk/openapi.yaml).

Clients authenticate with ``Authorization: Bearer TOKEN``; the kiosk's own pages use the
signed-in session (plus the CSRF header on writes). Every endpoint here names the token
scope it needs (``@needs_scope``; ``passport.auth.SCOPES``): a token without it gets 403
``insufficient_scope``, and an endpoint that names none refuses every token. Every error is
``{"error": {"code", "message"}}``. A scan that does not decode as a card is a misread, not
a decision: ``/check`` and ``/checkins`` answer 422 ``card_unreadable`` and log nothing.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request

from kiosk import clock
from kiosk.db import get_db
from kiosk.errors import ApiError
from kiosk.inputs import (
    bad_input,
    check_arguments,
    checkin_arguments,
    domain_errors,
    eligible_arguments,
    json_body,
    query_args,
)
from kiosk.security import CSRF_MESSAGE, UNSAFE_METHODS, bearer_token, csrf_ok
from kiosk.site import active_list, kiosk_site, program_profile, site_timezone
from passport import admission, auth, checkins, institutions, reports

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_SEARCH_LIMIT = 1000
CHECKIN_QUERY = ("from", "to", "limit", "visit", "home", "cursor")
REPORT_QUERY = ("from", "to", "by", "format")
INSTITUTIONS_QUERY = ("q", "limit")
ELIGIBLE_QUERY = ("home", "lat", "lon", "residence", "postal", "place", "where", "country",
                  "near", "limit")
# Why an entry cannot be undone -> the API's 409 code.
UNDO_REFUSALS = {
    checkins.UndoOfUndo: "not_undoable",
    checkins.AlreadyUndone: "already_undone",
    checkins.UndoWindowPassed: "undo_window_passed",
}


def needs_scope(scope: str):
    """Mark a view with the token scope it needs (read by ``_authenticate``)."""
    if scope not in auth.SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def mark(view):
        view.token_scope = scope
        return view

    return mark


def token_scope(endpoint: str | None) -> str | None:
    """The scope ``endpoint`` needs from an API token (None: it names none)."""
    view = current_app.view_functions.get(endpoint or "")
    return getattr(view, "token_scope", None)


@bp.before_request
def _authenticate():
    g.api_client = None
    token = bearer_token()
    if token is not None:
        g.api_client = auth.verify_token(get_db(), token, clock.now())
        if g.api_client is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API token")
        _check_scope(token_scope(request.endpoint))
        return
    if g.user is None:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer TOKEN or sign in")
    if request.method in UNSAFE_METHODS and not csrf_ok():
        raise ApiError(400, "csrf_failed", CSRF_MESSAGE)


def _check_scope(scope: str | None) -> None:
    if scope is None:  # fail closed: an endpoint nobody gave a scope takes no token
        raise ApiError(403, "insufficient_scope",
                       f"{request.method} {request.path} takes no API token")
    if not g.api_client.allows(scope):
        raise ApiError(403, "insufficient_scope",
                       f"this API token lacks the scope {scope!r} that "
                       f"{request.method} {request.path} needs")


def _actor() -> tuple[str, str]:
    """(staff_user, source) for the log."""
    if g.api_client is not None:
        return f"token:{g.api_client.name}", "api"
    return g.user.username, "desk"


def _key_scope() -> str:
    """Idempotency keys are per client: ``t<token id>`` or ``s:<username>`` (the desk)."""
    if g.api_client is not None:
        return f"t{g.api_client.token_id}"
    return f"s:{g.user.username}"


def run_check(args: dict):
    """``passport.admission.check`` on parsed arguments."""
    with domain_errors():
        return admission.check(get_db(), **args, now=clock.now())


def card_unreadable() -> ApiError:
    """A misread: the scan did not decode as a card, so there is no decision to show or log."""
    return ApiError(422, "card_unreadable", checkins.MISREAD_TEXT)


@bp.post("/check")
@needs_scope("check")
def check():
    decision = run_check(check_arguments(json_body()))
    if checkins.is_misread(decision):
        raise card_unreadable()
    return jsonify(decision.to_json())


@bp.post("/checkins")
@needs_scope("checkins:write")
def create_checkin():
    key = request.headers.get("Idempotency-Key")
    try:
        # A retry is decided again, so its request facts can be compared with the row
        # logged under the key (checkins.REQUEST_FACTS); a different request is a 422.
        args, party_size = checkin_arguments(json_body(), program_profile())
        decision = run_check(args)
        staff_user, source = _actor()
        row = checkins.log_checkin(
            get_db(), decision, party_size=party_size, staff_user=staff_user, source=source,
            idempotency_key=key, key_scope=_key_scope(), now=clock.now(),
        )
    except checkins.IdempotencyKeyReused as exc:
        raise ApiError(422, "idempotency_key_reused", str(exc)) from exc
    except checkins.CardUnreadable as exc:
        raise card_unreadable() from exc
    except checkins.CheckinError as exc:
        raise bad_input(str(exc)) from exc
    return _checkin_response(row, decision.to_json())


def _checkin_response(row: dict, decision: dict):
    replayed = row.pop("replayed", False)
    payload = dict(row)
    if not replayed:
        payload["decision"] = decision
    response = jsonify(payload)
    response.status_code = 200 if replayed else 201
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise bad_input(f"'{name}' must be a whole number, not {text!r}") from exc
    if not low <= value <= high:
        raise bad_input(f"'{name}' must be {low}-{high}, not {value}")
    return value


@bp.get("/checkins")
@needs_scope("checkins:read")
def list_checkins():
    """One page of the log, newest first; plain dates are days in the kiosk site's zone."""
    args = query_args(request.args, CHECKIN_QUERY)
    limit = _int_arg("limit", 100, 1, checkins.MAX_LIMIT)
    with domain_errors():
        page = checkins.page_checkins(
            get_db(), args.get("from"), args.get("to"), limit, visit=args.get("visit"),
            home=args.get("home"), tz_name=site_timezone(kiosk_site()),
            cursor=args.get("cursor"),
        )
    return jsonify(page)


@bp.post("/checkins/<int:checkin_id>/undo")
@needs_scope("checkins:write")
def undo_checkin(checkin_id: int):
    """The desk's undo for one entry: logs an undo row (201) under the desk's window."""
    staff_user, source = _actor()
    try:
        row = checkins.undo_checkin(
            get_db(), checkin_id, staff_user=staff_user, source=source,
            window_seconds=current_app.config["UNDO_WINDOW_SECONDS"], now=clock.now(),
        )
    except checkins.UnknownCheckin as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    except checkins.NotUndoable as exc:
        raise ApiError(409, UNDO_REFUSALS[type(exc)], str(exc)) from exc
    return jsonify(row), 201


@bp.get("/eligible")
@needs_scope("check")
def eligible():
    query_args(request.args, ELIGIBLE_QUERY)  # 400 naming an unknown or repeated parameter
    kwargs = eligible_arguments(request.args)
    limit = _int_arg("limit", 0, 1, MAX_SEARCH_LIMIT) or None  # the spec's 1-1000 (fuzzing)
    with domain_errors():
        return jsonify(admission.eligible(get_db(), limit=limit, **kwargs))


@bp.get("/institutions")
@needs_scope("check")
def institutions_search():
    # Unknown parameters are a 400 here as on the other routes (API fuzzing found them
    # ignored); the text's first 200 characters are searched.
    text = query_args(request.args, INSTITUTIONS_QUERY).get("q", "")[:200]
    limit = _int_arg("limit", 20, 1, MAX_SEARCH_LIMIT)
    with domain_errors():
        active = active_list()
        found = institutions.search(get_db(), text or None, limit)
        total = len(found) if len(found) < limit else institutions.count(get_db(), text)
    return jsonify({"list_version": active.version, "total": total,
                    "institutions": [dict(r) for r in found]})


@bp.get("/reports/visits")
@needs_scope("reports:read")
def report_visits():
    """``passport report visits`` over HTTP: JSON by default, or ``format`` csv, xlsx or
    table as a download. Days are local to the kiosk's site (UTC without one). A signed-in
    session needs the admin role (API tokens need the ``reports:read`` scope)."""
    if g.api_client is None and not g.user.is_admin:
        raise ApiError(403, "forbidden", "reports are for admins (or API tokens)")
    args = query_args(request.args, REPORT_QUERY)
    fmt = args.get("format", "json")
    try:
        reports.check_format(fmt)
        report = reports.visits(get_db(), from_=args.get("from"), to=args.get("to"),
                                by=args.get("by", "month"),
                                tz_name=site_timezone(kiosk_site()))
    except reports.ReportError as exc:
        raise bad_input(str(exc)) from exc
    if fmt == "json":
        return jsonify(report)
    response = Response(reports.render(report, fmt), content_type=reports.MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{reports.filename(report, fmt)}"')
    return response
