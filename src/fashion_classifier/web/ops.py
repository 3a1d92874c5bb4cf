"""Operator endpoints: liveness, readiness, metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, Response, current_app, jsonify, render_template, send_from_directory

from fashion_classifier.storage import StoreUnavailable
from fashion_classifier.web import metrics, openapi

blueprint = Blueprint("ops", __name__)
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)


def ensure_schema() -> None:
    """before_request hook of the pages and the API (not of the probes: /healthz must not need the store).

    Only checks: the schema is made by `fashion-classifier migrate`, never by a serving worker
    (two workers creating it at once on different nodes made uploads fail). Too old -> 503.
    """
    current_app.extensions["service"].store.check_schema()


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is alive and answering; says nothing about the store."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to serve: the model is loaded, the store answers and its schema is migrated."""
    service = current_app.extensions["service"]
    try:
        service.store.ping()
        service.store.check_schema()
    except StoreUnavailable as exc:
        return jsonify(status="unavailable", model=service.classifier.version, store=str(exc)), 503
    return jsonify(status="ready", model=service.classifier.version, store="ok"), 200


@blueprint.get("/metrics")
def prometheus_metrics() -> Response:
    return metrics.render()


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(openapi.document(current_app))


@blueprint.get("/docs")
def docs() -> str:
    return render_template("docs.html")


@blueprint.get("/docs/assets/<path:name>")
def docs_assets(name: str) -> Response:
    """Swagger UI's files from the installed package: no CDN, works offline."""
    return send_from_directory(SWAGGER_DIR, name)
