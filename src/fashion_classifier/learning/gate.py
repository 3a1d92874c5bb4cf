"""The gate a candidate passes before it may serve: fixed sets no user can write to, and
the corrections held back from its own training."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fashion_classifier.learning.examples import NOT_GARMENT
from fashion_classifier.learning.garment import GarmentHead
from fashion_classifier.learning.heads import Head, HeadModel
from fashion_classifier.learning.non_garments import GATE_PER_FAMILY, gate_inputs
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
    # Of the held-back corrections, the share answered as the user said: a class as that class,
    # judged a garment; "not a garment" flagged.
    held_back_corrections: float
    # The verdict (0 for all three on a model without one): the fixed non-garments it flags, the
    # test images and studio photos it keeps as garments.
    non_garments_flagged: float = 0.0
    test_kept: float = 0.0
    studio_kept: float = 0.0

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
    # The model card's non-garments, from sources never trained on (learning/non_garments.py).
    non_garments: np.ndarray = field(default_factory=lambda: np.zeros((2, 0, 0)))

    @classmethod
    def build(
        cls,
        model: HeadModel,
        dataset: data.FashionMNIST,
        cache: Path,
        *,
        per_kind: int = STUDIO_PER_KIND,
        per_family: int = GATE_PER_FAMILY,
    ) -> FixedSets:
        test = dataset.test
        pictures, labels = studio_inputs(dataset, cache, per_kind)
        return cls(
            model.features([test.images[..., None].astype(np.float32) / 255.0]),
            test.labels.astype(np.int64),
            model.features([pictures]),
            labels,
            model.features([gate_inputs(cache, per_family)]),
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
    head: Head,
    sets: FixedSets,
    held: np.ndarray,
    held_labels: np.ndarray,
    corrected: np.ndarray,
    *,
    garment: GarmentHead | None = None,
) -> Figures:
    """One candidate's (or the active model's) heads on every set; held_labels NOT_GARMENT: "not a garment"."""
    predicted = head.predict(held) if len(held_labels) else np.zeros(0, np.int64)
    flagged = (
        garment.flagged(held)
        if garment is not None and len(held_labels)
        else np.zeros(len(held_labels), bool)
    )
    classed = held_labels != NOT_GARMENT
    said = np.where(classed, (predicted == held_labels) & ~flagged, flagged)
    return Figures(
        test=float(np.mean(head.predict(sets.test) == sets.test_labels)),
        studio=float(np.mean(head.predict(sets.studio) == sets.studio_labels)),
        held_back=float(np.mean(predicted[classed] == held_labels[classed])) if classed.any() else 0.0,
        held_back_corrections=float(said[corrected].mean()) if corrected.any() else 0.0,
        **_verdict_figures(garment, sets),
    )


def _verdict_figures(garment: GarmentHead | None, sets: FixedSets) -> dict[str, float]:
    if garment is None or not sets.non_garments.shape[1]:
        return {}
    return {
        "non_garments_flagged": float(garment.flagged(sets.non_garments).mean()),
        "test_kept": float(1 - garment.flagged(sets.test).mean()),
        "studio_kept": float(1 - garment.flagged(sets.studio).mean()),
    }


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
    if candidate.non_garments_flagged < active.non_garments_flagged:
        reasons.append(
            f"non-garments: {candidate.non_garments_flagged:.2%} flagged, against "
            f"{active.non_garments_flagged:.2%} (lost)"
        )
    kept = ((candidate.test_kept, active.test_kept), (candidate.studio_kept, active.studio_kept))
    if any(now < before - MAX_TEST_LOSS for now, before in kept):
        reasons.append(
            f"garments kept: test images {candidate.test_kept:.2%} against {active.test_kept:.2%}, studio "
            f"photos {candidate.studio_kept:.2%} against {active.studio_kept:.2%} (more than 0.5 points lost)"
        )
    if candidate.held_back_corrections <= active.held_back_corrections:
        reasons.append(
            f"held-back corrections: {candidate.held_back_corrections:.2%} answered as corrected, against "
            f"{active.held_back_corrections:.2%} (no gain)"
        )
    return Decision(passed=not reasons, reasons=reasons)
