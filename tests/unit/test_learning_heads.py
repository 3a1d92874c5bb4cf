"""A learned candidate is the active model with another class head, and nothing else changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from fashion_classifier.learning.fit import FitOptions, fit_head
from fashion_classifier.learning.gate import Figures, decide
from fashion_classifier.learning.heads import Head, HeadModel, find_class_head

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.parametrize("name", ["fashion_cnn.int8.onnx", "fashion_cnn.onnx"])
def test_a_new_head_changes_the_classes_and_nothing_else(name: str) -> None:
    active = HeadModel(onnx.load(str(MODELS / name)))
    rng = np.random.default_rng(0)
    other = Head(active.head.weights + rng.normal(0, 0.05, active.head.weights.shape), active.head.bias + 0.3)
    candidate = active.with_head(other)

    names = find_class_head(candidate)
    before = {i.name: numpy_helper.to_array(i) for i in active.model.graph.initializer}
    after = {i.name: numpy_helper.to_array(i) for i in candidate.graph.initializer}
    changed = {key for key in before if not np.array_equal(before[key], after[key])}
    assert changed == {names.weights, names.bias}

    pictures = rng.random((4, 28, 28, 1)).astype(np.float32)
    old, new = _outputs(active.model, pictures), _outputs(candidate, pictures)
    np.testing.assert_array_equal(old["embedding"], new["embedding"])  # similar search unaffected
    np.testing.assert_array_equal(old["garment_raw"], new["garment_raw"])  # the verdict too
    assert not np.allclose(old["probabilities"], new["probabilities"])
    # The candidate answers as the head it was given says, flip averaging included.
    served = (new["probabilities"][:4] + new["probabilities"][4:]) / 2
    np.testing.assert_allclose(served, other.probabilities(active.features([pictures])), atol=1e-5)


def _outputs(model: onnx.ModelProto, pictures: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    both = np.concatenate([pictures, pictures[:, :, ::-1, :]])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, {session.get_inputs()[0].name: both}), strict=True))


def test_fitting_moves_the_head_towards_the_examples_and_no_further_than_they_ask() -> None:
    rng = np.random.default_rng(1)
    features = rng.random((400, 8))
    labels = (features[:, 0] > features[:, 1]).astype(np.int64)  # a rule the start head ignores
    start = Head(np.zeros((8, 2)), np.zeros(2))
    learned = fit_head(features, labels, np.ones(400), start, options=FitOptions(steps=200))
    assert np.mean(learned.probabilities(np.stack([features, features])).argmax(1) == labels) > 0.9
    held = fit_head(features, labels, np.ones(400), start, options=FitOptions(steps=200, pull=100.0))
    assert np.abs(held.weights).max() < np.abs(learned.weights).max() / 5


def figures(test: float, studio: float, corrections: float) -> Figures:
    return Figures(test=test, studio=studio, held_back=0.8, held_back_corrections=corrections)


def test_the_gate_refuses_what_forgets_the_test_set_or_the_studio_photos_or_learns_nothing() -> None:
    active = figures(0.940, 0.869, 0.0)
    assert decide(active, figures(0.936, 0.870, 0.10)).passed  # 0.4 points lost on test: allowed
    refused = decide(active, figures(0.934, 0.868, 0.0))
    assert not refused.passed
    assert [reason.split(":")[0] for reason in refused.reasons] == [
        "test images",
        "studio photos",
        "held-back corrections",
    ]
