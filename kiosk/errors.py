"""Errors: under /api/ every error is one JSON shape ``{"error": {"code", "message"}}``;
pages get an HTML page in the app's layout saying what to do instead (errors/error.html)."""

from __future__ import annotations

import logging
import sqlite3

from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from passport import store

log = logging.getLogger(__name__)
# Seconds a client waits before trying again after a store fault (a 503's Retry-After).
STORE_RETRY_AFTER_SECONDS = 2

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error the API answers as JSON with a stable code."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="passport"'
    return response


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def wants_json() -> bool:
    """Errors answer JSON under /api/ and to the pages' own fetch calls (Accept: JSON)."""
    if is_api_request():
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > (
        request.accept_mimetypes["text/html"])


def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message)


# Page titles and sentences for the statuses a person meets; others use werkzeug's own.
PAGE_TEXT = {
    403: ("Not available to your account", None),
    404: ("Page not found", "There is no page at this address."),
    500: ("Something went wrong", "The server could not finish this request."),
}


def _error_page(exc: HTTPException, status: int):
    title, message = PAGE_TEXT.get(status, (exc.name, None))
    if status >= 500:
        message = message or "The server could not finish this request."  # never the cause
    else:
        message = message or exc.description or exc.name
    response = make_response(render_template("errors/error.html", status=status, title=title,
                                             message=message), status)
    if status == 405:
        allow = exc.get_response().headers.get("Allow")
        if allow:
            response.headers["Allow"] = allow
    return response


def _http_error(exc: HTTPException):
    status = exc.code or 500
    if not wants_json():
        return exc if exc.response is not None else _error_page(exc, status)
    # A 500 carries the original exception; never show its text to the client.
    message = "internal server error" if status >= 500 else (exc.description or exc.name)
    response = error_response(status, HTTP_CODES.get(status, "error"), message)
    if exc.response is None and status == 405:
        allow = exc.get_response().headers.get("Allow")
        if allow:
            response.headers["Allow"] = allow
    return response


def _store_fault(exc: Exception):
    """A fault of the store (read-only, disk full, locked, I/O): 503 with its code and plain
    words, on the API and the pages alike; the next request tries the store again, so the
    kiosk works once the fault is gone. Any other database error stays a 500 (a bug)."""
    fault = store.fault_of(exc)
    if fault is None:
        raise exc
    log.warning("store fault on %s %s: %s (%s)", request.method, request.path, fault.code, exc)
    if wants_json():
        response = error_response(503, fault.code, str(fault))
    else:
        response = make_response(render_template(
            "errors/error.html", status=503, title="The check-in database is unavailable",
            message=str(fault)), 503)
    response.headers["Retry-After"] = str(STORE_RETRY_AFTER_SECONDS)
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(sqlite3.Error, _store_fault)
    app.register_error_handler(store.StoreError, _store_fault)
    app.register_error_handler(HTTPException, _http_error)
