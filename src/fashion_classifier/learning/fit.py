"""Fitting a class head: weighted cross-entropy, pulled towards the head it starts from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fashion_classifier.learning.heads import Head


@dataclass(frozen=True, kw_only=True)
class FitOptions:
    steps: int = 300
    learning_rate: float = 0.05
    # Weight decay towards the starting head, not towards zero: what the features say about
    # the data set stays unless the examples argue against it.
    pull: float = 1e-3


class Adam:
    """Adam's running moments for one parameter array, updated in place."""

    def __init__(self, param: np.ndarray, learning_rate: float) -> None:
        self.param, self.learning_rate = param, learning_rate
        self.moment = np.zeros_like(param)
        self.square = np.zeros_like(param)

    def step(self, grad: np.ndarray, step: int) -> None:
        self.moment = 0.9 * self.moment + 0.1 * grad
        self.square = 0.999 * self.square + 0.001 * grad * grad
        unbiased = self.moment / (1 - 0.9**step)
        self.param -= self.learning_rate * unbiased / (np.sqrt(self.square / (1 - 0.999**step)) + 1e-8)


def fit_head(
    features: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    start: Head,
    *,
    options: FitOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Head:
    """Adam on the whole batch; `weights` say how much each example counts (they are normalised)."""
    options = options or FitOptions()
    targets = np.eye(start.weights.shape[1])[labels]
    share = weights / weights.sum()
    head = Head(start.weights.copy(), start.bias.copy())
    optimisers = (Adam(head.weights, options.learning_rate), Adam(head.bias, options.learning_rate))
    for step in range(1, options.steps + 1):
        logits = features @ head.weights + head.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        error = (exp / exp.sum(axis=1, keepdims=True) - targets) * share[:, None]
        optimisers[0].step(features.T @ error + options.pull * (head.weights - start.weights), step)
        optimisers[1].step(error.sum(axis=0), step)
        if progress is not None:
            progress(step, options.steps)
    return head
