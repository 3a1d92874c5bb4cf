"""Is it one of the ten garments at all? Candidate scores, their comparison and the threshold.

Every score comes from the same forward pass as the class probabilities:
  msp          the largest class probability (the baseline);
  energy       log-sum-exp of the logits (Liu et al. 2020);
  mahalanobis  minus the smallest Mahalanobis distance of the penultimate features to a class
               mean, with one shared covariance (Lee et al. 2018), fitted on training garments;
  head         the logit of a one-unit garment head trained with outlier exposure (robust.py).
Higher always means "more like a garment". The served model computes the chosen raw score as
a second ONNX output; the card holds the threshold and scale that turn it into garment_score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("msp", "energy", "mahalanobis", "head")


@dataclass(frozen=True)
class Gaussian:
    """Class means and a whitening matrix of the penultimate features (shared covariance)."""

    means: np.ndarray  # (10, d)
    whiten: np.ndarray  # (d, d): ||(f - m) @ whiten||^2 is the Mahalanobis distance squared

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray) -> Gaussian:
        means = np.stack([features[labels == k].mean(0) for k in range(10)])
        centred = features - means[labels]
        covariance = centred.T @ centred / len(features) + 1e-3 * np.eye(features.shape[1])
        values, vectors = np.linalg.eigh(covariance)
        return cls(means.astype(np.float32), (vectors / np.sqrt(values)).astype(np.float32))

    def score(self, features: np.ndarray) -> np.ndarray:
        z, centres = features @ self.whiten, self.means @ self.whiten
        distance = (z**2).sum(1)[:, None] - 2 * z @ centres.T + (centres**2).sum(1)[None, :]
        return -np.sqrt(np.maximum(distance.min(1), 0))


def raw_scores(
    method: str,
    logits: np.ndarray,
    features: np.ndarray,
    gaussian: Gaussian | None = None,
    head: np.ndarray | None = None,
) -> np.ndarray:
    """One method's score per picture; `head` is the garment head's logit, where the model has one."""
    if method == "head":
        if head is None:
            raise ValueError("the model has no garment head")
        return head
    if method == "msp":
        shifted = np.exp(logits - logits.max(1, keepdims=True))
        return (shifted / shifted.sum(1, keepdims=True)).max(1)
    if method == "energy":
        top = logits.max(1)
        return top + np.log(np.exp(logits - top[:, None]).sum(1))
    if gaussian is None:
        raise ValueError("mahalanobis needs the features' Gaussian")
    return gaussian.score(features)


def auroc(garments: np.ndarray, others: np.ndarray) -> float:
    """Probability that a random garment scores above a random non-garment (ties count half)."""
    ranked = np.sort(others)
    below = np.searchsorted(ranked, garments, side="left")
    tied = np.searchsorted(ranked, garments, side="right") - below
    return float((below + tied / 2).sum() / (len(garments) * len(others)))


def fpr_at_tpr(garments: np.ndarray, others: np.ndarray, tpr: float = 0.95) -> float:
    """Share of non-garments still called garments when `tpr` of garments are kept."""
    threshold = np.quantile(garments, 1 - tpr)
    return float(np.mean(others >= threshold))


@dataclass(frozen=True)
class Calibration:
    """raw score -> garment_score = sigmoid((raw - threshold) / scale); 0.5 is the verdict line."""

    method: str
    threshold: float
    scale: float

    def garment_score(self, raw: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(raw - self.threshold) / self.scale))


def flagged_at(calibration: Calibration, others: np.ndarray) -> float:
    """Share of non-garments the verdict line flags: what a user sees, unlike AUROC."""
    return float(np.mean(others < calibration.threshold))


def calibrate(
    method: str, dataset: np.ndarray, photos: np.ndarray, *, keep_dataset: float, keep_photos: float
) -> Calibration:
    """The highest threshold that keeps the required shares of validation garments and photos."""
    threshold = min(np.quantile(dataset, 1 - keep_dataset), np.quantile(photos, 1 - keep_photos))
    spread = float(np.std(np.concatenate([dataset, photos]))) or 1.0
    return Calibration(method, float(threshold), spread / 4)
