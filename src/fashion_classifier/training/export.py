"""Export the Keras model to ONNX, check parity, and write the model card beside it."""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import onnxruntime
import tensorflow as tf
import tf2onnx

from fashion_classifier.evaluation import Evaluation, evaluate
from fashion_classifier.inference import Classifier
from fashion_classifier.labels import CLASSES
from fashion_classifier.training.data import FashionMNIST
from fashion_classifier.training.train import TrainConfig, TrainResult

OPSET = 17


def export_onnx(model: keras.Model, path: Path) -> Path:
    """Write the inference graph (softmax included, dropout off) as ONNX."""
    spec = (tf.TensorSpec((None, 28, 28, 1), tf.float32, name="image"),)

    @tf.function(input_signature=spec)
    def serve(image: tf.Tensor) -> tf.Tensor:
        return model(image, training=False)

    path.parent.mkdir(parents=True, exist_ok=True)
    tf2onnx.convert.from_function(serve, input_signature=spec, opset=OPSET, output_path=str(path))
    return path


def parity(model: keras.Model, classifier: Classifier, images: np.ndarray) -> dict:
    """How closely ONNX Runtime reproduces Keras on the same inputs."""
    batch = images[..., None].astype(np.float32) / 255.0
    keras_probs = model.predict(batch, batch_size=1000, verbose=0)
    onnx_probs = classifier.dataset_probabilities(images, flip=False)
    return {
        "images": len(batch),
        "top1_agreement": float(np.mean(keras_probs.argmax(1) == onnx_probs.argmax(1))),
        "max_abs_probability_difference": float(np.max(np.abs(keras_probs - onnx_probs))),
    }


def test_set_evaluation(classifier: Classifier, dataset: FashionMNIST) -> Evaluation:
    probs = classifier.dataset_probabilities(dataset.test.images)
    return evaluate(probs.argmax(1), dataset.test.labels)


def write_model_card(result: TrainResult, config: TrainConfig, onnx_path: Path) -> dict:
    """models/x.onnx -> models/x.json: what the model is, how it was made, how good it is."""
    classifier = Classifier.load(onnx_path)
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    created = datetime.now(UTC)
    evaluation = test_set_evaluation(classifier, result.dataset)
    card = {
        "name": "fashion_cnn",
        "version": f"{created:%Y%m%d}-{digest[:8]}",
        "created": created.isoformat(timespec="seconds"),
        "onnx_sha256": digest,
        "input": {"name": "image", "shape": [None, 28, 28, 1], "range": [0, 1], "polarity": "light on black"},
        "test_time_augmentation": "mean of the picture and its left-right mirror (in Classifier)",
        "classes": list(CLASSES),
        "parameters": int(result.model.count_params()),
        "training": {
            "config": {k: v for k, v in config.__dict__.items() if k != "data_dir"},
            "seconds": round(result.seconds, 1),
            "best_epoch_on_validation": result.best_epoch,
            "history": result.history,
        },
        "test_set": evaluation.as_dict(),
        "export_parity": parity(result.model, classifier, result.dataset.test.images),
        "data_files_sha256": result.dataset.file_hashes(),
        "libraries": _versions(),
    }
    onnx_path.with_suffix(".json").write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    return card


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tf2onnx": tf2onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
    }
