"""The garment head: one linear unit on the same features as the class head, "garment or not".

The served verdict is garment_score = sigmoid((raw - threshold) / scale), raw = features @ w + b
averaged over the picture and its mirror, threshold and scale from the model card. Refitting
keeps the card's calibration and fits w, b in that calibrated space, so 0.5 stays the line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from fashion_classifier.inference import VERDICT_OUTPUT
from fashion_classifier.learning.fit import Adam, FitOptions
from fashion_classifier.learning.heads import HeadNames, linear_layer, replace_head

# Nodes that only pick or reshape the head's one output on its way to garment_raw.
PASS_THROUGH = {"Squeeze", "Slice", "Reshape", "Identity", "Flatten", "Gather"}


@dataclass(frozen=True)
class GarmentHead:
    """raw = features @ weights + bias; flagged (not a garment) when raw < threshold."""

    weights: np.ndarray  # (features,)
    bias: float
    threshold: float
    scale: float

    def raw(self, views: np.ndarray) -> np.ndarray:
        """(2, n, d) features of each picture and its mirror -> (n,) raw scores, averaged as served."""
        return np.asarray((views @ self.weights + self.bias).mean(axis=0))

    def flagged(self, views: np.ndarray) -> np.ndarray:
        """Which pictures the verdict calls no garment."""
        return self.raw(views) < self.threshold


def find_garment_head(model: onnx.ModelProto) -> HeadNames | None:
    """The linear layer that makes garment_raw, walking back over slices and squeezes; None if none."""
    producers = {output: node for node in model.graph.node for output in node.output}
    if VERDICT_OUTPUT not in {output.name for output in model.graph.output}:
        return None
    tensor = VERDICT_OUTPUT
    while (node := producers.get(tensor)) is not None and node.op_type in PASS_THROUGH:
        tensor = node.input[0]
    return linear_layer(model, tensor)


def read_garment_head(model: onnx.ModelProto, card: dict[str, Any], features: str) -> GarmentHead | None:
    """The garment head, if the model has one on `features` (the class head's) with a "head" verdict."""
    names = find_garment_head(model)
    verdict = card.get("garment_verdict") or {}
    if names is None or names.features != features or verdict.get("method", "head") != "head":
        return None
    initializers = {i.name: i for i in model.graph.initializer}
    weights = numpy_helper.to_array(initializers[names.weights]).astype(np.float64).reshape(-1)
    bias = numpy_helper.to_array(initializers[names.bias]).astype(np.float64).reshape(-1)
    if len(bias) != 1:
        return None
    return GarmentHead(weights, float(bias[0]), float(verdict["threshold"]), float(verdict["scale"]))


def replace_garment_head(model: onnx.ModelProto, head: GarmentHead) -> onnx.ModelProto:
    names = find_garment_head(model)
    if names is None:
        raise ValueError("the model has no garment head to replace")
    return replace_head(model, names, head.weights, np.array([head.bias]))


def fit_garment_head(
    features: np.ndarray,
    garment: np.ndarray,
    weights: np.ndarray,
    start: GarmentHead,
    *,
    options: FitOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> GarmentHead:
    """Adam on weighted binary cross-entropy of the calibrated score, pulled towards `start`.

    features (n, d); garment (n,) 1 for a garment, 0 for none; weights (n,) normalised here.
    """
    options = options or FitOptions()
    share = weights / weights.sum()
    target = garment.astype(np.float64)
    w, b = start.weights.copy(), np.array([start.bias])
    optimisers = (Adam(w, options.learning_rate), Adam(b, options.learning_rate))
    for step in range(1, options.steps + 1):
        z = np.clip((features @ w + b[0] - start.threshold) / start.scale, -50, 50)
        error = (1 / (1 + np.exp(-z)) - target) * share / start.scale
        optimisers[0].step(features.T @ error + options.pull * (w - start.weights), step)
        optimisers[1].step(np.array([error.sum()]), step)
        if progress is not None:
            progress(step, options.steps)
    return GarmentHead(w, float(b[0]), start.threshold, start.scale)
