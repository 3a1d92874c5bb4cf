"""What both stores share for similar-picture search: which vectors can be kept, and how alike."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fashion_classifier.storage.migrations import EMBEDDING_SIZE, SIMILAR_VERSION, SchemaNotReady


def storable(vector: Sequence[float] | None) -> bool:
    """A vector the index can hold: the column's size, finite, not zero.

    Cassandra's cosine index refuses a zero vector (the write fails on the replica), so such a
    picture is kept without an embedding rather than failing its upload.
    """
    if vector is None or len(vector) != EMBEDDING_SIZE:
        return False
    norm = math.fsum(v * v for v in vector)
    return math.isfinite(norm) and norm > 0


def similarity(cosine: float) -> float:
    """(1 + cosine) / 2 in [0, 1]: the scale of Cassandra's similarity_cosine, for both stores."""
    return min(1.0, max(0.0, (1.0 + cosine) / 2.0))


def require_similar(applied: int, where: str) -> None:
    """Raise SchemaNotReady while the schema has no embeddings yet."""
    if applied < SIMILAR_VERSION:
        raise SchemaNotReady(
            f"the schema in {where} is at version {applied}; similar-picture search needs version "
            f"{SIMILAR_VERSION}: run `fashion-classifier migrate`, then `fashion-classifier reindex`"
        )
