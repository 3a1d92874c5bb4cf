"""Domain errors -> HTTP status codes: JSON under /api, a page everywhere else."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from fashion_classifier.inference import NoEmbedding
from fashion_classifier.preprocessing import ImageTooLarge, InvalidImage, UnsupportedImageType
from fashion_classifier.records import InvalidCursor
from fashion_classifier.service import BadRequest, RecordNotFound
from fashion_classifier.storage import SchemaNotReady, StoreUnavailable
from fashion_classifier.web import metrics

log = logging.getLogger(__name__)
# What a client learns of a store failure: the detail (a file path, host names) goes to the log only.
STORE_DOWN_MESSAGE = "the database is not answering right now; retry in a few seconds"

# Most specific first: the first matching type decides the answer.
DOMAIN_ERRORS: list[tuple[type[Exception], int, str]] = [
    (UnsupportedImageType, 415, "unsupported_media_type"),
    (ImageTooLarge, 413, "image_too_large"),
    (InvalidImage, 422, "invalid_image"),
    (InvalidCursor, 400, "invalid_cursor"),
    (BadRequest, 400, "bad_request"),
    (RecordNotFound, 404, "not_found"),
    (NoEmbedding, 501, "not_implemented"),
    (SchemaNotReady, 503, "schema_not_ready"),
    (StoreUnavailable, 503, "store_unavailable"),
]


def register(app: Flask) -> None:
    for error_type, status, code in DOMAIN_ERRORS:
        app.register_error_handler(error_type, _handler(status, code))
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def error_response(status: int, code: str, message: str) -> tuple[Response | str, int, dict[str, str]]:
    headers = {"Retry-After": "5"} if status == 503 else {}
    if request.path.startswith("/api/"):
        return jsonify(error={"code": code, "message": message}), status, headers
    return render_template("error.html", status=status, message=message), status, headers


def _handler(status: int, code: str):  # type: ignore[no-untyped-def]
    def handle(exc: Exception) -> tuple[Response | str, int, dict[str, str]]:
        if status == 503:
            metrics.STORE_ERRORS.inc()
            log.warning("store unavailable: %r", str(exc))
            return error_response(status, code, STORE_DOWN_MESSAGE)
        return error_response(status, code, str(exc))

    return handle


def _too_large(exc: RequestEntityTooLarge) -> tuple[Response | str, int, dict[str, str]]:
    from flask import current_app

    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length <= limit:
        # Werkzeug raises the same error for a form with more parts than MAX_FORM_PARTS.
        files = current_app.config["MAX_FILES_PER_REQUEST"]
        return error_response(
            413, "too_many_parts", f"the form has too many parts; send at most {files} files at once"
        )
    return error_response(
        413, "request_too_large", f"the upload is larger than {limit / 1e6:.0f} MB; send smaller pictures"
    )


def _http_error(exc: HTTPException) -> tuple[Response | str, int, dict[str, str]]:
    code = (exc.name or "error").lower().replace(" ", "_")
    return error_response(exc.code or 500, code, exc.description or exc.name or "error")


def _unexpected(exc: Exception) -> tuple[Response | str, int, dict[str, str]]:
    # %r: a path may hold a decoded newline, which must not start a forged log line.
    log.exception("unhandled error on %r %r", request.method, request.path)
    return error_response(
        500, "internal_error", "an unexpected error happened on our side; it has been logged"
    )
