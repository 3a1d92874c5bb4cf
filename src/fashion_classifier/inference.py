"""Classifier: the exported model under ONNX Runtime (no TensorFlow at serving time)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from fashion_classifier.preprocessing import preprocess_bytes
from fashion_classifier.records import Prediction

PROBABILITIES_OUTPUT = "probabilities"
VERDICT_OUTPUT = "garment_raw"
EMBEDDING_OUTPUT = "embedding"  # unit-length penultimate features (for similar-picture search)


@dataclass(frozen=True)
class GarmentVerdict:
    """The model card's calibration of its raw garment score: score 0.5 is the threshold."""

    threshold: float
    scale: float

    @classmethod
    def from_card(cls, card: dict) -> GarmentVerdict:
        try:
            verdict = card["garment_verdict"]
            return cls(float(verdict["threshold"]), float(verdict["scale"]))
        except (KeyError, TypeError, ValueError):
            raise ModelNotFound(
                "the model has a garment score but its card gives no calibration "
                "('garment_verdict'); keep the .json card beside the .onnx file"
            ) from None

    def garment_score(self, raw: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(np.asarray(raw, dtype=np.float64) - self.threshold) / self.scale))


class ModelNotFound(FileNotFoundError):
    """The .onnx file is missing; the message says how to get one."""


class NoEmbedding(RuntimeError):
    """The model has no embedding output, so it cannot find similar pictures."""


class Classifier:
    """Predicts garment classes from preprocessed (n, 28, 28, 1) float32 batches."""

    def __init__(self, session: ort.InferenceSession, *, version: str, card: dict) -> None:
        self._session = session
        self.input_name = session.get_inputs()[0].name
        self.version = version
        self.card = card
        # Versions made by `learn` change the class head only: they embed as their parent did.
        self.embedding_version = str(card.get("embedding_version", version))
        outputs = [output.name for output in session.get_outputs()]
        # Older models have one output, the probabilities, and give no verdict.
        probabilities = PROBABILITIES_OUTPUT if PROBABILITIES_OUTPUT in outputs else outputs[0]
        self._verdict = GarmentVerdict.from_card(card) if VERDICT_OUTPUT in outputs else None
        self._outputs = [probabilities, VERDICT_OUTPUT] if self._verdict else [probabilities]
        self.has_embedding = EMBEDDING_OUTPUT in outputs
        # Fetching the embedding costs nothing more: the network computes it on the way anyway.
        self._all_outputs = [*self._outputs, EMBEDDING_OUTPUT] if self.has_embedding else self._outputs

    @classmethod
    def load(cls, path: str | Path, *, threads: int = 1) -> Classifier:
        """Open the model; `threads` per call (1 suits a server with one worker per core)."""
        path = Path(path)
        if not path.is_file():
            raise ModelNotFound(
                f"no model at {path}; run `fashion-classifier train` or set MODEL_PATH to a .onnx file"
            )
        session = ort.InferenceSession(str(path), _options(threads), providers=["CPUExecutionProvider"])
        card = read_card(path)
        return cls(session, version=card.get("version", path.stem), card=card)

    @classmethod
    def from_bytes(cls, data: bytes, *, card: dict, threads: int = 1) -> Classifier:
        """A model kept in the store: its ONNX bytes and its card (which names its version)."""
        session = ort.InferenceSession(data, _options(threads), providers=["CPUExecutionProvider"])
        return cls(session, version=str(card["version"]), card=card)

    def warm_up(self) -> None:
        """One run now, so that the first request after a model switch is not the slow first run."""
        self._run(np.zeros((1, 28, 28, 1), dtype=np.float32), self._all_outputs)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """(n, 28, 28, 1) float32 -> (n, 10): the mean over each picture and its mirror image.

        Test-time flip averaging: measured +0.3 points on the test set, +1 on product photos.
        """
        return self.probabilities_and_scores(batch)[0]

    def probabilities_and_scores(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Class probabilities and garment scores (None without a verdict), in one run."""
        probabilities, scores, _ = self._run(batch, self._outputs)
        return probabilities, scores

    def _run(
        self, batch: np.ndarray, outputs: list[str]
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Probabilities, garment scores and embeddings (None when not asked for or not in the model)."""
        batch = np.asarray(batch, dtype=np.float32).reshape(-1, 28, 28, 1)
        both = np.concatenate([batch, batch[:, :, ::-1, :]])
        values = self._session.run(outputs, {self.input_name: np.ascontiguousarray(both)})
        n = len(batch)
        mean = {name: (value[:n] + value[n:]) / 2 for name, value in zip(outputs, values, strict=True)}
        probabilities = mean[outputs[0]]
        scores = None
        if self._verdict is not None and VERDICT_OUTPUT in mean:
            scores = self._verdict.garment_score(mean[VERDICT_OUTPUT])
        embeddings = None
        if EMBEDDING_OUTPUT in mean:
            # The picture and its mirror image, as for the classes; their mean made unit length again.
            norms = np.linalg.norm(mean[EMBEDDING_OUTPUT], axis=1, keepdims=True)
            embeddings = mean[EMBEDDING_OUTPUT] / np.maximum(norms, 1e-12)
        return probabilities, scores, embeddings

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """(n, 28, 28, 1) float32 -> (n, d) unit-length embeddings (similar-picture search)."""
        if not self.has_embedding:
            raise NoEmbedding(
                f"model {self.version} has no '{EMBEDDING_OUTPUT}' output: similar-picture search "
                "needs the shipped model or a newer one"
            )
        embeddings = self._run(batch, [self._outputs[0], EMBEDDING_OUTPUT])[2]
        assert embeddings is not None
        return embeddings

    def predict_and_embed(self, batch: np.ndarray) -> tuple[list[Prediction], np.ndarray | None]:
        """Predictions and embeddings (None if the model has none) from one run of the model."""
        probabilities, scores, embeddings = self._run(batch, self._all_outputs)
        return _predictions(probabilities, scores), embeddings

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
        (probs,) = self._session.run(self._outputs[:1], {self.input_name: batch})
        return np.asarray(probs)

    def predict(self, image: np.ndarray) -> Prediction:
        return self.predict_batch(image)[0]

    def predict_batch(self, batch: np.ndarray) -> list[Prediction]:
        return _predictions(*self.probabilities_and_scores(batch))

    def predict_bytes(self, data: bytes) -> Prediction:
        return self.predict(preprocess_bytes(data))


def _predictions(probabilities: np.ndarray, scores: np.ndarray | None) -> list[Prediction]:
    return [
        Prediction.from_probabilities(
            tuple(float(p) for p in row), garment_score=None if scores is None else float(scores[i])
        )
        for i, row in enumerate(probabilities)
    ]


def _options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def read_card(model_path: Path) -> dict:
    """The model card beside the model (models/x.onnx -> models/x.json), or {}."""
    card_path = model_path.with_suffix(".json")
    if not card_path.is_file():
        return {}
    card: dict = json.loads(card_path.read_text())
    return card
