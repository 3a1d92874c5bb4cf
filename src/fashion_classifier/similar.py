"""Similar garments: the past uploads whose pictures the model sees as closest to a given one.

The model's embedding (unit-length penultimate features) of each upload is kept beside its
record, per model version; a query compares it with those of the same version only, since two
models place pictures differently. Records kept before embeddings existed get theirs from
`fashion-classifier reindex`; until then a query about one is embedded from its kept picture.
"""

from __future__ import annotations

import uuid

import numpy as np

from fashion_classifier.inference import Classifier
from fashion_classifier.preprocessing import load_image, to_model_input
from fashion_classifier.records import Neighbour, StoredImage
from fashion_classifier.storage import PredictionStore

DEFAULT_SIMILAR = 8
MAX_SIMILAR = 50


def nearest(
    store: PredictionStore,
    vector: tuple[float, ...],
    *,
    model_version: str,
    limit: int,
    exclude: uuid.UUID | None = None,
) -> list[Neighbour]:
    """The `limit` closest records of this model version, closest first, without `exclude`."""
    extra = 0 if exclude is None else 1  # the record asked about is its own closest neighbour
    found = store.similar(vector, model_version=model_version, limit=limit + extra)
    return [n for n in found if n.record.id != exclude][:limit]


def embed_picture(
    classifier: Classifier, picture: StoredImage | bytes, *, max_pixels: int
) -> tuple[float, ...]:
    """The embedding of a picture as kept (or sent), through the same preprocessing as an upload."""
    data = picture.data if isinstance(picture, StoredImage) else picture
    checked = load_image(data, max_pixels=max_pixels)
    return to_vector(classifier.embed(to_model_input(checked.image))[0])


def to_vector(row: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in row)
