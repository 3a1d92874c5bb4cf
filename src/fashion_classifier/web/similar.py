"""Similar garments in the JSON API (routes of the api blueprint) and for the record page."""

from __future__ import annotations

import logging
import uuid

from flask import Response, jsonify

from fashion_classifier.inference import NoEmbedding
from fashion_classifier.records import Neighbour
from fashion_classifier.service import BadRequest
from fashion_classifier.similar import DEFAULT_SIMILAR
from fashion_classifier.storage import SchemaNotReady, StoreUnavailable
from fashion_classifier.web.api import blueprint, record_json
from fashion_classifier.web.inputs import int_arg, service, uploads_from_request

log = logging.getLogger(__name__)
PAGE_SIMILAR = 8  # thumbnails under a record


def neighbours_json(neighbours: list[Neighbour]) -> Response:
    return jsonify(
        model_version=service().model_version,
        similar=[{**record_json(n.record), "similarity": n.similarity} for n in neighbours],
    )


@blueprint.get("/predictions/<uuid:record_id>/similar")
def similar_predictions(record_id: uuid.UUID) -> Response:
    """Past uploads that look like this one, closest first.
    ---
    get:
      summary: Similar uploads
      description: >-
        The uploads whose pictures the model sees as closest to this one's (cosine of the model's
        embeddings; approximate on Cassandra, exact on SQLite), closest first, without the record
        itself. Only embeddings of the answering model's version are compared.
      operationId: similar_predictions
      parameters:
        - {name: record_id, in: path, required: true, schema: {type: string, format: uuid}}
        - {name: limit, in: query, description: how many, schema: {type: integer, minimum: 1, maximum: 50, default: 8}}
      responses:
        "200": {description: The closest uploads., content: {application/json: {schema: {$ref: "#/components/schemas/SimilarPredictions"}}}}
        "400": {description: limit outside 1..50., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "404": {description: No such prediction., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "501": {description: The model has no embedding output., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "503": {description: Store unavailable or not migrated., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
    """
    neighbours = service().similar(record_id, limit=int_arg("limit", DEFAULT_SIMILAR))
    return neighbours_json(neighbours)


@blueprint.post("/search")
def search_by_picture() -> Response:
    """Past uploads that look like a picture; the picture is not kept.
    ---
    post:
      summary: Search by picture
      operationId: search_by_picture
      parameters:
        - {name: limit, in: query, description: how many, schema: {type: integer, minimum: 1, maximum: 50, default: 8}}
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [file]
              properties:
                file: {type: string, format: binary}
      responses:
        "200": {description: The closest uploads., content: {application/json: {schema: {$ref: "#/components/schemas/SimilarPredictions"}}}}
        "400": {description: "No file, more than one, or limit outside 1..50.", content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "403": {description: "Sent by a page of another web site (Sec-Fetch-Site, Origin or Referer).", content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "413": {description: Upload or picture too large., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "415": {description: Not a supported picture format., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "422": {description: A damaged picture., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "501": {description: The model has no embedding output., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
        "503": {description: Store unavailable or not migrated., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
    """
    limit = int_arg("limit", DEFAULT_SIMILAR)
    uploads = uploads_from_request()
    if len(uploads) != 1:
        raise BadRequest(f"{len(uploads)} files sent; search with one picture in the form field 'file'")
    return neighbours_json(service().search(uploads[0], limit=limit))


def for_record_page(record_id: uuid.UUID) -> list[Neighbour] | None:
    """Thumbnails under a record; None, rather than an error page, when they cannot be had.

    The record is what the page is about: an unmigrated schema, a model without embeddings or a
    failed similar query leave the thumbnails out and the rest of the page as it was.
    """
    try:
        return service().similar(record_id, limit=PAGE_SIMILAR)
    except (SchemaNotReady, NoEmbedding) as exc:
        log.info("no similar uploads on the record page: %s", exc)
    except StoreUnavailable as exc:
        log.warning("similar uploads left out of a record page: %r", str(exc))
    return None
