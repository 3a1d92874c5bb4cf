"""The Flask application: pages for people, a JSON API for programs, probes for operators."""

from __future__ import annotations

import io
import logging
from typing import IO

from flask import Flask, Request

from fashion_classifier.config import Settings
from fashion_classifier.service import PredictionService
from fashion_classifier.web import api, errors, metrics, models_page, ops, pages, security
from fashion_classifier.web import models_api as _models_api  # noqa: F401 - its route joins the api blueprint
from fashion_classifier.web import similar as _similar  # noqa: F401 - its routes join the api blueprint


class InMemoryUploads(Request):
    """Uploaded files stay in memory (at most MAX_CONTENT_LENGTH) instead of spilling to /tmp.

    Kubernetes mounts /tmp as a 64 MiB memory volume that the metrics files share: a few
    concurrent 20 MB uploads spooled there would fill it.
    """

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; the model and the store are opened here (by the service), never at import time."""
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask(__name__)
    app.request_class = InMemoryUploads
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.config["MAX_FILES_PER_REQUEST"] = settings.limits.max_files_per_request
    app.config["MAX_FORM_PARTS"] = settings.limits.max_files_per_request + 20
    app.config["METRICS_DIR"] = settings.metrics_dir
    app.extensions["service"] = PredictionService.from_settings(settings)

    app.register_blueprint(pages.blueprint)
    app.register_blueprint(models_page.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(ops.blueprint)
    errors.register(app)
    security.register(app)
    metrics.register(app, model_version=app.extensions["service"].model_version)
    # The store's active version from the first request on, then every MODEL_POLL_SECONDS.
    app.extensions["service"].follow_active_model(
        every=settings.model_poll_seconds, on_switch=metrics.model_switched
    )
    return app
