"""Fixtures shared by every suite: the shipped model and the repository's paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from fashion_classifier.config import DEFAULT_MODEL_PATH
from fashion_classifier.inference import Classifier

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def model_path() -> Path:
    assert DEFAULT_MODEL_PATH.is_file(), f"the shipped model {DEFAULT_MODEL_PATH} is missing"
    return DEFAULT_MODEL_PATH


@pytest.fixture(scope="session")
def classifier(model_path: Path) -> Classifier:
    return Classifier.load(model_path)
