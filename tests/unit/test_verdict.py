"""The garment verdict's measures: what the model card's figures and the threshold rest on."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_classifier.training import verdict


def _brute_force_auroc(garments: np.ndarray, others: np.ndarray) -> float:
    wins = (garments[:, None] > others[None, :]).sum() + 0.5 * (garments[:, None] == others[None, :]).sum()
    return float(wins / (len(garments) * len(others)))


def test_auroc_matches_counting_every_pair_ties_included() -> None:
    rng = np.random.default_rng(1)
    garments, others = rng.integers(0, 20, 300).astype(float), rng.integers(0, 15, 200).astype(float)
    assert abs(verdict.auroc(garments, others) - _brute_force_auroc(garments, others)) < 1e-12


def test_auroc_is_one_when_every_garment_scores_higher_and_half_for_identical_scores() -> None:
    assert verdict.auroc(np.array([5.0, 6.0]), np.array([1.0, 2.0])) == 1.0
    assert verdict.auroc(np.array([3.0, 3.0]), np.array([3.0])) == 0.5


def test_calibration_keeps_the_required_shares_and_puts_the_line_at_score_one_half() -> None:
    rng = np.random.default_rng(2)
    dataset, photos = rng.normal(5, 1, 5000), rng.normal(4, 1.5, 2000)
    calibration = verdict.calibrate("energy", dataset, photos, keep_dataset=0.99, keep_photos=0.98)
    assert np.mean(calibration.garment_score(dataset) >= 0.5) >= 0.99
    assert np.mean(calibration.garment_score(photos) >= 0.5) >= 0.98
    assert abs(float(calibration.garment_score(np.array([calibration.threshold]))[0]) - 0.5) < 1e-9


def test_fpr_at_95_tpr_counts_non_garments_above_the_line_that_keeps_95_percent() -> None:
    garments = np.arange(100, dtype=float)  # the 5th percentile is 4.95
    others = np.array([0.0, 1.0, 10.0, 50.0])
    assert verdict.fpr_at_tpr(garments, others, 0.95) == 0.5


def test_mahalanobis_scores_a_point_at_a_class_mean_above_a_far_one() -> None:
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(10), 50)
    features = rng.normal(0, 1, (500, 4)) + labels[:, None] * 3.0
    gaussian = verdict.Gaussian.fit(features, labels)
    near, far = gaussian.means[3:4], gaussian.means[3:4] + 40.0
    assert gaussian.score(near)[0] > gaussian.score(far)[0]
    assert abs(gaussian.score(near)[0]) < 1e-3


def test_the_line_flags_the_non_garments_below_it_and_keeps_those_at_or_above() -> None:
    line = verdict.Calibration("head", threshold=0.0, scale=1.0)
    assert verdict.flagged_at(line, np.array([-2.0, -0.1, 0.0, 3.0])) == 0.5


def test_the_head_method_scores_with_the_garment_head_and_refuses_a_model_without_one() -> None:
    logits, features = np.zeros((3, 10)), np.zeros((3, 4))
    head = np.array([2.0, -1.0, 0.5])
    assert np.array_equal(verdict.raw_scores("head", logits, features, None, head), head)
    with pytest.raises(ValueError, match="no garment head"):
        verdict.raw_scores("head", logits, features, None)
