"""A refitted garment head changes the verdict's two initializers and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from fashion_classifier.learning.garment import (
    GarmentHead,
    find_garment_head,
    read_garment_head,
    replace_garment_head,
)
from fashion_classifier.learning.heads import HeadModel

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.parametrize("name", ["fashion_cnn.int8.onnx", "fashion_cnn.onnx"])
def test_a_new_garment_head_changes_the_verdict_and_nothing_else(name: str) -> None:
    active = HeadModel(onnx.load(str(MODELS / name)))
    card = json.loads((MODELS / name).with_suffix(".json").read_text())
    start = read_garment_head(active.model, card, active.names.features)
    assert start is not None
    rng = np.random.default_rng(0)
    other = GarmentHead(
        start.weights + rng.normal(0, 0.05, 256), start.bias + 0.4, start.threshold, start.scale
    )
    candidate = replace_garment_head(active.model, other)

    names = find_garment_head(candidate)
    assert names is not None
    before = {i.name: numpy_helper.to_array(i) for i in active.model.graph.initializer}
    after = {i.name: numpy_helper.to_array(i) for i in candidate.graph.initializer}
    assert {key for key in before if not np.array_equal(before[key], after[key])} == {
        names.weights,
        names.bias,
    }

    pictures = rng.random((4, 28, 28, 1)).astype(np.float32)
    old, new = _outputs(active.model, pictures), _outputs(candidate, pictures)
    np.testing.assert_array_equal(old["embedding"], new["embedding"])
    np.testing.assert_array_equal(old["probabilities"], new["probabilities"])
    served = (new["garment_raw"][:4] + new["garment_raw"][4:]) / 2  # the server averages the mirror
    np.testing.assert_allclose(served, other.raw(active.features([pictures])), atol=1e-4)


def _outputs(model: onnx.ModelProto, pictures: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    both = np.concatenate([pictures, pictures[:, :, ::-1, :]])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, {session.get_inputs()[0].name: both}), strict=True))
