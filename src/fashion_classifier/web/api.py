"""JSON API under /api/v1 (documented in /openapi.json from these docstrings)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from fashion_classifier.labels import CLASSES, NOT_A_GARMENT
from fashion_classifier.records import Record
from fashion_classifier.service import BadRequest
from fashion_classifier.storage import DEFAULT_PAGE_SIZE
from fashion_classifier.web.inputs import (
    classify_request,
    ensure_schema,
    history_page,
    int_arg,
    record_feedback,
    service,
)

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
blueprint.before_request(ensure_schema)
MAX_JSON_BYTES = 4096  # {"label": "..."} needs a few dozen


def record_json(record: Record) -> dict[str, Any]:
    return {
        "id": str(record.id),
        "created_at": record.created_at.isoformat().replace("+00:00", "Z"),
        "filename": record.filename,
        "label": record.label,
        "confidence": record.prediction.confidence,
        "probabilities": dict(zip(CLASSES, record.prediction.probabilities, strict=True)),
        "model_version": record.model_version,
        "width": record.width,
        "height": record.height,
        "corrected_label": record.corrected_label,
        "is_garment": record.prediction.is_garment,
        "garment_score": record.prediction.garment_score,
        "url": url_for("api.get_prediction", record_id=record.id),
        "image_url": url_for("api.get_image", record_id=record.id),
    }


@blueprint.post("/predictions")
def create_predictions() -> tuple[Response, int]:
    """Classify one or more pictures and record them.
    ---
    post:
      summary: Classify pictures
      operationId: classify_pictures
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [file]
              properties:
                file:
                  type: array
                  items: {type: string, format: binary}
      responses:
        "201":
          description: Every picture classified and recorded, in the order sent.
          content:
            application/json:
              schema:
                type: object
                required: [predictions]
                properties:
                  predictions: {type: array, items: {$ref: "#/components/schemas/Prediction"}}
        "400": {description: No file or too many files., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "403": {description: "Sent by a page of another web site (Sec-Fetch-Site, Origin or Referer).", content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "413": {description: Upload or picture too large., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "415": {description: Not a supported picture format., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "422": {description: A damaged picture., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "503": {description: Store unavailable; retry later., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
    """
    records = classify_request()
    return jsonify(predictions=[record_json(r) for r in records]), 201


@blueprint.get("/predictions")
def list_predictions() -> Response:
    """The history, newest first.
    ---
    get:
      summary: List predictions
      operationId: list_predictions
      parameters:
        - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100, default: 20}}
        - {name: cursor, in: query, description: next_cursor of the previous page, schema: {type: string}}
        - {name: label, in: query, description: only this predicted class, schema: {$ref: "#/components/schemas/ClassName"}}
        - {name: garment, in: query, description: "only pictures judged one of the ten garments (true) or not (false); records made before the verdict existed match neither", schema: {type: boolean}}
      responses:
        "200":
          description: One page of predictions.
          content:
            application/json:
              schema:
                type: object
                required: [predictions, next_cursor]
                properties:
                  predictions: {type: array, items: {$ref: "#/components/schemas/Prediction"}}
                  next_cursor: {type: string, nullable: true}
        "400": {description: Bad paging or filter., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "503": {description: Store unavailable., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
    """
    page = history_page(limit=int_arg("limit", DEFAULT_PAGE_SIZE))
    return jsonify(predictions=[record_json(r) for r in page.records], next_cursor=page.next_cursor)


@blueprint.get("/predictions/<uuid:record_id>")
def get_prediction(record_id: uuid.UUID) -> Response:
    """One prediction.
    ---
    get:
      summary: Get a prediction
      operationId: get_prediction
      parameters:
        - {name: record_id, in: path, required: true, schema: {type: string, format: uuid}}
      responses:
        "200": {description: The prediction., content: {application/json: {schema: {$ref: "#/components/schemas/Prediction"}}}}
        "404": {description: No such prediction., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "503": {description: Store unavailable., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
    """
    return jsonify(record_json(service().get(record_id)))


@blueprint.get("/predictions/<uuid:record_id>/image")
def get_image(record_id: uuid.UUID) -> Response:
    """The uploaded picture (as kept: re-encoded, at most 1024 px).
    ---
    get:
      summary: Get the picture of a prediction
      operationId: get_prediction_image
      parameters:
        - {name: record_id, in: path, required: true, schema: {type: string, format: uuid}}
      responses:
        "200":
          description: The picture.
          content:
            image/jpeg: {schema: {type: string, format: binary}}
            image/png: {schema: {type: string, format: binary}}
        "404": {description: No such prediction., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "503": {description: Store unavailable., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
    """
    image = service().image(record_id)
    response = Response(image.data, mimetype=image.content_type)
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    return response


@blueprint.post("/predictions/<uuid:record_id>/feedback")
def post_feedback(record_id: uuid.UUID) -> Response:
    """Correct a wrong prediction.
    ---
    post:
      summary: Give the right class of a picture, or say it is not a garment
      description: 'A class for a wrong class, or for a picture wrongly judged not a garment; "Not a garment" for a picture wrongly judged one of the ten garments.'
      operationId: correct_prediction
      parameters:
        - {name: record_id, in: path, required: true, schema: {type: string, format: uuid}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [label]
              properties:
                label: {$ref: "#/components/schemas/Correction"}
      responses:
        "200": {description: The prediction with its correction., content: {application/json: {schema: {$ref: "#/components/schemas/Prediction"}}}}
        "400": {description: Unknown class or bad body., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "403": {description: "Sent by a page of another web site (Sec-Fetch-Site, Origin or Referer).", content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "404": {description: No such prediction., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "503": {description: Store unavailable., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
    """
    body = _small_json()
    label = body.get("label") if isinstance(body, dict) else None
    if not isinstance(label, str):
        raise BadRequest(
            f'send JSON like {{"label": "Coat"}} with one of the ten class names, or {{"label": "{NOT_A_GARMENT}"}}'
        )
    return jsonify(record_json(record_feedback(record_id, label)))


@blueprint.get("/model")
def get_model() -> Response:
    """The model card of the model that answers.
    ---
    get:
      summary: Model card
      operationId: get_model_card
      responses:
        "200":
          description: Version, test accuracy, training details.
          content:
            application/json:
              schema: {type: object, required: [version], properties: {version: {type: string}}}
    """
    return jsonify(service().model_card())


def _small_json() -> object:
    """The request's JSON body, or None when it is not small, well-formed JSON."""
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise BadRequest(f'the JSON body is over {MAX_JSON_BYTES} bytes; send just {{"label": "Coat"}}')
    try:
        return request.get_json(silent=True)
    except RecursionError:  # e.g. thousands of nested '[': not a label, and not worth a 500
        return None
