"""fashion-classifier: garment classes for pictures of clothing (Fashion-MNIST's ten)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fashion_classifier.inference import Classifier
from fashion_classifier.labels import CLASSES
from fashion_classifier.records import Prediction

__version__ = "0.1.0"

__all__ = ["CLASSES", "Classifier", "Prediction", "__version__", "classify_imgpath", "predict_imgpath"]


@lru_cache(maxsize=1)
def _default_classifier() -> Classifier:
    from fashion_classifier.config import Settings

    return Classifier.load(Settings.from_env().model_path)


def predict_imgpath(path: str | Path) -> str:
    """The garment class of the picture at `path`, e.g. 'Ankle boot' (the seed's function)."""
    return classify_imgpath(path).label


def classify_imgpath(path: str | Path) -> Prediction:
    """The whole prediction for the picture at `path`: class, probabilities and garment verdict."""
    return _default_classifier().predict_bytes(Path(path).read_bytes())
