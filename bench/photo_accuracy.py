"""Photo accuracy as the service prepares uploads, beside the full-size colour decode it replaced.

The 3,000 rendered product photos of tests/integration/test_shipped_model.py (seed 2026): JPEGs
(some EXIF-rotated), PNG cut-outs. `service` is PredictionService's own path (a plain JPEG kept
as sent and decoded grey at 1/2-1/8 scale); `full decode` is the path before that change.

    PYTHONPATH=src python bench/photo_accuracy.py
"""

from __future__ import annotations

import numpy as np

from fashion_classifier.config import Settings
from fashion_classifier.inference import Classifier
from fashion_classifier.labels import CLASSES
from fashion_classifier.preprocessing import load_image, to_model_input
from fashion_classifier.service import PredictionService, Upload
from fashion_classifier.training import data, photos


def main() -> None:
    classifier = Classifier.load(Settings.from_env().model_path)
    service = PredictionService(classifier, store=None)  # type: ignore[arg-type]  (nothing is stored)
    test = data.load().test
    rendered = photos.render_set(test.images, test.labels, count=3000, seed=2026)
    paths = {
        "full decode": lambda raw: to_model_input(load_image(raw, min_side=1024).image),
        "service": lambda raw: service._prepare(Upload("photo", raw)).model_input,
    }
    for name, prepare in paths.items():
        batch = np.concatenate([prepare(p.data) for p in rendered])
        labels = [prediction.label for prediction in classifier.predict_batch(batch)]
        hits = np.mean([label == CLASSES[p.label] for label, p in zip(labels, rendered, strict=True)])
        print(f"{name:12} photos top-1 {hits:.2%} ({len(rendered)} photos)")


if __name__ == "__main__":
    main()
