"""The gate on the verdict: non-garments flagged, garments kept."""

from __future__ import annotations

import numpy as np

from fashion_classifier.learning.examples import NOT_GARMENT
from fashion_classifier.learning.fit import FitOptions
from fashion_classifier.learning.garment import GarmentHead, fit_garment_head
from fashion_classifier.learning.gate import Figures, FixedSets, decide, figures
from fashion_classifier.learning.heads import Head


def verdict(flagged: float, test_kept: float = 0.998, studio_kept: float = 0.995) -> Figures:
    return Figures(
        test=0.94,
        studio=0.87,
        held_back=0.8,
        held_back_corrections=0.5,
        non_garments_flagged=flagged,
        test_kept=test_kept,
        studio_kept=studio_kept,
    )


def test_the_gate_refuses_fewer_non_garments_flagged_or_garments_lost_and_allows_the_rest() -> None:
    active = Figures(0.94, 0.87, 0.8, 0.4, 0.949, 0.998, 0.995)
    assert decide(active, verdict(0.949, 0.994, 0.991)).passed  # 0.4 points fewer garments kept: allowed
    assert decide(active, verdict(0.960)).passed
    lost = decide(active, verdict(0.948))
    assert [reason.split(":")[0] for reason in lost.reasons] == ["non-garments"]
    fewer_kept = decide(active, verdict(0.970, studio_kept=0.985))
    assert [reason.split(":")[0] for reason in fewer_kept.reasons] == ["garments kept"]


def test_a_held_back_correction_counts_when_the_candidate_answers_as_the_user_said() -> None:
    # One feature: raw garment score = x; class head: class 3 whatever the picture.
    head = Head(np.zeros((1, 10)), np.eye(10)[3])
    garment = GarmentHead(np.array([1.0]), 0.0, threshold=0.5, scale=0.1)
    sets = FixedSets(
        np.ones((2, 4, 1)), np.full(4, 3), np.ones((2, 2, 1)), np.full(2, 3), np.zeros((2, 3, 1))
    )
    held = np.array([0.0, 1.0, 1.0, 0.0]).reshape(1, 4, 1).repeat(2, axis=0)
    labels = np.array([NOT_GARMENT, NOT_GARMENT, 3, 3])  # said none: flagged, kept; said Dress: kept, flagged
    result = figures(head, sets, held, labels, np.ones(4, bool), garment=garment)
    assert result.held_back_corrections == 0.5  # the first and the third as the user said
    assert result.held_back == 1.0  # of the two with a class, both answered Dress
    assert (result.non_garments_flagged, result.test_kept, result.studio_kept) == (1.0, 1.0, 1.0)


def test_fitting_the_garment_head_moves_its_line_to_the_examples_and_keeps_the_calibration() -> None:
    rng = np.random.default_rng(2)
    features = rng.random((400, 6))
    garment = features[:, 0] > 0.5  # a rule the start head ignores
    start = GarmentHead(np.zeros(6), 0.0, threshold=0.2, scale=0.4)
    learned = fit_garment_head(features, garment, np.ones(400), start, options=FitOptions(steps=300))
    views = np.stack([features, features])
    assert np.mean(learned.flagged(views) == ~garment) > 0.9
    assert (learned.threshold, learned.scale) == (0.2, 0.4)
