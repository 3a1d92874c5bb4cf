"""GET /api/v1/models (a route of the api blueprint): what the models page shows, as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify

from fashion_classifier.correction_shares import CorrectionShares, Share, VersionShares
from fashion_classifier.model_overview import ModelsOverview
from fashion_classifier.web.api import blueprint
from fashion_classifier.web.inputs import service
from fashion_classifier.web.models_page import models_overview, shares, shares_cache_seconds


@blueprint.get("/models")
def list_models() -> Response:
    """The kept model versions and the share of answers users corrected.
    ---
    get:
      summary: Model versions and corrected answers
      description: >-
        Every model version kept in the store with the figures of its model card (null where the
        card has none), which one is active and since when, and, over the newest uploads (at most
        corrections.window.limit, counted at most once a minute per worker), the share of each
        version's answers that a user corrected to something else, per answer the model gave (a class,
        or "Not a garment" for a picture it judged none of the ten).
      operationId: list_models
      responses:
        "200":
          description: The versions and the corrected shares.
          content:
            application/json:
              schema:
                type: object
                required: [active, answering, versions, corrections]
                properties:
                  active:
                    type: object
                    nullable: true
                    description: the version every worker follows, since when, and the one before; null while none is kept
                    required: [version, since, previous]
                    properties:
                      version: {type: string}
                      since: {type: string, format: date-time}
                      previous: {type: string, nullable: true}
                  answering: {type: string, description: the version this worker answers with now}
                  versions:
                    type: array
                    description: every kept version, newest first
                    items:
                      type: object
                      required: [version, created_at, created_by, learned_from, active, figures]
                      properties:
                        version: {type: string}
                        created_at: {type: string, format: date-time}
                        created_by: {type: string}
                        learned_from: {type: string, nullable: true}
                        active: {type: boolean}
                        figures:
                          type: object
                          required: [test, studio, non_garments, held_back_corrections]
                          properties:
                            test: {type: number, minimum: 0, maximum: 1, nullable: true, description: "accuracy on the 10,000 Fashion-MNIST test images"}
                            studio: {type: number, minimum: 0, maximum: 1, nullable: true, description: "accuracy on the card's 2,000 studio photos"}
                            non_garments: {type: number, minimum: 0, maximum: 1, nullable: true, description: share of non-garment pictures flagged}
                            held_back_corrections: {type: number, minimum: 0, maximum: 1, nullable: true, description: "of the corrections learn held back from training, the share answered as corrected"}
                  corrections:
                    type: object
                    required: [window, versions]
                    properties:
                      window:
                        type: object
                        required: [limit, records, oldest, newest, computed_at, cache_seconds]
                        properties:
                          limit: {type: integer, description: "the most uploads counted, newest first"}
                          records: {type: integer, description: uploads counted}
                          oldest: {type: string, format: date-time, nullable: true}
                          newest: {type: string, format: date-time, nullable: true}
                          computed_at: {type: string, format: date-time}
                          cache_seconds: {type: number, description: how long a worker keeps the count}
                      versions:
                        type: array
                        description: the versions that answered in the window, the one that answered last first
                        items:
                          type: object
                          required: [version, total, answers]
                          properties:
                            version: {type: string}
                            total:
                              type: object
                              required: [answers, corrected, share]
                              properties:
                                answers: {type: integer, minimum: 0}
                                corrected: {type: integer, minimum: 0}
                                share: {type: number, minimum: 0, maximum: 1, nullable: true}
                            answers:
                              type: array
                              description: per answer the model gave, the ten classes in the data set's order, then "Not a garment"
                              items:
                                type: object
                                required: [answer, answers, corrected, share]
                                properties:
                                  answer: {$ref: "#/components/schemas/Correction"}
                                  answers: {type: integer, minimum: 0}
                                  corrected: {type: integer, minimum: 0}
                                  share: {type: number, minimum: 0, maximum: 1, nullable: true, description: corrected / answers; null without answers}
        "503": {description: Store unavailable or not migrated., content: {application/json: {schema: {$ref: "#/components/schemas/Error"}}}}
    """
    return jsonify(models_json(models_overview(), shares(), answering=service().model_version))


def models_json(overview: ModelsOverview, counted: CorrectionShares, *, answering: str) -> dict[str, Any]:
    """The versions, the active pointer and the corrected shares, as the API answers them."""
    active = overview.active
    return {
        "active": None
        if active is None
        else {"version": active.version, "since": _time(active.since), "previous": active.previous},
        "answering": answering,
        "versions": [
            {
                "version": kept.version,
                "created_at": _time(kept.created_at),
                "created_by": kept.created_by,
                "learned_from": kept.learned_from,
                "active": kept.active,
                "figures": kept.figures,
            }
            for kept in overview.versions
        ],
        "corrections": {"window": _window(counted), "versions": [_version(v) for v in counted.versions]},
    }


def _window(counted: CorrectionShares) -> dict[str, Any]:
    return {
        "limit": counted.window,
        "records": counted.records,
        "oldest": _time(counted.oldest),
        "newest": _time(counted.newest),
        "computed_at": _time(counted.computed_at),
        "cache_seconds": shares_cache_seconds(),
    }


def _version(version: VersionShares) -> dict[str, Any]:
    return {
        "version": version.version,
        "total": _share(version.total),
        "answers": [{"answer": name, **_share(share)} for name, share in version.by_answer.items()],
    }


def _share(share: Share) -> dict[str, Any]:
    return {"answers": share.answers, "corrected": share.corrected, "share": share.share}


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
