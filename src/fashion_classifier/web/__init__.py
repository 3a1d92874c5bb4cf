"""The Flask application: pages for people, a JSON API for programs, probes for operators."""

from __future__ import annotations

import logging

from flask import Flask

from fashion_classifier.config import Settings
from fashion_classifier.inference import Classifier
from fashion_classifier.service import Limits, PredictionService
from fashion_classifier.storage import open_store
from fashion_classifier.web import api, errors, metrics, ops, pages, security


def create_app(settings: Settings | None = None, *, service: PredictionService | None = None) -> Flask:
    """Build the app; the model and the store are opened here, never at import time."""
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.config["MAX_FORM_PARTS"] = settings.max_files_per_request + 20
    app.extensions["service"] = service or _build_service(settings)

    app.register_blueprint(pages.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(ops.blueprint)
    errors.register(app)
    security.register(app)
    metrics.register(app)
    return app


def _build_service(settings: Settings) -> PredictionService:
    classifier = Classifier.load(settings.model_path)
    store = open_store(
        settings.database_url,
        consistency=settings.cassandra_consistency,
        replication=settings.cassandra_replication,
    )
    limits = Limits(
        max_pixels=settings.max_pixels,
        max_files=settings.max_files_per_request,
        stored_image_max_side=settings.stored_image_max_side,
    )
    return PredictionService(classifier, store, limits=limits)
