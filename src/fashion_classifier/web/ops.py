"""Operator endpoints: liveness, readiness, metrics, the OpenAPI document and its docs page."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, send_from_directory

from fashion_classifier.storage import PredictionStore, StoreUnavailable
from fashion_classifier.web import metrics, openapi

blueprint = Blueprint("ops", __name__)
log = logging.getLogger(__name__)
# Swagger UI, vendored from a pinned swagger-ui-dist release (tools/vendor-swagger-ui.sh).
SWAGGER_DIR = Path(__file__).parent / "static" / "vendor" / "swagger-ui"


class SchemaGuard:
    """Creates the schema once per process, retrying on later requests if the store was down."""

    def __init__(self, store: PredictionStore) -> None:
        self._store = store
        self._ready = False
        self._lock = threading.Lock()

    def ensure(self) -> None:
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                self._store.init_schema()
                self._ready = True


def ensure_schema() -> None:
    """before_request hook of the pages and the API (not of the probes: /healthz must not need the store)."""
    current_app.extensions["schema"].ensure()


@blueprint.get("/healthz")
def healthz() -> Response:
    """The process is alive and answering; says nothing about the store."""
    return jsonify(status="ok")


@blueprint.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to serve: the model is loaded and the store answers."""
    service = current_app.extensions["service"]
    try:
        service.store.ping()
    except StoreUnavailable as exc:
        # The detail names hosts or a file path: the log gets it, the (public) probe does not.
        log.warning("not ready: %r", str(exc))
        return jsonify(status="unavailable", model=service.classifier.version, store="unavailable"), 503
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
    """Swagger UI's files from inside our package: no CDN, works offline."""
    return send_from_directory(SWAGGER_DIR, name)
