"""The model we ship, measured on the real test set and on product-style photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashion_classifier import predict_imgpath
from fashion_classifier.config import FLOAT_MODEL_PATH
from fashion_classifier.inference import Classifier
from fashion_classifier.labels import CLASSES
from fashion_classifier.training import photos
from tests.pictures import fmnist_test

pytestmark = pytest.mark.slow


def test_test_set_accuracy_through_predict_imgpath_on_png_files(tmp_path: Path) -> None:
    test = fmnist_test()
    correct = 0
    for index, (image, label) in enumerate(zip(test.images, test.labels, strict=True)):
        path = tmp_path / f"{index}.png"
        Image.fromarray(image).save(path)
        answer = predict_imgpath(path)
        assert answer in CLASSES
        correct += answer == CLASSES[label]
    accuracy = correct / len(test.labels)
    print(f"test-set top-1 through predict_imgpath: {accuracy:.2%}")
    assert accuracy >= 0.94


def test_accuracy_on_rendered_product_photos(classifier: Classifier) -> None:
    # 3,000 photos: the estimate's standard error is about 0.5 points; 1,500 photos of one seed
    # gave 89.9% where other seeds gave 91-92%, too noisy to hold a 90% bar against.
    test = fmnist_test()
    rendered = photos.render_set(test.images, test.labels, count=3000, seed=2026)
    hits = [classifier.predict_bytes(p.data).label == CLASSES[p.label] for p in rendered]
    by_kind = {
        kind: f"{np.mean([h for h, p in zip(hits, rendered, strict=True) if p.kind == kind]):.1%}"
        for kind in sorted({p.kind for p in rendered})
    }
    print(f"photos top-1: {np.mean(hits):.2%} by kind {by_kind}")
    assert np.mean(hits) >= 0.90


def test_model_cards_tell_the_truth(model_path: Path, classifier: Classifier) -> None:
    test = fmnist_test()
    served = classifier.dataset_probabilities(test.images)
    card = json.loads(model_path.with_suffix(".json").read_text())
    assert abs(card["test_set"]["accuracy"] - float(np.mean(served.argmax(1) == test.labels))) < 1e-9
    assert card["classes"] == list(CLASSES)
    assert card["version"] == classifier.version

    # The served model is the int8 quantisation of the float model exported from Keras.
    float_classifier = Classifier.load(FLOAT_MODEL_PATH)
    float_card = json.loads(FLOAT_MODEL_PATH.with_suffix(".json").read_text())
    float_probs = float_classifier.dataset_probabilities(test.images)
    assert (
        abs(float_card["test_set"]["accuracy"] - float(np.mean(float_probs.argmax(1) == test.labels))) < 1e-9
    )
    assert float_card["export_parity"]["top1_agreement"] == 1.0
    assert float_card["export_parity"]["max_abs_probability_difference"] < 1e-4
    agreement = float(np.mean(float_probs.argmax(1) == served.argmax(1)))
    assert card["quantization"]["float_model"]["version"] == float_classifier.version
    assert abs(card["quantization"]["top1_agreement_with_float"] - agreement) < 1e-9
    assert agreement >= 0.99
