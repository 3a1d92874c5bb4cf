"""The model's class head, the features it reads, and an ONNX file with another head."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

CLASS_OUTPUT = "probabilities"
CHUNK = 512  # pictures per run: bounds memory on any number of pictures


@dataclass(frozen=True)
class Head:
    """A linear layer on the penultimate features: logits = features @ weights + bias."""

    weights: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)

    def probabilities(self, views: np.ndarray) -> np.ndarray:
        """(2, n, d) features of each picture and its mirror -> (n, classes), averaged as served."""
        logits = views @ self.weights + self.bias
        logits -= logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=-1, keepdims=True)).mean(axis=0)

    def predict(self, views: np.ndarray) -> np.ndarray:
        return self.probabilities(views).argmax(axis=1)


@dataclass(frozen=True)
class HeadNames:
    """Where the class head lives in the graph: its input tensor and its two initializers."""

    features: str
    weights: str
    bias: str


class HeadModel:
    """An ONNX model seen as features + class head."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.names = find_class_head(model)
        initializers = {i.name: i for i in model.graph.initializer}
        self.head = Head(
            numpy_helper.to_array(initializers[self.names.weights]).astype(np.float64),
            numpy_helper.to_array(initializers[self.names.bias]).astype(np.float64).reshape(-1),
        )
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        probe.graph.output.append(
            onnx.helper.make_tensor_value_info(self.names.features, onnx.TensorProto.FLOAT, None)
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(
            probe.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name

    @classmethod
    def from_bytes(cls, data: bytes) -> HeadModel:
        return cls(onnx.load_from_string(data))

    def features(self, batches: Iterable[np.ndarray]) -> np.ndarray:
        """Model inputs (n, 28, 28, 1) -> (2, n, d): features of each picture and of its mirror."""
        parts = []
        for batch in batches:
            for start in range(0, len(batch), CHUNK):
                chunk = np.ascontiguousarray(batch[start : start + CHUNK], dtype=np.float32)
                both = np.concatenate([chunk, chunk[:, :, ::-1, :]])
                (values,) = self._session.run([self.names.features], {self._input: both})
                parts.append(np.stack([values[: len(chunk)], values[len(chunk) :]]))
        if not parts:
            return np.zeros((2, 0, self.head.weights.shape[0]))
        return np.concatenate(parts, axis=1).astype(np.float64)

    def with_head(self, head: Head) -> onnx.ModelProto:
        """A copy of the model whose class head is `head`; everything else byte for byte the same."""
        return replace_class_head(self.model, head)


def replace_class_head(model: onnx.ModelProto, head: Head) -> onnx.ModelProto:
    return replace_head(model, find_class_head(model), head.weights, head.bias)


def replace_head(
    model: onnx.ModelProto, names: HeadNames, weights: np.ndarray, bias: np.ndarray
) -> onnx.ModelProto:
    """A copy of `model` whose initializers `names` name hold `weights` and `bias` (shapes kept)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for initializer in copy.graph.initializer:
        value = {names.weights: weights, names.bias: bias}.get(initializer.name)
        if value is not None:
            shape = tuple(initializer.dims)
            initializer.CopyFrom(
                numpy_helper.from_array(np.asarray(value, np.float32).reshape(shape), initializer.name)
            )
    return copy


def find_class_head(model: onnx.ModelProto) -> HeadNames:
    """The MatMul/Gemm (+ Add) feeding the Softmax of the class output, found by walking back."""
    producers = {output: node for node in model.graph.node for output in node.output}
    node = producers[CLASS_OUTPUT]
    if node.op_type != "Softmax":
        raise ValueError(f"the model's '{CLASS_OUTPUT}' is not a softmax: cannot learn its head")
    names = linear_layer(model, node.input[0])
    if names is None:
        raise ValueError("the model's class head is not a linear layer on features: cannot learn it")
    return names


def linear_layer(model: onnx.ModelProto, tensor: str) -> HeadNames | None:
    """The linear layer (Gemm, or MatMul then Add, on float features) that makes `tensor`, if one does."""
    producers = {output: node for node in model.graph.node for output in node.output}
    initializers = {i.name for i in model.graph.initializer}
    node = producers.get(tensor)
    if node is None:
        return None
    if node.op_type == "Gemm" and not any(a.name == "transB" and a.i for a in node.attribute):
        # the int8 model: features, weights, bias in one node
        return HeadNames(features=node.input[0], weights=node.input[1], bias=node.input[2])
    if node.op_type == "Add":  # the float model: MatMul, then Add of the bias
        bias = next((name for name in node.input if name in initializers), None)
        operand = next((name for name in node.input if name not in initializers), None)
        matmul = producers.get(operand or "")
        if bias and matmul is not None and matmul.op_type == "MatMul" and matmul.input[1] in initializers:
            return HeadNames(features=matmul.input[0], weights=matmul.input[1], bias=bias)
    return None
