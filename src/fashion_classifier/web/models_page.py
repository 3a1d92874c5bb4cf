"""The models page (/models): the kept versions with their figures, and the share of answers corrected."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from fashion_classifier.correction_shares import (
    ANSWERS,
    CACHE_SECONDS,
    WINDOW,
    CorrectionShares,
    SharesCache,
    correction_shares,
)
from fashion_classifier.labels import NOT_A_GARMENT
from fashion_classifier.model_overview import FIGURES, ModelsOverview, overview
from fashion_classifier.web.inputs import ensure_schema, service

blueprint = Blueprint("models", __name__)
blueprint.before_request(ensure_schema)
CACHE_KEY = "correction_shares"
# The chart's geometry (SVG user units): a row per answer: its name, its bar, its figures.
CHART = {"row": 28, "label": 104, "bar": 150, "width": 400}


def shares() -> CorrectionShares:
    """The corrected shares of this process, counted at most once every CORRECTION_SHARES_SECONDS."""
    cache = current_app.extensions.get(CACHE_KEY)
    if cache is None:
        reader = service()
        fresh = SharesCache(lambda: correction_shares(reader, window=WINDOW), seconds=shares_cache_seconds())
        cache = current_app.extensions.setdefault(CACHE_KEY, fresh)
    found: CorrectionShares = cache.get()
    return found


def shares_cache_seconds() -> float:
    """How long a worker keeps the count: CORRECTION_SHARES_SECONDS in the app's config (tests), else a minute."""
    return float(current_app.config.get("CORRECTION_SHARES_SECONDS", CACHE_SECONDS))


def models_overview() -> ModelsOverview:
    return overview(service().models)


@blueprint.get("/models")
def models_page() -> str:
    return render_template(
        "models.html",
        overview=models_overview(),
        answering=service().model_version,
        shares=shares(),
        figures=FIGURES,
        answers=ANSWERS,
        not_a_garment=NOT_A_GARMENT,
        chart=CHART,
    )
