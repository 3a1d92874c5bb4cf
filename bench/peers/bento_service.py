"""The same model and preprocessing served by BentoML 1.4, as its documentation sets a service up.

A class under @bentoml.service, one @bentoml.api method taking the upload as a file, one worker
per CPU core ("cpu_count", the docs' advice for CPU-bound models), started with `bentoml serve`
(production mode). No store. bench/service.py starts it from bench/.venv-peers.
"""

from __future__ import annotations

import os
from pathlib import Path

import bentoml

from fashion_classifier.inference import Classifier
from fashion_classifier.preprocessing import preprocess_bytes


@bentoml.service(workers="cpu_count", traffic={"timeout": 30})
class FashionClassifier:
    def __init__(self) -> None:
        self.classifier = Classifier.load(os.environ["MODEL_PATH"])

    @bentoml.api
    def classify(self, file: Path) -> dict:  # type: ignore[type-arg]
        prediction = self.classifier.predict(preprocess_bytes(file.read_bytes()))
        return {"label": prediction.label, "probabilities": list(prediction.probabilities)}
