"""Every error leaves as application/problem+json (RFC 9457) with a stable `code`."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json
from werkzeug.exceptions import HTTPException

from archive.errors import ArchiveError

log = logging.getLogger(__name__)

HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def problem(status: int, code: str, detail: str, **extra: Any) -> Response:
    from http import HTTPStatus
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "code": code,
            "detail": detail, **extra}
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="archive"'
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ArchiveError)
    def _domain(error: ArchiveError) -> Response:
        return problem(error.status, error.code, error.message, **error.extra)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        code = "client_disconnected" if type(error).__name__ == "ClientDisconnected" else \
            HTTP_CODES.get(status, f"http_{status}")
        return problem(status, code, error.description or "")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "internal_error", "an unexpected error occurred; it has been logged")
