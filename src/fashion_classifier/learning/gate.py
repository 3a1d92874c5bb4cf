"""The gate a candidate passes before it may serve: fixed sets no user can write to, and
the corrections held back from its own training."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fashion_classifier.learning.heads import Head, HeadModel
from fashion_classifier.preprocessing import preprocess_bytes
from fashion_classifier.training import data, studio

# The model card's studio set (training/wild.py): 2,000 photos of test garments, renderer B.
STUDIO_PER_KIND, STUDIO_SEED = 400, 90210
MAX_TEST_LOSS = 0.005  # half a point on the 10,000 test images


@dataclass(frozen=True)
class Figures:
    """Accuracy of one head on each set (held-back: the labels users gave or let stand)."""

    test: float
    studio: float
    held_back: float
    held_back_corrections: float  # of the held-back corrections, the share answered as corrected

    def as_dict(self) -> dict[str, float]:
        return {name: round(value, 4) for name, value in asdict(self).items()}


@dataclass(frozen=True)
class Decision:
    passed: bool
    reasons: list[str]


@dataclass(frozen=True)
class FixedSets:
    """Features of the sets that come from the data set and renderer B, never from users."""

    test: np.ndarray
    test_labels: np.ndarray
    studio: np.ndarray
    studio_labels: np.ndarray

    @classmethod
    def build(
        cls, model: HeadModel, dataset: data.FashionMNIST, cache: Path, *, per_kind: int = STUDIO_PER_KIND
    ) -> FixedSets:
        test = dataset.test
        pictures, labels = studio_inputs(dataset, cache, per_kind)
        return cls(
            model.features([test.images[..., None].astype(np.float32) / 255.0]),
            test.labels.astype(np.int64),
            model.features([pictures]),
            labels,
        )


def studio_inputs(dataset: data.FashionMNIST, cache: Path, per_kind: int) -> tuple[np.ndarray, np.ndarray]:
    """Renderer B's photos as model inputs, rendered once (about a minute) and kept in `cache`."""
    path = cache / f"studio-{per_kind}-{STUDIO_SEED}.npz"
    if path.exists():
        with np.load(path) as saved:
            return saved["pictures"], saved["labels"]
    test = dataset.test
    shots = studio.shoot_set(test.images, test.labels, per_kind=per_kind, seed=STUDIO_SEED)
    pictures = np.concatenate([preprocess_bytes(shot.data) for shot in shots])
    labels = np.array([shot.label for shot in shots], dtype=np.int64)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, pictures=pictures, labels=labels)
    return pictures, labels


def figures(
    head: Head, sets: FixedSets, held: np.ndarray, held_labels: np.ndarray, corrected: np.ndarray
) -> Figures:
    held_hits = head.predict(held) == held_labels if len(held_labels) else np.zeros(0, bool)
    return Figures(
        test=float(np.mean(head.predict(sets.test) == sets.test_labels)),
        studio=float(np.mean(head.predict(sets.studio) == sets.studio_labels)),
        held_back=float(held_hits.mean()) if len(held_hits) else 0.0,
        held_back_corrections=float(held_hits[corrected].mean()) if corrected.any() else 0.0,
    )


def decide(active: Figures, candidate: Figures) -> Decision:
    """Promote only a candidate that forgets nothing that matters and learnt what it was told.

    The held-back uploads as a whole are reported, not gated on: a few hundred of them cannot
    tell a point of accuracy from noise, while the fixed sets can.
    """
    reasons = []
    if candidate.test < active.test - MAX_TEST_LOSS:
        reasons.append(
            f"test images: {candidate.test:.2%} against {active.test:.2%} (more than 0.5 points lost)"
        )
    if candidate.studio < active.studio:
        reasons.append(f"studio photos: {candidate.studio:.2%} against {active.studio:.2%} (lost)")
    if candidate.held_back_corrections <= active.held_back_corrections:
        reasons.append(
            f"held-back corrections: {candidate.held_back_corrections:.2%} answered as corrected, against "
            f"{active.held_back_corrections:.2%} (no gain)"
        )
    return Decision(passed=not reasons, reasons=reasons)
