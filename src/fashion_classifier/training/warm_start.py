"""Start training from a shipped float ONNX model instead of from scratch.

tf2onnx folds each batch norm into the convolution before it (weights scaled, bias added), so
the ONNX file holds everything the network computes but not the batch norms' own statistics.
We rebuild the Keras model with those folded weights and batch norms that are exact
pass-throughs plus a bias (mean 0, variance 1 - epsilon, scale 1), then freeze the batch norms:
fine-tuning then changes convolutions and dense layers only, and batch statistics of new data
cannot undo the folding.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import onnx
from onnx import numpy_helper

from fashion_classifier.training.model import build_model

CONV_LAYERS = [f"block{b}_conv{i}" for b in (1, 2, 3) for i in (1, 2)]


def model_from_onnx(path: Path) -> keras.Model:
    """The Keras CNN carrying the weights of a float ONNX export of it; batch norms frozen."""
    weights = _initializers(path)
    model = build_model()
    for name in CONV_LAYERS:
        kernel = weights[f"fashion_cnn_1/{name}_1/convolution/merged_input:0"]
        model.get_layer(name).set_weights([kernel.transpose(2, 3, 1, 0)])  # OIHW -> HWIO
        bias = weights[f"fashion_cnn_1/{name.replace('conv', 'bn')}_1/batchnorm/sub:0"]
        _set_affine(model.get_layer(name.replace("conv", "bn")), scale=np.ones_like(bias), shift=bias)
    model.get_layer("fc").set_weights([weights["fashion_cnn_1/fc_1/Cast/ReadVariableOp:0"]])
    _set_affine(
        model.get_layer("fc_bn"),
        scale=weights["fashion_cnn_1/fc_bn_1/batchnorm/mul:0"],
        shift=weights["fashion_cnn_1/fc_bn_1/batchnorm/sub:0"],
    )
    model.get_layer("probabilities").set_weights(
        [
            weights["fashion_cnn_1/probabilities_1/Cast/ReadVariableOp:0"],
            weights["fashion_cnn_1/probabilities_1/BiasAdd/ReadVariableOp:0"],
        ]
    )
    return model


def _set_affine(layer: keras.layers.BatchNormalization, *, scale: np.ndarray, shift: np.ndarray) -> None:
    """Make a batch norm compute scale * x + shift, and keep it so."""
    variance = np.full_like(scale, 1.0 - layer.epsilon)
    layer.set_weights([scale, shift, np.zeros_like(scale), variance])
    layer.trainable = False


def _initializers(path: Path) -> dict[str, np.ndarray]:
    graph = onnx.load(str(path)).graph
    return {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
