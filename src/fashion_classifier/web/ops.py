"""Operator endpoints: liveness, readiness, metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, send_from_directory

from fashion_classifier.storage import SchemaNotReady, StoreUnavailable
from fashion_classifier.web import metrics, openapi
from fashion_classifier.web.inputs import service

blueprint = Blueprint("ops", __name__)
log = logging.getLogger(__name__)
# Swagger UI, vendored from a pinned swagger-ui-dist release (tools/vendor-swagger-ui.sh).
SWAGGER_DIR = Path(__file__).parent / "static" / "vendor" / "swagger-ui"
# What /readyz says about an unmigrated store: what to run, and no host or path.
SCHEMA_NOT_READY = "the database schema is older than this app needs: run `fashion-classifier migrate` once"


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is alive and answering; says nothing about the store."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to serve: the model is loaded, the store answers and its schema is migrated."""
    model = service().model_version
    try:
        service().check_ready()
    except SchemaNotReady as exc:
        log.warning("not ready: %r", str(exc))
        return jsonify(status="unavailable", model=model, store=SCHEMA_NOT_READY), 503
    except StoreUnavailable as exc:
        # The detail names hosts or a file path: the log gets it, the (public) probe does not.
        log.warning("not ready: %r", str(exc))
        return jsonify(status="unavailable", model=model, store="unavailable"), 503
    return jsonify(status="ready", model=model, store="ok"), 200


@blueprint.get("/metrics")
def prometheus_metrics() -> Response:
    return metrics.render(current_app.config["METRICS_DIR"])


@blueprint.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(openapi.document(current_app))


@blueprint.get("/docs")
def docs() -> str:
    return render_template("docs.html")


@blueprint.get("/docs/assets/<path:name>")
def docs_assets(name: str) -> Response:
    """Swagger UI's files from inside our package: no CDN, works offline."""
    return send_from_directory(SWAGGER_DIR, name)
