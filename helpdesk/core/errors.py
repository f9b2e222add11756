"""Error responses: JSON under /api/, pages elsewhere. Every error rolls the transaction back."""

from __future__ import annotations

import logging

import redis
from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from helpdesk.extensions import db

log = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
    503: "unavailable",
}


class ApiError(HTTPException):
    """An error with a machine-readable code and optional per-field messages."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None):
        super().__init__(description=message)
        self.code = status
        self.fields = fields or {}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(status: int, message: str, fields: dict | None = None):
    db.session.rollback()
    if wants_json():
        body = {"error": {"code": CODES.get(status, "error"), "message": message}}
        if fields:
            body["error"]["fields"] = fields
        headers = {"WWW-Authenticate": 'Bearer realm="api"'} if status == 401 else {}
        return jsonify(body), status, headers
    return render_template("helpdesk/error.html", status=status, message=message), status, {}


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.code, exc.description, exc.fields)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return error_response(400, "The form expired or was sent from elsewhere. Reload the "
                              "page and try again.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return error_response(exc.code or 500, exc.description or "")

    @app.errorhandler(IntegrityError)
    def _integrity_error(exc: IntegrityError):
        # The checks in services passed, but a concurrent request won the unique index.
        log.warning("integrity error: %s", exc.orig)
        return error_response(409, "That conflicts with a change made at the same moment "
                              "(for example the same address or email). Reload and try again.")

    @app.errorhandler(DataError)
    def _data_error(exc: DataError):
        # A value PostgreSQL cannot store (out of range, bad encoding) that validation missed.
        log.warning("data error: %s", exc.orig)
        return error_response(400, "A value in the request is out of range or malformed.")

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(OperationalError)
    def _backend_down(exc: Exception):
        log.exception("backing service unavailable")
        g.backend_down = True
        return error_response(503, ServiceUnavailable.description)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        g.backend_down = True  # render the error page without touching the database again
        return error_response(500, InternalServerError.description)
