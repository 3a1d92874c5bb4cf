"""What the pages and the API read from a request, and hand to the service, in one place."""

from __future__ import annotations

import uuid

from flask import current_app, request

from fashion_classifier.records import Page, Record
from fashion_classifier.service import BadRequest, PredictionService, Upload
from fashion_classifier.web import metrics
from fashion_classifier.web.client import client_address


def service() -> PredictionService:
    """The app's one service, made by create_app."""
    found: PredictionService = current_app.extensions["service"]
    return found


def ensure_schema() -> None:
    """before_request hook of the pages and the API (not of the probes: /healthz must not need the store).

    Only checks: the schema is made by `fashion-classifier migrate`, never by a serving worker
    (two workers creating it at once on different nodes made uploads fail). Too old -> 503.
    """
    service().check_schema()


def uploads_from_request() -> list[Upload]:
    """Every file in the multipart field 'file' (several allowed)."""
    return [Upload(f.filename or "", f.read()) for f in request.files.getlist("file")]


def classify_request() -> list[Record]:
    """Classify and record the request's files, counting each answer in the metrics."""
    records = service().classify(uploads_from_request())
    for record in records:
        metrics.PREDICTIONS.labels(record.label).inc()
        metrics.VERDICTS.labels(_verdict_name(record.prediction.is_garment)).inc()
    return records


def _verdict_name(is_garment: bool | None) -> str:
    return {True: "garment", False: "not_garment", None: "none"}[is_garment]


def garment_filter() -> bool | None:
    """?garment=true|false; absent or empty: no filter."""
    raw = (request.args.get("garment") or "").strip().lower()
    if raw == "":
        return None
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise BadRequest(f"garment={raw[:20]!r} must be true or false")


def history_page(*, limit: int) -> Page:
    """The page of history the query string asks for: ?cursor=&label=&garment=."""
    return service().history(
        limit=limit,
        cursor=request.args.get("cursor") or None,
        label=request.args.get("label") or None,
        garment=garment_filter(),
    )


def record_feedback(record_id: uuid.UUID, label: str) -> Record:
    """Keep a user's 'wrong, it is a ...' answer and count it."""
    record = service().correct(record_id, label, client=client_address())
    metrics.FEEDBACK.inc()
    return record


def int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name}={raw!r} is not a whole number") from None
