"""The service over the store interface's in-memory fake: test_service.py, test_similar_service.py.

Files that test real stores define a `store` fixture of their own, which takes precedence here.
"""

from __future__ import annotations

import pytest

from fashion_classifier.inference import Classifier
from fashion_classifier.service import PredictionService
from tests.fakes import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def service(classifier: Classifier, store: MemoryStore) -> PredictionService:
    return PredictionService(classifier, store)
