"""fashion-classifier: garment classes for pictures of clothing (Fashion-MNIST's ten)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fashion_classifier.inference import Classifier
from fashion_classifier.labels import CLASSES

__version__ = "0.1.0"

__all__ = ["CLASSES", "Classifier", "__version__", "predict_imgpath"]


@lru_cache(maxsize=1)
def _default_classifier() -> Classifier:
    from fashion_classifier.config import Settings

    return Classifier.load(Settings.from_env().model_path)


def predict_imgpath(path: str | Path) -> str:
    """The garment class of the picture at `path`, e.g. 'Ankle boot' (the seed's function)."""
    return _default_classifier().predict_bytes(Path(path).read_bytes()).label
