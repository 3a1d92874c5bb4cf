"""Classifier: the exported model under ONNX Runtime (no TensorFlow at serving time)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from fashion_classifier.preprocessing import preprocess_bytes
from fashion_classifier.records import Prediction


class ModelNotFound(FileNotFoundError):
    """The .onnx file is missing; the message says how to get one."""


class Classifier:
    """Predicts garment classes from preprocessed (n, 28, 28, 1) float32 batches."""

    def __init__(self, session: ort.InferenceSession, *, version: str, card: dict) -> None:
        self._session = session
        self.input_name = session.get_inputs()[0].name
        self.version = version
        self.card = card

    @classmethod
    def load(cls, path: str | Path, *, threads: int = 1) -> Classifier:
        """Open the model; `threads` per call (1 suits a server with one worker per core)."""
        path = Path(path)
        if not path.is_file():
            raise ModelNotFound(
                f"no model at {path}; run `fashion-classifier train` or set MODEL_PATH to a .onnx file"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        card = _read_card(path)
        return cls(session, version=card.get("version", path.stem), card=card)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """(n, 28, 28, 1) float32 -> (n, 10): the mean over each picture and its mirror image.

        Test-time flip averaging: measured +0.3 points on the test set, +1 on product photos.
        """
        batch = np.asarray(batch, dtype=np.float32).reshape(-1, 28, 28, 1)
        both = self.raw_probabilities(np.concatenate([batch, batch[:, :, ::-1, :]]))
        return (both[: len(batch)] + both[len(batch) :]) / 2

    def dataset_probabilities(self, images: np.ndarray, *, flip: bool = True) -> np.ndarray:
        """(n, 28, 28) uint8 data-set images -> (n, 10), in chunks of 1,000 to bound memory."""
        run = self.probabilities if flip else self.raw_probabilities
        chunks = [
            images[i : i + 1000, ..., None].astype(np.float32) / 255.0 for i in range(0, len(images), 1000)
        ]
        return np.concatenate([run(chunk) for chunk in chunks])

    def raw_probabilities(self, batch: np.ndarray) -> np.ndarray:
        """The network's own output for (n, 28, 28, 1) float32, without flip averaging."""
        batch = np.ascontiguousarray(batch, dtype=np.float32).reshape(-1, 28, 28, 1)
        (probs,) = self._session.run(None, {self.input_name: batch})
        return np.asarray(probs)

    def predict(self, image: np.ndarray) -> Prediction:
        return self.predict_batch(image)[0]

    def predict_batch(self, batch: np.ndarray) -> list[Prediction]:
        return [
            Prediction.from_probabilities(tuple(float(p) for p in row)) for row in self.probabilities(batch)
        ]

    def predict_bytes(self, data: bytes) -> Prediction:
        return self.predict(preprocess_bytes(data))


def _read_card(model_path: Path) -> dict:
    """The model card beside the model (models/x.onnx -> models/x.json), or {}."""
    card_path = model_path.with_suffix(".json")
    if not card_path.is_file():
        return {}
    card: dict = json.loads(card_path.read_text())
    return card
